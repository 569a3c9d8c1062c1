"""The one training recipe every task plugs into (in the spirit of fairseq's tasks).

A :class:`Task` knows its data and its model: it checks its inputs, trains or loads its
tokenizers, encodes its corpus, builds its model and scores it on dev data. :func:`train_task`
is the recipe around it, the same for language models, translators and any new task:

1. check the task's inputs and the training settings (before any folder is created);
2. take the model folder (:func:`~seqtool.training.run.shared_run`: lock, resume decision, torchrun ranks);
3. a new run trains and saves the tokenizers and starts ``config.json``; a resumed run reads them back;
4. encode the training corpus into the folder's cache (or reuse rank 0's / the resumed run's);
5. build the model from the seed, publish the config, train with the shared
   :class:`~seqtool.training.trainer.Trainer`, mark the run done and make it the workspace default.

The ``config.json`` keys every model has (name, kind, created, status, train_config, parameters,
best, train) are written here; a task adds its own entries (arch, model, tokenizer(s), data...).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtool.data.batch import Batch
from seqtool.data.batching import token_batches
from seqtool.data.tokenizers import Tokenizer, load_tokenizer
from seqtool.files import now_iso
from seqtool.machine import allocator_in_use, release_free_memory
from seqtool.models.base import SequenceModel
from seqtool.store.weights import load_model_weights
from seqtool.store.workspace import ModelDir, Workspace, config_section
from seqtool.training.config import Objective, TrainConfig, TrainResult, describe
from seqtool.training.criterion import Criterion, TokenNLL
from seqtool.training.device import resolve_device
from seqtool.training.knobs import Knobs
from seqtool.training.run import finish_run, shared_run
from seqtool.training.trainer import Trainer

Progress = Callable[[dict[str, Any]], None]


@dataclass
class Batching:
    """The Trainer's batches: per-epoch batch plans, a plan -> Batch function, and whether torchrun
    ranks share the plans out (False: each rank reads its own rows, e.g. parallel streams)."""

    epoch_batches: Callable[[int], Any]
    make_batch: Callable[[Any], Batch]
    shard: bool = True


def status(progress: Progress, message: str) -> None:
    progress({"event": "status", "message": message})


class Task(abc.ABC):
    """One kind of model: its data, tokenizers, model and dev metric (see the module docstring)."""

    kind: str  # the workspace kind ("lm", "mt", ...): config.json "kind" and the default to set
    objective: Objective  # the dev metric that picks the best epoch
    sides: int = 1  # encoded corpus sides in the folder's cache (1: text; 2: source and target; 0: kept in memory)

    @abc.abstractmethod
    def check(self) -> None:
        """Validate the inputs (files, model options) before any folder is touched."""

    @abc.abstractmethod
    def setup(self, md: ModelDir, progress: Progress, threads: int) -> dict[str, Any]:
        """A new run: train and save the tokenizers in ``md``; return the task's config.json entries."""

    @abc.abstractmethod
    def restore(self, md: ModelDir, cfg: dict[str, Any]) -> None:
        """A resumed run (or a torchrun rank other than 0): model config and tokenizers from ``cfg``."""

    @abc.abstractmethod
    def encode(self, cache: Path, progress: Progress) -> tuple[Any, Any]:
        """(corpus, stats): the training corpus encoded into ``cache`` (see
        :func:`~seqtool.data.batching.encode_corpus`), or in memory when ``sides`` is 0."""

    @abc.abstractmethod
    def data_entries(self, stats: Any, progress: Progress) -> dict[str, Any]:
        """What encoding kept and skipped, for config.json "data"; raises when nothing is left to train on."""

    @abc.abstractmethod
    def build_model(self) -> SequenceModel:
        """The untrained model (the driver seeds torch first)."""

    @abc.abstractmethod
    def make_batch(self, corpus: Any, indices: np.ndarray) -> Batch:
        """One training batch from the encoded corpus."""

    @abc.abstractmethod
    def lengths(self, corpus: Any) -> np.ndarray:
        """Per-example token counts that batches are cut by."""

    @abc.abstractmethod
    def evaluate(self, model: SequenceModel, device: torch.device) -> dict[str, float]:
        """Dev scores after an epoch (must include ``objective.metric``)."""

    def criterion(self, cfg: TrainConfig, knobs: Knobs) -> Criterion:
        """What a training step minimises; default: the label-smoothed token NLL plus the model's
        auxiliary terms (a VAE's KL), the output layer in chunks of ``knobs.loss_chunk_rows``."""
        return TokenNLL(cfg.label_smoothing, knobs.loss_chunk_rows)

    def batching(self, corpus: Any, model: SequenceModel, cfg: TrainConfig, dist: Any, config: dict[str, Any]
                 ) -> Batching:  # fmt: skip
        """How training batches are cut (before the config is published: a task may record its choice
        in ``config``). Default: shuffled batches of about ``batch_tokens`` tokens (padding included)
        by :meth:`lengths`, built by :meth:`make_batch`, shared out among torchrun ranks."""
        lengths = self.lengths(corpus)
        tokens = self.batch_tokens(cfg, lengths, config)
        return Batching(lambda epoch: token_batches(lengths, tokens, cfg.seed, epoch),
                        lambda idx: self.make_batch(corpus, idx))  # fmt: skip

    def batch_tokens(self, cfg: TrainConfig, lengths: np.ndarray, config: dict[str, Any]) -> int:
        """Padded tokens per batch: ``--batch-size`` (a task may cut it for a small corpus, and record that)."""
        return cfg.batch_tokens


def train_task(
    task: Task,
    ws: Workspace,
    name: str,
    train_cfg: TrainConfig,
    *,
    device: str = "auto",
    resume: bool = False,
    threads: int = 1,
    progress: Progress = lambda _: None,
) -> TrainResult:
    """Train (or resume) ``task``'s model ``name`` in ``ws``; returns the training summary."""
    task.check()
    train_cfg.validate()
    knobs = Knobs.from_environment()  # the hidden SEQTOOL_* knobs, checked before any folder exists
    # Under torchrun, rank 0 sets the folder up; the other ranks read it (see seqtool.training.run).
    with shared_run(ws, name, resume, resolve_device(device), progress) as run:
        md, dist, run_device, progress = run.md, run.dist, run.device, run.progress
        if run.reads_folder:
            cfg = md.config()
            train_cfg = train_cfg.with_stored(config_section(cfg, "train_config", md))
            task.restore(md, cfg)
        else:
            entries = task.setup(md, progress, threads)
            # What the set-up freed goes back before encoding (a sentencepiece tokenizer releases its own
            # training's; this covers the rest, e.g. a word tokenizer's counts)
            release_free_memory()
            # "allocator": tcmalloc or the C library's malloc (seqtool.machine; README, "Memory while training")
            cfg = {"name": name, "kind": task.kind, "created": now_iso(), "status": "training", **entries,
                   "train_config": describe(train_cfg), "best": None, "allocator": allocator_in_use()}  # fmt: skip
        cache = md.file("cache") / "train"
        encoded = run.load_encoded(cache, task.sides) if task.sides else None
        corpus, stats = encoded if encoded is not None else task.encode(cache, progress)
        cfg.setdefault("data", {}).update(task.data_entries(stats, progress))
        torch.manual_seed(train_cfg.seed)  # initial weights from the seed: a restarted run is the same run
        model = task.build_model().to(run_device)
        cfg["parameters"] = model.num_parameters()
        if model.info():  # e.g. a WaveNet's receptive field
            cfg["info"] = model.info()
        for key, value in model.info().items():
            status(progress, f"{key.replace('_', ' ')}: {value}")
        batching = task.batching(corpus, model, train_cfg, dist, cfg)
        run.publish(cfg)
        trainer = Trainer(
            model, train_cfg, md, epoch_batches=batching.epoch_batches, make_batch=batching.make_batch,
            evaluate=lambda m: task.evaluate(m, run_device), objective=task.objective, device=run_device,
            progress=progress, rank=dist.rank, world_size=dist.world_size, shard_batches=batching.shard,
            knobs=knobs, criterion=task.criterion(train_cfg, knobs),
        )  # fmt: skip
        result = trainer.fit(resume=run.resume)
        if not dist.is_main:
            return result
        finish_run(md, result)
    ws.set_default(task.kind, name)
    return result


@dataclass
class LoadedModel:
    """A trained model with its one tokenizer, in eval mode on its device (language models, dialogue)."""

    md: ModelDir
    config: dict[str, Any]
    model: Any  # a SequenceModel (an HRED for dialogue)
    tokenizer: Tokenizer
    device: torch.device


def load_model(ws: Workspace, name: str | None, kind: str, hint: str, build: Callable[[dict[str, Any]], Any],
               device: str = "auto") -> LoadedModel:  # fmt: skip
    """The model ``name`` of ``kind`` (default: the workspace's), built from its "model" config section."""
    md, cfg = ws.find(name, kind, hint=hint)
    dev = resolve_device(device)
    model = build(config_section(cfg, "model", md))
    tokenizer = load_tokenizer(md.path, config_section(cfg, "tokenizer", md))
    return LoadedModel(md, cfg, load_model_weights(md, model, dev), tokenizer, dev)
