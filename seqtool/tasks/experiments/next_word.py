"""Next-word prediction from a window of N words: LSTM vs GRU vs bidirectional GRU, same budget.

The course's exercise: read the previous N words (``--context``) and predict the next one. Each
cell is a window language model (:class:`seqtool.models.lm.WindowLM`) trained with the project's
one training path, :func:`seqtool.tasks.lm.train_lm`, into the workspace as an ordinary
model, so `predict-next`, `evaluate lm`, `plot curves` and `models compare` work on it afterwards.
Every cell gets the same data, seed, sizes and budget (epochs and minutes); only the cell differs.

After training, each model's best weights are scored in evaluation mode (no dropout) on a sample
of the training lines and on the dev lines: top-1 accuracy and mean loss per token on both, so
the overfitting gap (dev loss - train loss) compares like with like. The loss logged during
training is not used for the gap: it is averaged over an epoch whose weights kept changing, with
dropout on. A unigram model (always guess the most frequent training word; add-one perplexity)
is the floor every cell must clear.

Library code: it never prints; progress goes through a callback, errors are typed.
"""

from __future__ import annotations

import collections
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqtool.errors import OptionError
from seqtool.models.lm import lm_config
from seqtool.store.workspace import Workspace
from seqtool.tasks.experiments.settings import NextWordConfig

if TYPE_CHECKING:
    from seqtool.tasks.lm import LoadedLM

MODEL_PREFIX = "nextword"  # models are named nextword-<cell>, numbered if taken

CellProgress = Callable[[str, dict[str, Any]], None]  # (cell, train_lm progress event)


@dataclass
class Scores:
    """One model on one set of lines, evaluation mode: mean loss per token, top-1/top-5, per-word perplexity."""

    loss: float
    top1: float
    top5: float
    ppl: float

    @classmethod
    def from_score_lines(cls, scores: dict[str, float]) -> Scores:
        return cls(loss=scores["dev_loss"], top1=scores["top1"], top5=scores["top5"], ppl=scores["dev_ppl"])


@dataclass
class CellResult:
    cell: str
    name: str  # the workspace model
    arch: str
    parameters: int
    elapsed_s: float  # training time, per-epoch evaluation included
    epochs: int  # completed epochs
    steps: int
    stopped: str  # why training stopped: epochs, time budget, no improvement
    best_epoch: float  # the epoch whose weights were kept (fractional if a time budget cut an epoch)
    tokens_per_s: float
    train: Scores
    dev: Scores
    predictions: list[tuple[str, float]]  # the prompt's most probable next words
    history: list[dict[str, Any]]  # metrics.jsonl rows: train_loss, dev_loss, dev_ppl, top1... per epoch
    # The weights training started from, scored the same way: epoch 0 of the curves, so that a budget
    # shorter than an epoch still draws a line (from the start to the one evaluation) rather than a dot.
    initial_train: Scores | None = None
    initial_dev: Scores | None = None

    @property
    def epochs_trained(self) -> float:
        """Passes over the training data, fractional when a time budget stopped an epoch (e.g. 0.87)."""
        return float(self.history[-1]["epoch"]) if self.history else float(self.epochs)

    def curve_rows(self) -> list[dict[str, Any]]:
        """The history with an epoch-0 row for the initial weights in front (when they were scored)."""
        if self.initial_train is None or self.initial_dev is None:
            return list(self.history)
        start = {"epoch": 0, "train_loss": self.initial_train.loss, "dev_loss": self.initial_dev.loss,
                 "dev_ppl": self.initial_dev.ppl, "top1": self.initial_dev.top1, "top5": self.initial_dev.top5}  # fmt: skip
        return [start, *self.history]

    @property
    def gap(self) -> float:
        """Overfitting gap: dev loss - train loss (both in evaluation mode, same weights)."""
        return self.dev.loss - self.train.loss

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gap"] = round(self.gap, 5)
        data["epochs_trained"] = self.epochs_trained
        data["predictions"] = [{"word": w, "probability": round(p, 5)} for w, p in self.predictions]
        for key in ("train", "dev", "initial_train", "initial_dev"):
            if data[key] is not None:
                data[key] = {k: round(v, 5) for k, v in data[key].items()}
        data["elapsed_s"] = round(self.elapsed_s, 1)
        data["tokens_per_s"] = round(self.tokens_per_s, 1)
        return data


@dataclass
class UnigramBaseline:
    """Always guess the most frequent training word; add-one unigram perplexity."""

    word: str
    dev_top1: float
    dev_ppl: float


@dataclass
class NextWordResult:
    config: NextWordConfig
    train_path: str
    dev_path: str
    train_lines: int
    train_sample: int  # of them, scored for train accuracy/loss
    dev_lines: int
    baseline: UnigramBaseline
    cells: list[CellResult]
    # 1-minute load average before and after the runs: on a shared machine, times mean little without it.
    load_before: float | None
    load_after: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config), "train_path": self.train_path, "dev_path": self.dev_path,
            "train_lines": self.train_lines, "train_sample": self.train_sample, "dev_lines": self.dev_lines,
            "baseline": asdict(self.baseline), "cells": [c.to_dict() for c in self.cells],
            "load_average": {"before": self.load_before, "after": self.load_after},
        }  # fmt: skip


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not available on this platform
        return None


def unigram_baseline(train: list[str], dev: list[str]) -> UnigramBaseline:
    """The floor for next-word prediction, on lines already in the corpus convention (space-separated words)."""
    from seqtool.metrics import unigram_perplexity

    counts: collections.Counter[str] = collections.Counter()
    for line in train:
        counts.update([*line.split(), "</s>"])
    word = counts.most_common(1)[0][0]
    dev_tokens = [w for line in dev for w in [*line.split(), "</s>"]]
    top1 = sum(w == word for w in dev_tokens) / max(1, len(dev_tokens))
    return UnigramBaseline(word=word, dev_top1=top1, dev_ppl=unigram_perplexity(train, dev))


def _initial_scores(lm: LoadedLM, train: list[str], dev: list[str], seed: int) -> tuple[Scores, Scores]:
    """Scores of the weights training started from. train_lm seeds torch with the training seed just
    before it builds the model, so seeding and building again gives the same initial weights."""
    from seqtool.models.lm import build_lm
    from seqtool.tasks.lm import score_lines

    torch.manual_seed(seed)
    model = build_lm(lm_config(lm.config["model"])).to(lm.device)
    return (
        Scores.from_score_lines(score_lines(model, lm.tokenizer, train, lm.device)),
        Scores.from_score_lines(score_lines(model, lm.tokenizer, dev, lm.device)),
    )


def run_next_word(
    ws: Workspace,
    train_path: Path,
    dev_path: Path,
    cfg: NextWordConfig,
    *,
    device: str = "auto",
    threads: int = 1,
    progress: CellProgress = lambda cell, event: None,
) -> NextWordResult:
    """Train one window model per cell into ``ws`` with the same budget, then score and query each."""
    from seqtool.data.corpus import check_file
    from seqtool.tasks.lm import TokenizerConfig, dev_lines, load_lm, predict_next, score_lines, train_lm
    from seqtool.training.device import resolve_device
    from seqtool.training.run import unique_name

    cfg.validate()
    resolve_device(device)
    check_file(train_path)
    check_file(dev_path)
    train = dev_lines(train_path)  # non-empty lines in memory; also what the unigram baseline counts
    dev = dev_lines(dev_path)
    sample = random.Random(cfg.seed).sample(train, cfg.train_sample) if len(train) > cfg.train_sample else train
    names = {cell: unique_name(ws, f"{MODEL_PREFIX}-{cell}") for cell in cfg.cells}
    load_before = _load_average()
    results: list[CellResult] = []
    baseline: UnigramBaseline | None = None
    for cell in cfg.cells:
        name = names[cell]

        def report(event: dict[str, Any], cell: str = cell) -> None:
            progress(cell, event)

        trained = train_lm(
            ws, name, train_path, dev_path, cfg.model_config(cell), cfg.train_config(), TokenizerConfig(),
            device=device, threads=threads, progress=report,
        )  # fmt: skip
        report({"event": "status", "message": f"scoring {name} on {len(sample)} training and {len(dev)} dev lines"})
        lm = load_lm(ws, name, device)
        if baseline is None:  # every cell has the same word tokenizer; it defines the words counted
            baseline = unigram_baseline(
                [lm.tokenizer.prepare(x) for x in train], [lm.tokenizer.prepare(x) for x in dev]
            )
        initial_train, initial_dev = _initial_scores(lm, sample, dev, cfg.seed)
        results.append(
            CellResult(
                cell=cell, name=name, arch=lm.config["arch"], parameters=lm.config["parameters"],
                elapsed_s=trained.elapsed_s, epochs=trained.epochs, steps=trained.steps,
                stopped=trained.stopped_because, best_epoch=trained.best["epoch"], tokens_per_s=trained.tokens_per_s,
                train=Scores.from_score_lines(score_lines(lm.model, lm.tokenizer, sample, lm.device)),
                dev=Scores.from_score_lines(score_lines(lm.model, lm.tokenizer, dev, lm.device)),
                predictions=predict_next(lm, cfg.prompt, cfg.top), history=trained.history,
                initial_train=initial_train, initial_dev=initial_dev,
            )
        )  # fmt: skip
    if baseline is None:  # unreachable: validate() requires at least one cell
        raise OptionError("--cells needs at least one cell")
    return NextWordResult(
        config=cfg, train_path=str(train_path), dev_path=str(dev_path), train_lines=len(train),
        train_sample=len(sample), dev_lines=len(dev), baseline=baseline, cells=results, load_before=load_before,
        load_after=_load_average(),
    )  # fmt: skip
