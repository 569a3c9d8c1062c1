"""Machine translation: train a translator, translate text, score translations.

Like :mod:`seqtool.tasks.lm`, this module only wires parts together: the corpus reader,
one sentencepiece model per side, the encoded-corpus batches, a translator from the model zoo,
the shared :class:`~seqtool.training.trainer.Trainer` and :mod:`seqtool.decoding`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtool.data.batching import collate, encode_corpus, token_batches
from seqtool.data.corpus import check_file, check_parallel, read_lines, read_parallel
from seqtool.data.text import is_cjk_language, join_japanese
from seqtool.data.tokenizers import Tokenizer, load_tokenizer, train_tokenizer
from seqtool.decoding import Hypothesis, beam_search
from seqtool.errors import DataError, OptionError
from seqtool.files import now_iso
from seqtool.metrics import bleu_only
from seqtool.models.base import SequenceModel
from seqtool.models.seq2seq import build_translator, translator_config
from seqtool.store.weights import load_model_weights
from seqtool.store.workspace import ModelDir, Workspace, config_section
from seqtool.training.config import Objective, TrainConfig, TrainResult, describe
from seqtool.training.device import resolve_device
from seqtool.training.run import finish_run, shared_run
from seqtool.training.trainer import Trainer


@dataclass
class MTDataConfig:
    """Languages, tokenization and length limits (the "data" settings of a translator)."""

    src_lang: str = "en"
    tgt_lang: str = "ja"
    tokenizer: str = "unigram"  # unigram | bpe | word
    src_vocab: int = 8000
    tgt_vocab: int = 8000
    max_len: int = 100  # training pairs longer than this (in tokens, either side) are skipped and counted


def mt_train_config(arch: str, **overrides: Any) -> TrainConfig:
    """The default recipe per architecture (the best found on small_parallel_enja dev; docs/benchmarks.md)."""
    if arch == "transformer":
        base = dict(lr=1e-3, schedule="inverse_sqrt", warmup=400, label_smoothing=0.1, batch_tokens=4096,
                    patience=8, average_last=5, epochs=100)  # fmt: skip
    else:
        base = dict(lr=1e-3, schedule="plateau", plateau_factor=0.5, label_smoothing=0.1, batch_tokens=4096,
                    patience=4, epochs=30)  # fmt: skip
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**base)


def side_tokenizer(lines: Any, kind: str, lang: str, vocab: int, is_source: bool, threads: int) -> Tokenizer:
    """A tokenizer for one side. A source language written without spaces drops the corpus's
    word-separating spaces, so raw input (私は泳げない。) and segmented text map to the same
    pieces; a target keeps them, so output can be printed in the corpus segmentation."""
    strip = is_source and is_cjk_language(lang)
    return train_tokenizer(lines, kind, vocab_size=vocab, lang=lang, strip_spaces=strip, threads=threads)


def read_dev(src: Path, tgt: Path) -> tuple[list[str], list[str]]:
    check_parallel(src, tgt)
    pairs = [(s, t) for _, s, t in read_parallel(src, tgt) if s.strip() and t.strip()]
    if not pairs:
        raise DataError(f"{src}: no non-empty dev pairs")
    return [s for s, _ in pairs], [t for _, t in pairs]


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
) -> TrainResult:
    """Train (or resume) the translator ``name``; the best weights by dev BLEU are kept."""
    for p in (src, tgt, dev_src, dev_tgt):
        check_file(p)
    n_pairs = check_parallel(src, tgt)
    model_cfg = translator_config(arch, model_values)
    train_cfg.validate()
    if data_cfg.max_len <= 0:
        raise OptionError(f"--max-len must be > 0, got {data_cfg.max_len}")
    dev_sources, dev_refs = read_dev(dev_src, dev_tgt)
    # Under torchrun, rank 0 sets the folder up; the other ranks read it (see seqtool.training.run).
    with shared_run(ws, name, resume, resolve_device(device), progress) as run:
        md, dist, run_device, progress, resume = run.md, run.dist, run.device, run.progress, run.resume
        if run.reads_folder:
            cfg = md.config()
            arch = cfg["model_arch"]
            model_cfg = translator_config(arch, config_section(cfg, "model", md))
            train_cfg = train_cfg.with_stored(config_section(cfg, "train_config", md))
            src_tok, tgt_tok = (load_tokenizer(md.path, cfg["tokenizers"][s]) for s in ("src", "tgt"))
        else:
            progress({"event": "status", "message": f"training {data_cfg.tokenizer} tokenizers on {src} and {tgt}"})
            src_tok = side_tokenizer(
                (s for _, s in read_lines(src)),
                data_cfg.tokenizer,
                data_cfg.src_lang,
                data_cfg.src_vocab,
                True,
                threads,
            )
            tgt_tok = side_tokenizer(
                (t for _, t in read_lines(tgt)),
                data_cfg.tokenizer,
                data_cfg.tgt_lang,
                data_cfg.tgt_vocab,
                False,
                threads,
            )
            model_values = {**model_values, "src_vocab": src_tok.vocab_size, "tgt_vocab": tgt_tok.vocab_size}
            model_cfg = translator_config(arch, model_values)
            cfg = {
                "name": name, "kind": "mt", "arch": describe_arch(arch, model_cfg), "model_arch": arch,
                "created": now_iso(), "status": "training", "src_lang": data_cfg.src_lang,
                "tgt_lang": data_cfg.tgt_lang, "model": describe(model_cfg), "train_config": describe(train_cfg),
                "data_config": describe(data_cfg),
                "tokenizers": {"src": src_tok.save(md.path, "src"), "tgt": tgt_tok.save(md.path, "tgt")},
                "data": {"train": f"{src} {tgt}", "dev": f"{dev_src} {dev_tgt}", "train_src": str(src),
                         "train_tgt": str(tgt), "dev_src": str(dev_src), "dev_tgt": str(dev_tgt)},
                "best": None,
            }  # fmt: skip
        cache = md.file("cache") / "train"
        encoded = run.load_encoded(cache, 2)
        if encoded is None:
            progress({"event": "status", "message": f"encoding {n_pairs:,} sentence pairs"})
            encoded = encode_corpus([src, tgt], [src_tok, tgt_tok], cache, max_len=data_cfg.max_len)
        (src_ids, tgt_ids), stats = encoded
        if stats.kept == 0:
            raise DataError(f"{src}: no usable sentence pairs (empty: {stats.empty}, too long: {stats.too_long})")
        cfg["data"].update(pairs=stats.kept, skipped_empty=stats.empty, skipped_too_long=stats.too_long)
        if stats.empty or stats.too_long:
            progress({"event": "status", "message": f"skipped {stats.empty} pairs with an empty side and "
                      f"{stats.too_long} longer than {data_cfg.max_len} tokens"})  # fmt: skip
        torch.manual_seed(train_cfg.seed)  # initial weights from the seed: a restarted run is the same run
        model = build_translator(model_cfg).to(run_device)
        cfg["parameters"] = model.num_parameters()
        run.publish(cfg)
        lengths = np.maximum(src_ids.lengths(), tgt_ids.lengths() + 1)
        tgt_is_cjk = is_cjk_language(data_cfg.tgt_lang)

        def evaluate(m: SequenceModel) -> dict[str, float]:
            hyps = translate_texts(m, src_tok, tgt_tok, dev_sources, run_device, beam=1, display=False)
            return {"dev_bleu": bleu_only([h[0] for h in hyps], dev_refs)}

        trainer = Trainer(
            model, train_cfg, md, epoch_batches=lambda e: token_batches(lengths, train_cfg.batch_tokens, train_cfg.seed, e),
            make_batch=lambda idx: collate(idx, tgt_ids, src_ids), evaluate=evaluate,
            objective=Objective("dev_bleu", True), device=run_device, progress=progress,
            rank=dist.rank, world_size=dist.world_size,
        )  # fmt: skip
        result = trainer.fit(resume=resume)
        if not dist.is_main:
            return result
        finish_run(md, result, display_join=tgt_is_cjk)
    ws.set_default("mt", name)
    return result


def describe_arch(arch: str, cfg: Any) -> str:
    if arch == "transformer":
        return f"transformer-{cfg.encoder_layers}+{cfg.decoder_layers}-d{cfg.dim}"
    direction = "bi" if cfg.bidirectional else ""
    return f"{direction}{arch}" + (f"+{cfg.attention}" if cfg.attention != "none" else "")


@torch.no_grad()
def translate_texts(
    model: SequenceModel,
    src_tok: Tokenizer,
    tgt_tok: Tokenizer,
    texts: Sequence[str],
    device: torch.device,
    *,
    beam: int = 5,
    alpha: float = 1.0,
    nbest: int = 1,
    batch_sentences: int = 64,
    display: bool = True,
    join: bool = False,
    with_hypotheses: bool = False,
    progress: Callable[[int], None] = lambda done: None,
) -> list[list[Any]]:
    """Translate ``texts`` (in input order); each entry is the ``nbest`` output strings
    (or ``(string, Hypothesis)`` pairs with ``with_hypotheses``). ``join`` removes the word
    spaces of a language written without them (display); otherwise output keeps the segmentation.
    ``progress`` is called after every batch with the number of sentences translated so far."""
    if beam <= 0 or nbest <= 0 or nbest > beam:
        raise OptionError(f"need 1 <= --nbest <= --beam, got beam {beam}, nbest {nbest}")
    model.eval()
    encoded = src_tok.encode_batch(list(texts))
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    results: list[list[Any]] = [[] for _ in texts]
    for start in range(0, len(order), batch_sentences):
        idx = [i for i in order[start : start + batch_sentences]]
        nonempty = [i for i in idx if encoded[i]]
        for i in idx:
            if not encoded[i]:
                results[i] = [("", Hypothesis([], 0.0)) if with_hypotheses else ""] * nbest
        if not nonempty:
            continue
        lengths = torch.tensor([len(encoded[i]) for i in nonempty])
        src = torch.zeros(len(nonempty), int(lengths.max()), dtype=torch.long)
        for r, i in enumerate(nonempty):
            src[r, : len(encoded[i])] = torch.tensor(encoded[i])
        found = beam_search(model, src.to(device), lengths, beam=beam, alpha=alpha, nbest=nbest)
        for i, hyps in zip(nonempty, found, strict=True):
            outs = []
            for h in hyps:
                text = tgt_tok.decode(h.ids)
                text = join_japanese(text) if join else text
                outs.append((text, h) if with_hypotheses else text)
            results[i] = outs
        progress(min(start + batch_sentences, len(order)))
    return results


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

    def translate(self, texts: Sequence[str], *, tokenized: bool = False, **kwargs: Any) -> list[list[Any]]:
        join = self.joins_output and not tokenized
        return translate_texts(self.model, self.src_tok, self.tgt_tok, texts, self.device, join=join, **kwargs)


def load_translator(ws: Workspace, name: str | None, device: str = "auto") -> LoadedTranslator:
    md, cfg = ws.find(name, "mt", hint="train one with `seqtool train-mt` or run `seqtool demo`")
    run_device = resolve_device(device)
    model = build_translator(translator_config(cfg.get("model_arch", ""), config_section(cfg, "model", md)))
    toks = config_section(cfg, "tokenizers", md)
    src_tok, tgt_tok = load_tokenizer(md.path, toks["src"]), load_tokenizer(md.path, toks["tgt"])
    return LoadedTranslator(md, cfg, load_model_weights(md, model, run_device), src_tok, tgt_tok, run_device)


def read_texts(path: Path) -> list[str]:
    return [line for _, line in read_lines(path)]
