"""The training loop's hidden knobs, read from the environment once, when a run is checked.

They are for benchmarks and tests, not for the recipe, so they are not flags: each is a whole number of
steps or rows, 0 meaning off. They are read before any folder is created (seqtool.tasks.driver, step 1),
so a bad value is one ``error:`` line with exit code 2, not a traceback halfway into a run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from seqtool.errors import OptionError
from seqtool.training.output_loss import CHUNK_ROWS

CHECKPOINT_STEPS_ENV = "SEQTOOL_CHECKPOINT_STEPS"  # also save a resumable checkpoint every N steps
TRIM_EVERY_ENV = "SEQTOOL_TRIM_EVERY"  # malloc_trim every N steps (seqtool.training.memory)
LOSS_CHUNK_ROWS_ENV = "SEQTOOL_LOSS_CHUNK_ROWS"  # 0: the output layer's loss in one piece (output_loss.py)
# 1: torch.compile (inductor) the training step's forward; measured, not the default (docs/benchmarks.md, issue 30)
COMPILE_ENV = "SEQTOOL_COMPILE"

DEFAULT_TRIM_EVERY = 100


def count_from_environment(name: str, default: int, unit: str) -> int:
    """The whole number in ``$name`` (``default`` when unset or empty); an OptionError otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise OptionError(f"{name} must be a number of {unit} (0: off), got {raw!r}: fix or unset it")
    return int(raw)


@dataclass(frozen=True)
class Knobs:
    checkpoint_steps: int = 0  # 0: checkpoints only by time and at epoch ends
    trim_every: int = DEFAULT_TRIM_EVERY
    loss_chunk_rows: int = CHUNK_ROWS
    compile: int = 0

    @classmethod
    def from_environment(cls) -> Knobs:
        return cls(
            checkpoint_steps=count_from_environment(CHECKPOINT_STEPS_ENV, 0, "steps"),
            trim_every=count_from_environment(TRIM_EVERY_ENV, DEFAULT_TRIM_EVERY, "steps"),
            loss_chunk_rows=count_from_environment(LOSS_CHUNK_ROWS_ENV, CHUNK_ROWS, "rows"),
            compile=count_from_environment(COMPILE_ENV, 0, "switches (1: on)"),
        )
