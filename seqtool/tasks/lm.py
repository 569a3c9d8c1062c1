"""Language modelling: train, evaluate, predict the next word, generate.

:class:`LMTask` plugs the parts (corpus -> tokenizer -> encoded batches -> model -> dev scores) into
the task driver (:mod:`seqtool.tasks.driver`), which runs the :class:`~seqtool.training.trainer.Trainer`
and keeps the workspace; this module has no model code and no training loop. train-lm's option ->
config mapping (:func:`lm_recipe`), default data and default names live here too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtool.data.batch import Batch
from seqtool.data.batching import EncodedCorpus, EncodeStats, batches_from_texts, collate, encode_corpus
from seqtool.data.corpus import check_file, read_lines
from seqtool.data.specials import EOS
from seqtool.data.streams import StreamBatches
from seqtool.data.tokenizers import Tokenizer, load_tokenizer, train_tokenizer
from seqtool.decoding import feed_prompt, sample
from seqtool.errors import DataError, OptionError, settings_as_options
from seqtool.files import sample_data_dir
from seqtool.metrics import perplexity, word_count
from seqtool.models.base import SequenceModel
from seqtool.models.lm import LMConfig, build_lm, lm_config
from seqtool.models.lm_config import cell_settings
from seqtool.plugins import load_plugins
from seqtool.store.workspace import ModelDir, Workspace, config_section
from seqtool.tasks.driver import Batching, LoadedModel, Progress, Task, load_model, status, train_task
from seqtool.training.config import Objective, TrainConfig, TrainResult, describe
from seqtool.training.criterion import scored_tokens


@dataclass
class TokenizerConfig:
    """How a model's text is cut into tokens (the "tokenizer" section of config.json)."""

    kind: str = "word"  # word | unigram | bpe
    vocab_size: int = 32000  # upper bound; word vocabularies keep every word seen min_count times
    min_count: int = 1  # word tokenizer: rarer words become <unk>
    lang: str = "en"  # "en" turns raw English into the corpus convention


# The recurrent LMs' recipe (issue 13, docs/benchmarks.md): the corpus as 20 parallel streams read in
# windows of 35 tokens with the state carried across windows (truncated BPTT), plain SGD at a high rate with
# tight gradient clipping (Zaremba et al. 2014; the PyTorch word_language_model example), decayed linearly
# to zero when the budget (--max-minutes or --epochs) runs out. The rate is the cell's ``sgd_lr``.
STREAM_SGD_RECIPE = dict(batching="stream", bptt=35, batch_tokens=700, optimizer="sgd", clip_norm=0.25,
                         schedule="linear", warmup=0, patience=3)  # fmt: skip
# Every other LM (Transformer, WaveNet, VAE, window models) and any recurrent LM trained with Adam: small
# sentence batches, Adam 3e-3, the rate divided on plateaus. Small batches: on small_parallel_enja's train.en
# one epoch with 4,096-token sentence batches reached dev perplexity 142, with 1,024 tokens 59.
ADAM_RECIPE = dict(lr=3e-3, schedule="plateau", plateau_factor=0.25, patience=3, batch_tokens=1024, clip_norm=0.5)
# A cell's ``recipe`` (seqtool.models.lm_config) names its default: "adam_linear" decays linearly to 0 over the
# budget instead (the Transformer LM: dev perplexity 18.03 against 21.64 with plateau, docs/benchmarks.md).
RECIPES: dict[str, dict[str, Any]] = {"stream_sgd": STREAM_SGD_RECIPE, "adam": ADAM_RECIPE,
                                      "adam_linear": {**ADAM_RECIPE, "schedule": "linear"}}  # fmt: skip


def lm_train_config(model: LMConfig | None = None, **overrides: Any) -> TrainConfig:
    """Defaults of `seqtool train-lm` for ``model`` (None: the Adam recipe), ``overrides`` (None: default) on top."""
    given = {k: v for k, v in overrides.items() if v is not None}
    recipe = model.train_recipe(given.get("optimizer")) if model is not None else "adam"
    base: dict[str, Any] = dict(RECIPES[recipe])
    base.setdefault("lr", getattr(model, "sgd_lr", None))  # the stream recipe's rate is the cell's
    base.update(given)
    return TrainConfig(**base)


def lm_model_config(**options: Any) -> LMConfig:
    """The validated model config from command-line options (None: the library default); errors name the
    options (``--emb-dim``), not the settings."""
    with settings_as_options():
        return lm_config({k: v for k, v in options.items() if v is not None}, given=True)


def tokenizer_config(**options: Any) -> TokenizerConfig:
    return TokenizerConfig(**{k: v for k, v in options.items() if v is not None})


_TRAIN_OPTIONS = {"epochs": "epochs", "max_minutes": "max_minutes", "batch_size": "batch_tokens", "lr": "lr",
                  "patience": "patience", "precision": "precision", "seed": "seed", "schedule": "schedule",
                  "warmup": "warmup", "optimizer": "optimizer", "clip_norm": "clip_norm", "batching": "batching",
                  "bptt": "bptt", "bptt_jitter": "bptt_jitter"}  # fmt: skip
_TOKENIZER_OPTIONS = {"tokenizer": "kind", "vocab_size": "vocab_size", "min_count": "min_count", "lang": "lang"}


def lm_options() -> tuple[str, ...]:
    """Every option of train-lm that shapes the run (what `seqtool train lm --set KEY=VALUE` accepts): the
    settings of every registered cell (a plugin's too; vocab_size is the tokenizer's), training, tokenizer."""
    return ("train", "dev", *_model_options(), *_TRAIN_OPTIONS, *_TOKENIZER_OPTIONS)


def _model_options() -> list[str]:
    load_plugins()  # a plugin's cell brings its own settings
    return sorted(cell_settings() - {"vocab_size"})


@dataclass
class LMRecipe:
    """Everything train-lm's options decide about a language model."""

    model_cfg: LMConfig
    train_cfg: TrainConfig
    tok_cfg: TokenizerConfig


def lm_recipe(options: dict[str, Any]) -> LMRecipe:
    """The validated configs from train-lm's options by name (None or absent: the default; other keys ignored)."""
    model_cfg = lm_model_config(**{k: options.get(k) for k in _model_options()})
    train_cfg = lm_train_config(model_cfg, **{key: options.get(opt) for opt, key in _TRAIN_OPTIONS.items()})
    train_cfg.validate()
    tok_cfg = tokenizer_config(**{key: options.get(opt) for opt, key in _TOKENIZER_OPTIONS.items()})
    return LMRecipe(model_cfg, train_cfg, tok_cfg)


def default_lm_name(cfg: LMConfig) -> str:
    """The model name when none is given (numbered by the caller if taken): ``<cell>-lm`` or ``<cell>-window``."""
    return cfg.default_name()


def default_lm_data(train: Path | None, dev: Path | None) -> tuple[Path, Path]:
    """Training and dev text, the sample data's English side where not given."""
    sample = sample_data_dir() / "enja"
    return train or sample / "train.en", dev or sample / "dev.en"


def dev_lines(path: Path) -> list[str]:
    """A dev/evaluation file in memory (dev sets are small), empty lines dropped."""
    lines = [line for _, line in read_lines(path) if line.strip()]
    if not lines:
        raise DataError(f"{path}: no non-empty lines to evaluate on")
    return lines


@torch.no_grad()
def score_lines(
    model: SequenceModel, tokenizer: Tokenizer, lines: list[str], device: torch.device, max_tokens: int = 8192
) -> dict[str, float]:
    """Per-word perplexity and next-token top-1/top-5 accuracy of ``model`` on ``lines``."""
    model.eval()
    nll, tokens, top1, top5 = 0.0, 0, 0, 0
    extras: dict[str, float] = {}
    for _, batch in batches_from_texts(lines, tokenizer, max_tokens):
        batch = batch.to(device)
        logits, gold, batch_nll = scored_tokens(model, batch)  # a VAE's: its KL included (the ELBO bound)
        nll += batch_nll
        for key, value in model.auxiliary_metrics().items():
            extras[key] = extras.get(key, 0.0) + value
        best5 = logits.topk(min(5, logits.shape[-1]), dim=-1).indices
        top1 += int((best5[:, 0] == gold).sum())
        top5 += int((best5 == gold[:, None]).any(dim=-1).sum())
        tokens += len(gold)
    words = sum(word_count(tokenizer.prepare(line)) for line in lines)
    return {
        "dev_loss": nll / max(1, tokens),
        "dev_ppl": perplexity(nll, words),
        "top1": top1 / max(1, tokens),
        "top5": top5 / max(1, tokens),
        **{f"dev_{key}": value / len(lines) for key, value in extras.items()},  # per sentence
    }


class LMTask(Task):
    """Language modelling on one text file: next-token prediction, best epoch by dev perplexity."""

    kind = "lm"
    objective = Objective("dev_ppl", False)

    def __init__(self, train_path: Path, dev_path: Path, model_cfg: LMConfig, tok_cfg: TokenizerConfig) -> None:
        self.train_path, self.dev_path, self.model_cfg, self.tok_cfg = train_path, dev_path, model_cfg, tok_cfg
        self.dev: list[str] = []
        self.tokenizer: Tokenizer | None = None

    def check(self) -> None:
        check_file(self.train_path)
        check_file(self.dev_path)
        with settings_as_options():
            self.model_cfg.validate()
        self.dev = dev_lines(self.dev_path)

    def setup(self, md: ModelDir, progress: Progress, threads: int) -> dict[str, Any]:
        tok = self.tok_cfg
        status(progress, f"training a {tok.kind} tokenizer on {self.train_path}")
        self.tokenizer = train_tokenizer(
            (line for _, line in read_lines(self.train_path)), tok.kind, vocab_size=tok.vocab_size,
            min_count=tok.min_count, lang=tok.lang, threads=threads,
        )  # fmt: skip
        tok_entry = self.tokenizer.save(md.path, "tokenizer")
        self.model_cfg.vocab_size = self.tokenizer.vocab_size
        return {
            "arch": self.model_cfg.arch_name(), "data": {"train": str(self.train_path), "dev": str(self.dev_path)},
            "model": describe(self.model_cfg), "tokenizer": {**tok_entry, "lang": tok.lang, "min_count": tok.min_count},
        }  # fmt: skip

    def restore(self, md: ModelDir, cfg: dict[str, Any]) -> None:
        self.model_cfg = lm_config(config_section(cfg, "model", md))
        self.tokenizer = load_tokenizer(md.path, config_section(cfg, "tokenizer", md))

    def encode(self, cache: Path, progress: Progress) -> tuple[list[EncodedCorpus], EncodeStats]:
        assert self.tokenizer is not None
        status(progress, f"encoding {self.train_path}")
        return encode_corpus([[self.train_path]], [self.tokenizer], cache)

    def data_entries(self, stats: EncodeStats, progress: Progress) -> dict[str, Any]:
        if stats.kept == 0:
            raise DataError(f"{self.train_path}: no non-empty lines to train on")
        return {"train_sentences": stats.kept, "skipped_empty": stats.empty}

    def build_model(self) -> SequenceModel:
        return build_lm(self.model_cfg)

    def lengths(self, corpus: list[EncodedCorpus]) -> np.ndarray:
        return corpus[0].lengths() + 1

    def make_batch(self, corpus: list[EncodedCorpus], indices: np.ndarray) -> Batch:
        return collate(indices, corpus[0])

    def evaluate(self, model: SequenceModel, device: torch.device) -> dict[str, float]:
        assert self.tokenizer is not None
        return score_lines(model, self.tokenizer, self.dev, device)

    def batching(self, corpus: list[EncodedCorpus], model: SequenceModel, cfg: TrainConfig, dist: Any,
                 config: dict[str, Any]) -> Batching:  # fmt: skip
        """Sentence batches, or truncated BPTT over parallel streams (seqtool.data.streams) with --batching stream."""
        if not _uses_streams(cfg, model, config):
            return super().batching(corpus, model, cfg, dist, config)
        rows = max(1, cfg.batch_tokens // cfg.bptt) * dist.world_size  # --batch-size is per process
        streams = StreamBatches(corpus[0], rows, cfg.bptt, cfg.seed, cfg.bptt_jitter, dist.rank, dist.world_size)
        return Batching(streams.windows, streams.batch, shard=False)


def _uses_streams(train_cfg: TrainConfig, model: SequenceModel, cfg: dict[str, Any]) -> bool:
    """Resolve --batching auto (stream where the model can carry its state) and record it in the config."""
    if train_cfg.batching == "auto":
        train_cfg.batching = "stream" if model.carries_state else "sentences"
    if train_cfg.batching == "stream" and not model.carries_state:
        raise OptionError("--batching stream needs a recurrent causal LM (--cell rnn, lstm or gru without --context)")
    cfg["train_config"]["batching"] = train_cfg.batching
    return train_cfg.batching == "stream"


def train_lm(
    ws: Workspace,
    name: str,
    train_path: Path,
    dev_path: Path,
    model_cfg: LMConfig,
    train_cfg: TrainConfig,
    tok_cfg: TokenizerConfig,
    *,
    device: str = "auto",
    resume: bool = False,
    threads: int = 1,
    progress: Callable[[dict[str, Any]], None] = lambda _: None,
) -> TrainResult:
    """Train (or resume) the language model ``name`` in ``ws``; returns the training summary."""
    task = LMTask(train_path, dev_path, model_cfg, tok_cfg)
    return train_task(task, ws, name, train_cfg, device=device, resume=resume, threads=threads, progress=progress)


LoadedLM = LoadedModel


def load_lm(ws: Workspace, name: str | None, device: str = "auto") -> LoadedLM:
    hint = "train one with `seqtool train-lm` or run `seqtool demo`"
    return load_model(ws, name, "lm", hint, lm_from_config, device)


def lm_from_config(section: dict[str, Any]) -> SequenceModel:
    """The untrained language model a config.json "model" section describes (the one place it is built)."""
    return build_lm(lm_config(section))


def evaluate_lm(lm: LoadedLM, data: Path | None) -> dict[str, Any]:
    path = data or Path(lm.config["data"]["dev"])
    scores = score_lines(lm.model, lm.tokenizer, dev_lines(path), lm.device)
    return {"model": lm.md.name, "data": str(path), "perplexity": scores["dev_ppl"], **scores}


def _prompt_tensor(lm: LoadedLM, text: str) -> torch.Tensor:
    return torch.tensor([lm.tokenizer.encode(text)], dtype=torch.long, device=lm.device)


@torch.no_grad()
def predict_next(lm: LoadedLM, text: str, top: int = 5) -> list[tuple[str, float]]:
    """The ``top`` most probable next tokens after ``text`` (``</s>`` = end of sentence)."""
    if top <= 0:
        raise OptionError(f"--top must be > 0, got {top}")
    state = lm.model.start(None, None, 1)
    logp, _ = feed_prompt(lm.model, state, _prompt_tensor(lm, text))
    probs = logp[0].exp()
    probs[:3] = 0  # pad, unk, bos are never a useful answer; eos is kept as "</s>"
    values, ids = probs.topk(min(top, probs.shape[0]))
    return [
        ("</s>" if i == EOS else lm.tokenizer.id_to_piece(i), float(p))
        for p, i in zip(values, ids.tolist(), strict=True)
    ]


def generate(
    lm: LoadedLM, prompt: str, max_words: int = 30, temperature: float = 1.0, top_k: int = 0, seed: int | None = None
) -> str:
    """Sample a continuation of ``prompt`` (the prompt is part of the returned text)."""
    if max_words <= 0:
        raise OptionError(f"--max-words must be > 0, got {max_words}")
    if temperature <= 0:
        raise OptionError(f"--temperature must be > 0, got {temperature}")
    if top_k < 0:
        raise OptionError(f"--top-k must be >= 0, got {top_k}")
    seed = seed if seed is not None else int.from_bytes(os.urandom(8), "little") >> 1
    generator = torch.Generator(device=lm.device)  # its own: the caller's global RNG is left as it was
    generator.manual_seed(seed)
    prompt_ids = lm.tokenizer.encode(prompt)
    # A latent-variable model draws its z from the global generator: seeded too, inside a fork that
    # restores the global RNG state afterwards.
    with torch.random.fork_rng(devices=[lm.device] if lm.device.type == "cuda" else []):
        torch.manual_seed(seed)
        (continuation,) = sample(lm.model, _prompt_tensor(lm, prompt), max_words, temperature, top_k, generator)
    return lm.tokenizer.decode(prompt_ids + continuation)
