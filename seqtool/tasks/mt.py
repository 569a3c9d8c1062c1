"""Machine translation: train a translator, translate text, score translations.

Like :mod:`seqtool.tasks.lm`, this module only wires parts together: :class:`MTTask` plugs the
corpus reader, one sentencepiece model per side, the encoded-corpus batches and a translator from
the model zoo into the task driver (:mod:`seqtool.tasks.driver`); translation goes through
:mod:`seqtool.decoding`. The command-line policy lives here too: which options make which
architecture's config and the sample data used when no files are given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtool.data.batch import Batch
from seqtool.data.batching import EncodedCorpus, EncodeStats, batches_from_texts, collate, encode_corpus
from seqtool.data.corpus import check_file, check_parallel, read_lines, read_parallel
from seqtool.data.mix import CorpusMix, weighted_batches
from seqtool.data.search import Hypothesis, SearchOptions, Translation, search_options, translate_in_batches
from seqtool.data.text import check_segment, choose_segment, is_cjk_language
from seqtool.data.tokenizers import TOKENIZER_KINDS, Tokenizer, load_tokenizer, train_tokenizer
from seqtool.decoding import get_strategy
from seqtool.errors import DataError, OptionError, as_option, settings_as_options
from seqtool.files import sample_data_dir
from seqtool.metrics import LEGACY_CHOICE, TokenizeChoice, bleu_only, choose_tokenize, recorded_tokenize
from seqtool.models.base import SequenceModel
from seqtool.models.seq2seq import TRANSLATOR_ARCHS, build_translator, translator_config
from seqtool.store.weights import load_model_weights
from seqtool.store.workspace import ModelDir, Workspace, config_section
from seqtool.tasks.driver import Batching, Progress, Task, status, train_task
from seqtool.training.config import MIN_EPOCH_BATCHES, Objective, TrainConfig, TrainResult, describe
from seqtool.training.criterion import scored_tokens
from seqtool.training.device import resolve_device


@dataclass
class MTDataConfig:
    """Languages, tokenization and length limits (the "data" settings of a translator)."""

    src_lang: str = "en"
    tgt_lang: str = "ja"
    tokenizer: str = "unigram"  # unigram | bpe | word, or one per side: "SRC,TGT" (e.g. "unigram,word")
    src_vocab: int = 8000
    tgt_vocab: int = 8000
    # auto | none | mecab: split a Japanese side into words with MeCab before sentencepiece; auto does it
    # for a target written without spaces (a raw corpus), none never (docs/data-prepare.md)
    segment: str = "auto"
    max_len: int = 100  # training pairs longer than this (in tokens, either side) are skipped and counted


DEFAULT_ARCH = "transformer"


def mt_data_config(**options: Any) -> MTDataConfig:
    """The data settings from command-line options (None: the library default)."""
    return MTDataConfig(**{k: v for k, v in options.items() if v is not None})


def mt_model_values(arch: str | None, **options: Any) -> dict[str, Any]:
    """The "model" config entries of ``arch`` from train-mt's options (None: not given, the
    architecture's default). Each architecture maps its settings to options (seqtool.models.seq2seq:
    a Transformer's width is --emb-dim, --layers counts encoder and decoder layers each and
    --decoder-layers overrides the decoder's)."""
    arch = arch or DEFAULT_ARCH
    cls, setting_options = TRANSLATOR_ARCHS.get(arch) or (None, {})
    if cls is None:
        options_config(arch, {})  # the "--arch must be one of" error
    by_option = {opt: key for key, opt in setting_options.items()}
    values = {}
    for name, value in options.items():
        if value is None:
            continue
        if name not in by_option:
            raise OptionError(f"{as_option(name)} is not an option of --arch {arch} (it takes "
                              f"{', '.join(map(as_option, setting_options.values()))})")  # fmt: skip
        values[by_option[name]] = value
    for key, source in getattr(cls, "follows", {}).items():  # e.g. decoder_layers follows --layers
        if source in values:
            values.setdefault(key, values[source])
    return values


def options_config(arch: str, values: dict[str, Any]) -> Any:
    """:func:`translator_config` of values that train-mt's options gave: errors name those options (a
    Transformer's ``dim`` is ``--emb-dim``)."""
    options = (TRANSLATOR_ARCHS.get(arch) or (None, {}))[1]
    with settings_as_options(lambda key: as_option(options.get(key, key))):
        return translator_config(arch, values)


_MODEL_OPTIONS = ("emb_dim", "hidden", "dropout", "attention", "bidirectional", "layers", "decoder_layers", "heads",
                  "ff_dim", "attention_dropout", "activation_dropout", "source_word_dropout")  # fmt: skip
_TRAIN_OPTIONS = {"epochs": "epochs", "max_minutes": "max_minutes", "batch_size": "batch_tokens", "lr": "lr",
                  "warmup": "warmup", "label_smoothing": "label_smoothing", "patience": "patience",
                  "average_last": "average_last", "precision": "precision", "seed": "seed", "schedule": "schedule",
                  "optimizer": "optimizer", "weight_decay": "weight_decay", "ema": "ema"}  # fmt: skip
_DATA_OPTIONS = ("src_lang", "tgt_lang", "tokenizer", "src_vocab", "tgt_vocab", "segment", "max_len")
# Every option of train-mt that shapes the run (what `seqtool train mt --set KEY=VALUE` accepts).
MT_OPTIONS = ("src", "tgt", "mix", "dev_src", "dev_tgt", "arch", *_MODEL_OPTIONS, *_TRAIN_OPTIONS, *_DATA_OPTIONS)


@dataclass
class MTRecipe:
    """Everything train-mt's options decide about a translator: its architecture and configs."""

    arch: str
    model_values: dict[str, Any]
    train_cfg: TrainConfig
    data_cfg: MTDataConfig


def mt_recipe(options: dict[str, Any]) -> MTRecipe:
    """The recipe from train-mt's options by name (None or absent: the default; other keys are ignored)."""
    arch = options.get("arch") or DEFAULT_ARCH
    model_values = mt_model_values(arch, **{k: options.get(k) for k in _MODEL_OPTIONS})
    train_cfg = mt_train_config(arch, **{key: options.get(opt) for opt, key in _TRAIN_OPTIONS.items()})
    train_cfg.validate()
    data_cfg = mt_data_config(**{k: options.get(k) for k in _DATA_OPTIONS})
    return MTRecipe(arch, model_values, train_cfg, data_cfg)


def default_mt_data(
    src: Path | None, tgt: Path | None, dev_src: Path | None, dev_tgt: Path | None, src_lang: str, tgt_lang: str
) -> tuple[Path, Path, Path, Path]:
    """Training and dev files, the sample data where not given: English -> Japanese, or the other
    way round when the languages are ja -> en and no training files are given."""
    if (dev_src is None) != (dev_tgt is None):
        raise OptionError("give both --dev-src and --dev-tgt, or neither")
    sample = sample_data_dir() / "enja"
    s, t = ("ja", "en") if src is None and tgt is None and (src_lang, tgt_lang) == ("ja", "en") else ("en", "ja")
    return (src or sample / f"train.{s}", tgt or sample / f"train.{t}", dev_src or sample / f"dev.{s}",
            dev_tgt or sample / f"dev.{t}")  # fmt: skip


def default_mt_name(data_cfg: MTDataConfig, arch: str | None) -> str:
    """The model name when none is given (numbered by the caller if taken)."""
    return f"{data_cfg.src_lang}-{data_cfg.tgt_lang}-{arch or DEFAULT_ARCH}"


# The default recipe of each architecture's ``recipe`` (seqtool.models.seq2seq): the best found on
# small_parallel_enja dev (docs/benchmarks.md).
MT_RECIPES: dict[str, dict[str, Any]] = {
    # lr 2e-3: dev BLEU +1.24 and +1.95 over 1e-3 at 60 reference minutes (seeds 1, 2; docs/benchmarks.md)
    "transformer": dict(lr=2e-3, schedule="inverse_sqrt", warmup=400, label_smoothing=0.1, batch_tokens=4096,
                        patience=8, average_last=5, epochs=100),
    "recurrent": dict(lr=1e-3, schedule="plateau", plateau_factor=0.5, label_smoothing=0.1, batch_tokens=4096,
                      patience=4, epochs=30),
}  # fmt: skip


def mt_train_config(arch: str | None, **overrides: Any) -> TrainConfig:
    """The default recipe of ``arch`` (:data:`MT_RECIPES`) with the given ``overrides`` (None: default) on top."""
    cls = TRANSLATOR_ARCHS.get(arch or DEFAULT_ARCH, (None, {}))[0]
    base = dict(MT_RECIPES[getattr(cls, "recipe", "transformer")])
    given = {k: v for k, v in overrides.items() if v is not None}
    # A small corpus gets smaller batches (at least MIN_EPOCH_BATCHES an epoch), unless --batch-size is given.
    base["min_epoch_batches"] = 0 if "batch_tokens" in given else MIN_EPOCH_BATCHES
    base.update(given)
    return TrainConfig(**base)


def side_kinds(data_cfg: MTDataConfig) -> tuple[str, str]:
    """The source's and the target's tokenizer kinds from ``tokenizer`` ("word" or "unigram,word")."""
    kinds = [k.strip() for k in data_cfg.tokenizer.split(",")]
    if len(kinds) not in (1, 2) or any(k not in TOKENIZER_KINDS for k in kinds):
        raise OptionError(f"--tokenizer must be one of {', '.join(TOKENIZER_KINDS)}, or two of them as "
                          f"SOURCE,TARGET (e.g. unigram,word), got {data_cfg.tokenizer!r}")  # fmt: skip
    src_kind, tgt_kind = kinds * 2 if len(kinds) == 1 else kinds
    if src_kind == "word" and is_cjk_language(data_cfg.src_lang):  # see side_tokenizer
        raise OptionError(f"a word tokenizer needs spaces between words, but a {data_cfg.src_lang} source is read "
                          f"without them (so that typed text such as 私は泳げない。 works): give the source "
                          f"unigram or bpe (--tokenizer unigram,{tgt_kind})")  # fmt: skip
    return src_kind, tgt_kind


def side_tokenizer(
    lines: Any, kind: str, lang: str, vocab: int, is_source: bool, threads: int, segment: str = "none"
) -> Tokenizer:
    """A tokenizer for one side. A source language written without spaces drops the corpus's
    word-separating spaces, so raw input (私は泳げない。) and segmented text map to the same
    pieces; a target keeps them, so output can be printed in the corpus segmentation. ``segment``:
    the word segmenter applied first (:func:`~seqtool.data.text.choose_segment`)."""
    strip = is_source and is_cjk_language(lang)
    return train_tokenizer(lines, kind, vocab_size=vocab, lang=lang, strip_spaces=strip, segment=segment,
                           threads=threads)  # fmt: skip


def model_dev_files(config: dict[str, Any], src: Path | None = None, ref: Path | None = None) -> tuple[Path, Path]:
    """A translator's dev source and references: the ones given, else those it was trained with."""
    data = config["data"]
    return src or Path(data["dev_src"]), ref or Path(data["dev_tgt"])


def read_dev(src: Path, tgt: Path) -> tuple[list[str], list[str]]:
    check_parallel(src, tgt)
    pairs = [(s, t) for _, s, t in read_parallel(src, tgt) if s.strip() and t.strip()]
    if not pairs:
        raise DataError(f"{src}: no non-empty dev pairs")
    return [s for s, _ in pairs], [t for _, t in pairs]


class MTTask(Task):
    """Translation on a line-aligned parallel corpus; the best epoch by dev BLEU (greedy)."""

    kind = "mt"
    objective = Objective("dev_bleu", True)
    sides = 2

    def __init__(self, files: tuple[Path, Path, Path, Path], arch: str, model_values: dict[str, Any],
                 data_cfg: MTDataConfig, mix: CorpusMix | None = None) -> None:  # fmt: skip
        self.src, self.tgt, self.dev_src, self.dev_tgt = files
        self.mix = mix or CorpusMix.single(self.src, self.tgt)  # --mix FILE: several corpora, weighted
        self.kept_parts: list[int] = []  # pairs each corpus of the mix kept (encoding)
        self.arch, self.model_values, self.data_cfg = arch, model_values, data_cfg
        self.n_pairs = 0
        self.dev_sources: list[str] = []
        self.dev_refs: list[str] = []
        self.bleu_tokenize: TokenizeChoice = LEGACY_CHOICE  # chosen once per run (setup), kept on resume
        self.model_cfg: Any = None
        self.toks: tuple[Tokenizer, Tokenizer] | None = None

    def check(self) -> None:
        for p in (self.dev_src, self.dev_tgt):
            check_file(p)
        self.n_pairs = sum(self.mix.check())
        self.model_cfg = options_config(self.arch, self.model_values)
        if self.data_cfg.max_len <= 0:
            raise OptionError(f"--max-len must be > 0, got {self.data_cfg.max_len}")
        side_kinds(self.data_cfg)
        check_segment(self.data_cfg.segment)
        self.dev_sources, self.dev_refs = read_dev(self.dev_src, self.dev_tgt)

    def setup(self, md: ModelDir, progress: Progress, threads: int) -> dict[str, Any]:
        d = self.data_cfg
        src_kind, tgt_kind = side_kinds(d)
        if self.mix.path is None:
            status(progress, f"training a {src_kind} tokenizer on {self.src} and a {tgt_kind} one on {self.tgt}")
        else:
            status(progress, f"training a {src_kind} and a {tgt_kind} tokenizer on the {len(self.mix.parts)} "
                   f"corpora of {self.mix.path}")  # fmt: skip
        langs = d.src_lang, d.tgt_lang
        segments = [
            choose_segment(d.segment, lang, self.mix.lines(side), target=side == 1) for side, lang in enumerate(langs)
        ]
        for side, (_, why) in zip(("source", "target"), segments, strict=True):
            if why:
                status(progress, f"Japanese {side}: {why}")
        src_tok = side_tokenizer(self.mix.lines(0), src_kind, d.src_lang, d.src_vocab, True, threads, segments[0][0])
        tgt_tok = side_tokenizer(self.mix.lines(1), tgt_kind, d.tgt_lang, d.tgt_vocab, False, threads, segments[1][0])
        self.toks = src_tok, tgt_tok
        values = {**self.model_values, "src_vocab": src_tok.vocab_size, "tgt_vocab": tgt_tok.vocab_size}
        self.model_cfg = options_config(self.arch, values)
        # Dev BLEU's tokenizer, chosen once from the dev references and recorded: a resumed run keeps it.
        self.bleu_tokenize = choose_tokenize(self.dev_refs, d.tgt_lang)
        status(progress, f"dev BLEU: {self.bleu_tokenize.reason}")
        return {
            "arch": self.model_cfg.describe(), "model_arch": self.arch, "src_lang": d.src_lang,
            "tgt_lang": d.tgt_lang, "model": describe(self.model_cfg), "data_config": describe(d),
            "tokenizers": {"src": src_tok.save(md.path, "src"), "tgt": tgt_tok.save(md.path, "tgt")},
            "bleu_tokenize": self.bleu_tokenize.as_dict(),
            "data": {"dev": f"{self.dev_src} {self.dev_tgt}", "dev_src": str(self.dev_src),
                     "dev_tgt": str(self.dev_tgt), **self._train_entries()},
        }  # fmt: skip

    def _train_entries(self) -> dict[str, Any]:
        if self.mix.path is None:
            return {"train": f"{self.src} {self.tgt}", "train_src": str(self.src), "train_tgt": str(self.tgt)}
        return {"train": str(self.mix.path), "mix": self.mix.describe()}

    def restore(self, md: ModelDir, cfg: dict[str, Any]) -> None:
        self.arch = cfg["model_arch"]
        self.model_cfg = translator_config(self.arch, config_section(cfg, "model", md))
        tokenizers = config_section(cfg, "tokenizers", md)
        self.toks = load_tokenizer(md.path, tokenizers["src"]), load_tokenizer(md.path, tokenizers["tgt"])
        self.bleu_tokenize = recorded_tokenize(cfg.get("bleu_tokenize")) or LEGACY_CHOICE

    def encode(self, cache: Path, progress: Progress) -> tuple[list[EncodedCorpus], EncodeStats]:
        assert self.toks is not None
        status(progress, f"encoding {self.n_pairs:,} sentence pairs")
        return encode_corpus(self.mix.side_paths(), list(self.toks), cache, max_len=self.data_cfg.max_len)

    def data_entries(self, stats: EncodeStats, progress: Progress) -> dict[str, Any]:
        if stats.kept == 0:
            raise DataError(f"{self.src}: no usable sentence pairs (empty: {stats.empty}, too long: {stats.too_long})")
        if stats.empty or stats.too_long:
            status(progress, f"skipped {stats.empty} pairs with an empty side and {stats.too_long} longer than "
                   f"{self.data_cfg.max_len} tokens")  # fmt: skip
        self.kept_parts = stats.parts
        mix = {"mix": self.mix.describe(stats.parts)} if self.mix.path is not None else {}
        return {"pairs": stats.kept, "skipped_empty": stats.empty, "skipped_too_long": stats.too_long, **mix}

    def batching(self, corpus: Any, model: SequenceModel, cfg: TrainConfig, dist: Any, config: dict[str, Any]
                 ) -> Batching:  # fmt: skip
        """A weighted mix draws each epoch's pairs by the weights (:func:`seqtool.data.mix.weighted_batches`)."""
        if not self.mix.weighted:
            return super().batching(corpus, model, cfg, dist, config)
        lengths = self.lengths(corpus)
        tokens, weights = self.batch_tokens(cfg, lengths, config), [p.weight for p in self.mix.parts]
        return Batching(lambda epoch: weighted_batches(lengths, self.kept_parts, weights, tokens, cfg.seed, epoch),
                        lambda idx: self.make_batch(corpus, idx))  # fmt: skip

    def build_model(self) -> SequenceModel:
        return build_translator(self.model_cfg)

    def batch_tokens(self, cfg: TrainConfig, lengths: np.ndarray, config: dict[str, Any]) -> int:
        """A small corpus gets smaller batches, ``min_epoch_batches`` an epoch (TrainConfig.epoch_batch_tokens):
        its limit is the number of updates (issue 30: 8 epochs of the 1,274 sample pairs are 64 updates in
        4,096-token batches, dev BLEU 0.8; 264 in 845-token ones, 89-95). small_parallel_enja is unaffected."""
        tokens = cfg.epoch_batch_tokens(int(lengths.sum()))
        if tokens != cfg.batch_tokens:
            config["batch_tokens_used"] = tokens
        return tokens

    def lengths(self, corpus: list[EncodedCorpus]) -> np.ndarray:
        src_ids, tgt_ids = corpus
        return np.maximum(src_ids.lengths(), tgt_ids.lengths() + 1)

    def make_batch(self, corpus: list[EncodedCorpus], indices: np.ndarray) -> Batch:
        src_ids, tgt_ids = corpus
        return collate(indices, tgt_ids, src_ids)

    def evaluate(self, model: SequenceModel, device: torch.device) -> dict[str, float]:
        """Greedy dev BLEU (the objective), and the teacher-forced dev loss (per-token cross-entropy,
        no label smoothing): the trainer breaks a BLEU tie (0.00 before a model translates) with it."""
        assert self.toks is not None
        found = translate_texts(model, *self.toks, self.dev_sources, device, search=SearchOptions(strategy="greedy"))
        nll, tokens = 0.0, 0
        for _, batch in batches_from_texts(self.dev_refs, self.toks[1], 8192, self.dev_sources, self.toks[0]):
            _, gold, batch_nll = scored_tokens(model, batch.to(device))
            nll, tokens = nll + batch_nll, tokens + gold.numel()
        bleu = bleu_only([t[0].text for t in found], self.dev_refs, self.bleu_tokenize)
        return {"dev_bleu": bleu, "dev_loss": nll / max(1, tokens)}


def train_mt(
    ws: Workspace,
    name: str,
    src: Path,
    tgt: Path,
    dev_src: Path,
    dev_tgt: Path,
    arch: str,
    model_values: dict[str, Any],
    train_cfg: TrainConfig,
    data_cfg: MTDataConfig,
    *,
    device: str = "auto",
    resume: bool = False,
    threads: int = 1,
    progress: Callable[[dict[str, Any]], None] = lambda _: None,
    mix: CorpusMix | None = None,
) -> TrainResult:
    """Train (or resume) the translator ``name``; the best weights by dev BLEU are kept. ``mix``: train on
    these corpora instead of ``src``/``tgt`` (``--mix FILE``)."""
    task = MTTask((src, tgt, dev_src, dev_tgt), arch, model_values, data_cfg, mix)
    return train_task(task, ws, name, train_cfg, device=device, resume=resume, threads=threads, progress=progress)


@torch.no_grad()
def translate_texts(
    model: SequenceModel,
    src_tok: Tokenizer,
    tgt_tok: Tokenizer,
    texts: Sequence[str],
    device: torch.device,
    *,
    search: SearchOptions | None = None,
    batch_sentences: int = 64,
    join: bool = False,
    progress: Callable[[int], None] = lambda done: None,
    **loose: Any,
) -> list[list[Translation]]:
    """Translate ``texts`` (in input order) as ``search`` says (its strategy, beam, n-best...; ``loose``
    ``beam=``/``alpha=``/``nbest=`` values override it); each entry is the ``nbest`` best
    :class:`Translation`\\ s (text and hypothesis). ``join`` removes the word spaces of a language written
    without them (display); otherwise output keeps the segmentation. ``progress`` is called after every
    batch with the number of sentences translated so far."""
    options = search_options(search, **loose)
    strategy = get_strategy(options.strategy)  # an unknown name fails before any work
    model.eval()

    def run(sources: list[list[int]]) -> list[list[Hypothesis]]:
        lengths = torch.tensor([len(s) for s in sources])
        src = torch.zeros(len(sources), int(lengths.max()), dtype=torch.long)
        for r, ids in enumerate(sources):
            src[r, : len(ids)] = torch.tensor(ids)
        return strategy(model, src.to(device), lengths, options)

    encoded = src_tok.encode_batch(list(texts))
    return translate_in_batches(texts, encoded, run, tgt_tok.decode, nbest=options.nbest,
                                batch_sentences=batch_sentences, join=join, progress=progress)  # fmt: skip


@dataclass
class LoadedTranslator:
    md: ModelDir
    config: dict[str, Any]
    model: SequenceModel
    src_tok: Tokenizer
    tgt_tok: Tokenizer
    device: torch.device

    @property
    def joins_output(self) -> bool:
        return is_cjk_language(self.config.get("tgt_lang", ""))

    def translate(self, texts: Sequence[str], *, tokenized: bool = False, **kwargs: Any) -> list[list[Translation]]:
        join = self.joins_output and not tokenized
        return translate_texts(self.model, self.src_tok, self.tgt_tok, texts, self.device, join=join, **kwargs)

    def score_ids(self, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> list[list[float]]:
        """Per target, the log-probability of each token and of ``</s>`` given its source (forced decoding)."""
        from seqtool.tasks.scoring import score_ids_torch

        return score_ids_torch(self.model, self.device, sources, targets)


def load_translator(ws: Workspace, name: str | None, device: str = "auto") -> LoadedTranslator:
    md, cfg = ws.find(name, "mt", hint="train one with `seqtool train-mt` or run `seqtool demo`")
    run_device = resolve_device(device)
    model = translator_from_config(cfg, config_section(cfg, "model", md))
    toks = config_section(cfg, "tokenizers", md)
    src_tok, tgt_tok = load_tokenizer(md.path, toks["src"]), load_tokenizer(md.path, toks["tgt"])
    return LoadedTranslator(md, cfg, load_model_weights(md, model, run_device), src_tok, tgt_tok, run_device)


def translator_from_config(cfg: dict[str, Any], section: dict[str, Any] | None = None) -> SequenceModel:
    """The untrained translator a config.json describes (its "model_arch" and "model" section; the one
    place it is built)."""
    return build_translator(
        translator_config(str(cfg.get("model_arch", "")), cfg["model"] if section is None else section)
    )


def read_texts(path: Path) -> list[str]:
    return [line for _, line in read_lines(path)]
