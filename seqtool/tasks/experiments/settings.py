"""The experiments' settings, torch-free: the command line reads its option defaults from these
dataclasses (so no default is written twice) without importing the experiments themselves."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from seqtool.errors import OptionError, as_option, check_positive, check_range, settings_as_options

MAX_BITS = 32  # operand pairs are indexed as a * 2^(bits-1) + b, which must fit in int64


@dataclass
class BinaryAdditionConfig:
    """One run's settings. The defaults are the course's setting and solve the task with sigmoid and tanh."""

    activation: str = "sigmoid"
    hidden: int = 16
    bits: int = 8
    lr: float = 1.0
    steps: int = 3000
    batch: int = 32
    init: str = "xavier"
    seed: int = 0
    eval_every: int = 50  # steps between held-out evaluations (the points of the learning curve)
    heldout: int = 1000  # additions kept out of training (capped at a fifth of all operand pairs)

    def validate(self) -> None:
        from seqtool.models.elman import ElmanConfig

        with settings_as_options(lambda key: as_option({"hidden_size": "hidden"}.get(key, key))):
            ElmanConfig(2, self.hidden, self.activation, self.init).validate()
        check_range("--bits", self.bits, 2, MAX_BITS)
        check_positive("--lr", self.lr)
        check_positive("--steps", self.steps)
        check_positive("--batch", self.batch)
        check_positive("--eval-every", self.eval_every)
        check_positive("--heldout", self.heldout)
        if not math.isfinite(self.lr):
            raise OptionError(f"--lr must be a finite number, got {self.lr}")


@dataclass
class NextWordConfig:
    """The settings shared by every cell of one comparison."""

    cells: list[str] = field(default_factory=lambda: ["lstm", "gru", "bigru"])
    context: int = 5  # words read before the one to predict
    emb_dim: int = 128
    hidden: int = 128  # per direction: a bidirectional cell has twice the state
    layers: int = 1
    dropout: float = 0.3
    epochs: int = 10  # per cell
    max_minutes: float | None = None  # per cell, evaluation included
    batch_tokens: int = 4096
    lr: float = 2e-3
    patience: int = 3
    seed: int = 1
    precision: str = "auto"  # auto | fp32 | bf16, as in train-lm
    train_sample: int = 2000  # training lines scored after training (train accuracy and loss)
    prompt: str = "some of them looks like"
    top: int = 5

    def model_config(self, cell: str) -> Any:
        from seqtool.models.lm import lm_config

        return lm_config(
            cell=cell.removeprefix("bi"), bidirectional=cell.startswith("bi"), context=self.context,
            layers=self.layers, emb_dim=self.emb_dim, hidden=self.hidden, dropout=self.dropout,
        )  # fmt: skip

    def train_config(self) -> Any:
        from seqtool.tasks.lm import lm_train_config

        return lm_train_config(
            epochs=self.epochs, max_minutes=self.max_minutes, batch_tokens=self.batch_tokens, lr=self.lr,
            patience=self.patience, seed=self.seed, precision=self.precision,
        )  # fmt: skip

    def validate(self) -> None:
        """Every option, for every cell, before anything is trained or written."""
        parse_cells(",".join(self.cells))
        check_range("--context", self.context, 1, 100)
        check_positive("--train-sample", self.train_sample)
        check_positive("--top", self.top)
        with settings_as_options(lambda key: as_option({"cell": "cells"}.get(key, key))):
            for cell in self.cells:
                self.model_config(cell).validate()
        self.train_config().validate()


def cell_choices() -> tuple[str, ...]:
    """The recurrent cells, and "bi" + each: that cell reading the window both ways (bigru: a bidirectional GRU)."""
    from seqtool.models.rnn import CELLS

    return (*CELLS, *(f"bi{cell}" for cell in CELLS))


def parse_cells(text: str) -> list[str]:
    """``"lstm,gru,bigru"`` (the --cells option) -> a checked list of cell names."""
    choices = cell_choices()
    cells = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not cells:
        raise OptionError(f"--cells needs at least one cell, e.g. lstm,gru,bigru; choose from {', '.join(choices)}")
    for cell in cells:
        if cell not in choices:
            raise OptionError(f"--cells: unknown cell {cell!r}; choose from {', '.join(choices)}")
    if len(set(cells)) != len(cells):
        raise OptionError(f"--cells lists a cell twice: {text}")
    return cells
