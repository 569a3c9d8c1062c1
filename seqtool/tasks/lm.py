"""Language modelling: train, evaluate, predict the next word, generate.

This module wires the parts together (corpus -> tokenizer -> encoded batches -> model ->
:class:`~seqtool.training.trainer.Trainer` -> workspace); it contains no model code and no training loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtool.data.batching import batches_from_texts, collate, encode_corpus
from seqtool.data.corpus import check_file, read_lines
from seqtool.data.specials import EOS
from seqtool.data.streams import StreamBatches
from seqtool.data.tokenizers import Tokenizer, load_tokenizer, train_tokenizer
from seqtool.decoding import feed_prompt, sample
from seqtool.errors import DataError, OptionError
from seqtool.files import now_iso
from seqtool.metrics import perplexity, word_count
from seqtool.models.base import SequenceModel
from seqtool.models.lm import LMConfig, build_lm
from seqtool.store.weights import load_model_weights
from seqtool.store.workspace import ModelDir, Workspace, config_section
from seqtool.training.config import Objective, TrainConfig, TrainResult, describe
from seqtool.training.device import resolve_device
from seqtool.training.run import finish_run, shared_run
from seqtool.training.trainer import Trainer


@dataclass
class TokenizerConfig:
    """How a model's text is cut into tokens (the "tokenizer" section of config.json)."""

    kind: str = "word"  # word | unigram | bpe
    vocab_size: int = 32000  # upper bound; word vocabularies keep every word seen min_count times
    min_count: int = 1  # word tokenizer: rarer words become <unk>
    lang: str = "en"  # "en" turns raw English into the corpus convention


def lm_train_config(**overrides: Any) -> TrainConfig:
    """Defaults of `seqtool train-lm`: Adam, constant rate divided on plateaus, no label smoothing.

    Small batches (1,024 tokens): on small_parallel_enja's train.en one epoch with 4,096-token batches
    reached dev perplexity 142, with 1,024-token batches 59 (more updates per epoch; docs/benchmarks.md)."""
    base = dict(lr=3e-3, schedule="plateau", plateau_factor=0.25, patience=3, batch_tokens=1024, clip_norm=0.5)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**base)


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
        mask = batch.tgt_out != 0
        logits = model.logits(model.features(batch)[mask]).float()
        gold = batch.tgt_out[mask]
        nll += float(torch.nn.functional.cross_entropy(logits, gold, reduction="sum"))
        extra = model.auxiliary_loss()  # a VAE's KL: the perplexity becomes the ELBO bound
        nll += 0.0 if extra is None else float(extra)
        for key, value in model.auxiliary_metrics().items():
            extras[key] = extras.get(key, 0.0) + value
        best5 = logits.topk(min(5, logits.shape[-1]), dim=-1).indices
        top1 += int((best5[:, 0] == gold).sum())
        top5 += int((best5 == gold[:, None]).any(dim=-1).sum())
        tokens += int(mask.sum())
    words = sum(word_count(tokenizer.prepare(line)) for line in lines)
    return {
        "dev_loss": nll / max(1, tokens),
        "dev_ppl": perplexity(nll, words),
        "top1": top1 / max(1, tokens),
        "top5": top5 / max(1, tokens),
        **{f"dev_{key}": value / len(lines) for key, value in extras.items()},  # per sentence
    }


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
    check_file(train_path)
    check_file(dev_path)
    model_cfg.validate()
    train_cfg.validate()
    dev = dev_lines(dev_path)
    # Under torchrun, rank 0 sets the folder up; the other ranks read it (see seqtool.training.run).
    with shared_run(ws, name, resume, resolve_device(device), progress) as run:
        md, dist, dev_device, progress, resume = run.md, run.dist, run.device, run.progress, run.resume
        if run.reads_folder:
            cfg = md.config()
            model_cfg = LMConfig(**config_section(cfg, "model", md))
            train_cfg = train_cfg.with_stored(config_section(cfg, "train_config", md))
            tokenizer = load_tokenizer(md.path, config_section(cfg, "tokenizer", md))
        else:
            progress({"event": "status", "message": f"training a {tok_cfg.kind} tokenizer on {train_path}"})
            tokenizer = train_tokenizer(
                (line for _, line in read_lines(train_path)), tok_cfg.kind, vocab_size=tok_cfg.vocab_size,
                min_count=tok_cfg.min_count, lang=tok_cfg.lang, threads=threads,
            )  # fmt: skip
            tok_entry = tokenizer.save(md.path, "tokenizer")
            model_cfg.vocab_size = tokenizer.vocab_size
            cfg = {
                "name": name, "kind": "lm", "arch": _arch(model_cfg), "created": now_iso(), "status": "training",
                "data": {"train": str(train_path), "dev": str(dev_path)}, "model": describe(model_cfg),
                "tokenizer": {**tok_entry, "lang": tok_cfg.lang, "min_count": tok_cfg.min_count},
                "train_config": describe(train_cfg), "best": None,
            }  # fmt: skip
        cache = md.file("cache") / "train"
        encoded = run.load_encoded(cache, 1)
        if encoded is None:
            progress({"event": "status", "message": f"encoding {train_path}"})
            encoded = encode_corpus([train_path], [tokenizer], cache)
        (corpus,), stats = encoded
        if stats.kept == 0:
            raise DataError(f"{train_path}: no non-empty lines to train on")
        torch.manual_seed(train_cfg.seed)  # initial weights from the seed: a restarted run is the same run
        model = build_lm(model_cfg).to(dev_device)
        cfg["parameters"] = model.num_parameters()
        if model.info():  # e.g. a WaveNet's receptive field
            cfg["info"] = model.info()
        for key, value in model.info().items():
            progress({"event": "status", "message": f"{key.replace('_', ' ')}: {value}"})
        cfg["data"]["train_sentences"], cfg["data"]["skipped_empty"] = stats.kept, stats.empty
        stream = _uses_streams(train_cfg, model, cfg)
        run.publish(cfg)
        lengths = corpus.lengths() + 1

        def epoch_batches(epoch: int) -> list[np.ndarray]:
            return _token_batches(lengths, train_cfg, epoch)

        make_batch: Callable[[np.ndarray], Any] = lambda idx: collate(idx, corpus)  # noqa: E731
        if stream:  # truncated BPTT over parallel streams (seqtool.data.streams)
            rows = max(1, train_cfg.batch_tokens // train_cfg.bptt) * dist.world_size  # --batch-size is per process
            streams = StreamBatches(corpus, rows, train_cfg.bptt, train_cfg.seed, train_cfg.bptt_jitter,
                                    dist.rank, dist.world_size)  # fmt: skip
            epoch_batches, make_batch = streams.windows, streams.batch
        trainer = Trainer(
            model, train_cfg, md, epoch_batches=epoch_batches, make_batch=make_batch,
            evaluate=lambda m: score_lines(m, tokenizer, dev, dev_device), objective=Objective("dev_ppl", False),
            device=dev_device, progress=progress, rank=dist.rank, world_size=dist.world_size,
            shard_batches=not stream,
        )  # fmt: skip
        result = trainer.fit(resume=resume)
        if not dist.is_main:
            return result
        finish_run(md, result)
    ws.set_default("lm", name)
    return result


def _uses_streams(train_cfg: TrainConfig, model: SequenceModel, cfg: dict[str, Any]) -> bool:
    """Resolve --batching auto (stream where the model can carry its state) and record it in the config."""
    if train_cfg.batching == "auto":
        train_cfg.batching = "stream" if model.carries_state else "sentences"
    if train_cfg.batching == "stream" and not model.carries_state:
        raise OptionError("--batching stream needs a recurrent causal LM (--cell rnn, lstm or gru without --context)")
    cfg["train_config"]["batching"] = train_cfg.batching
    return train_cfg.batching == "stream"


def _token_batches(lengths: np.ndarray, cfg: TrainConfig, epoch: int) -> list[np.ndarray]:
    from seqtool.data.batching import token_batches

    return token_batches(lengths, cfg.batch_tokens, cfg.seed, epoch)


def _arch(cfg: LMConfig) -> str:
    if cfg.context:
        return f"window-{'bi' if cfg.bidirectional else ''}{cfg.cell}-{cfg.context}"
    return f"{cfg.cell}-lm" if cfg.cell != "rnn" else f"rnn-{cfg.activation}-lm"


@dataclass
class LoadedLM:
    md: ModelDir
    config: dict[str, Any]
    model: SequenceModel
    tokenizer: Tokenizer
    device: torch.device


def load_lm(ws: Workspace, name: str | None, device: str = "auto") -> LoadedLM:
    md, cfg = ws.find(name, "lm", hint="train one with `seqtool train-lm` or run `seqtool demo`")
    dev = resolve_device(device)
    model = build_lm(LMConfig(**config_section(cfg, "model", md)))
    tokenizer = load_tokenizer(md.path, config_section(cfg, "tokenizer", md))
    return LoadedLM(md, cfg, load_model_weights(md, model, dev), tokenizer, dev)


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
    generator = torch.Generator(device=lm.device)
    generator.manual_seed(seed if seed is not None else int(torch.seed() % (2**31)))
    if seed is not None:
        torch.manual_seed(seed)  # a latent-variable model draws its z from the global generator
    prompt_ids = lm.tokenizer.encode(prompt)
    (continuation,) = sample(lm.model, _prompt_tensor(lm, prompt), max_words, temperature, top_k, generator)
    return lm.tokenizer.decode(prompt_ids + continuation)
