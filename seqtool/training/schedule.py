"""Learning-rate schedules, as pure functions of the step and of the fraction of the budget used.

The budget-aware schedules (``linear``, ``cosine``) warm up linearly for ``warmup`` steps and then
decay to exactly zero when the budget runs out: the budget is ``--max-minutes`` (fraction = elapsed
/ budget) or ``--epochs`` (fraction = (epochs done + fraction of the current epoch) / epochs),
whichever is nearer. Both quantities are checkpointed, so a resumed run continues the same curve.
Budgeted training (Li et al., ICLR 2020) found linear-to-zero best for a fixed budget.

The warm-up is a number of steps, so a fixed one means nothing for a run that takes far fewer: 64
updates (8 epochs of a 1,274-pair corpus) never leave a 400-step warm-up. :func:`effective_warmup`
therefore caps the configured warm-up at :data:`WARMUP_SHARE` of the planned updates (epochs x
batches per epoch, or, with a time budget, the updates the measured steps/s fit in it, whichever is
smaller), and every schedule (inverse_sqrt's decay included) uses the capped value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCHEDULES = ("inverse_sqrt", "plateau", "constant", "linear", "cosine")
BUDGET_SCHEDULES = ("linear", "cosine")

# At most this share of the planned updates is warm-up. Why a quarter: the Transformer recipe's 400
# steps are 12% of the ~3,300 updates of its 60-reference-minute run, so any share above 400 / 3,300
# keeps them there; a quarter keeps them for every run planned at >= 1,600 updates, i.e. also when the
# steps/s measured at the start (a time budget's estimate) is off by up to 2x, or a machine is 2x
# slower. Below that, warm-up grows with the run: 16 steps of a 64-update run, 100 of a 400-update one.
WARMUP_SHARE = 0.25
# A time budget's planned updates: the steps/s of steps TIME_SKIP_STEPS+1 .. TIME_SKIP_STEPS +
# TIME_MEASURE_STEPS of a run (the first steps pay one-time costs: allocation, kernel selection).
TIME_SKIP_STEPS = 3
TIME_MEASURE_STEPS = 10


def budget_fraction(elapsed_s: float, max_minutes: float | None, epoch_position: float, epochs: int) -> float:
    """The fraction of the nearer budget used, in [0, 1]: time (if given) or epochs.

    ``epoch_position`` is epochs done plus the fraction of the current epoch's batches done."""
    used = epoch_position / epochs
    if max_minutes:
        used = max(used, elapsed_s / (max_minutes * 60))
    return min(1.0, max(0.0, used))


def effective_warmup(configured: int, planned_updates: int | None) -> int:
    """The warm-up steps a run uses: ``configured``, capped at :data:`WARMUP_SHARE` of
    ``planned_updates`` when known (at least 1 step; a configured 0, no warm-up, stays 0)."""
    if not planned_updates or configured <= 0:
        return configured
    return max(1, min(configured, round(WARMUP_SHARE * planned_updates)))


def planned_by_time(steps_done: int, steps_per_s: float, seconds_left: float) -> int:
    """The updates a time budget holds: those done plus what ``steps_per_s`` fits in the time left
    (evaluation counts against the budget too, so this is an upper bound: it errs towards the
    configured warm-up)."""
    return steps_done + int(max(0.0, steps_per_s) * max(0.0, seconds_left))


@dataclass
class WarmupPlan:
    """The warm-up a run uses (:func:`effective_warmup` of the planned updates), decided at the first
    epoch (epochs x batches) and, with a time budget, again once the steps/s is measured; then fixed and
    checkpointed (:meth:`state`), so that a resumed run keeps the same curve."""

    configured: int
    warmup: int = -1  # -1: the configured one (set in __post_init__)
    planned_updates: int = 0
    fixed: bool = False
    _steps: int = 0  # this process's steps so far, and the time of those measured
    _timed: int = 0
    _seconds: float = 0.0

    def __post_init__(self) -> None:
        self.warmup = self.configured if self.warmup < 0 else self.warmup

    def plan(self, planned_updates: int, final: bool) -> None:
        self.planned_updates, self.fixed = planned_updates, final
        self.warmup = effective_warmup(self.configured, planned_updates)

    def measure(self, step_seconds: float, steps_done: int, seconds_left: float) -> int | None:
        """One more step's time; once TIME_MEASURE_STEPS are measured, the updates the budget holds (else None)."""
        self._steps += 1
        if self._steps <= TIME_SKIP_STEPS:
            return None
        self._timed, self._seconds = self._timed + 1, self._seconds + step_seconds
        if self._timed < TIME_MEASURE_STEPS:
            return None
        return planned_by_time(steps_done, self._timed / max(1e-9, self._seconds), seconds_left)

    def state(self) -> dict[str, int | bool]:
        return {"warmup": self.warmup, "planned_updates": self.planned_updates, "warmup_fixed": self.fixed}

    def load(self, state: dict[str, object]) -> None:
        """From a checkpoint; one from before the plan existed used the configured warm-up throughout."""
        self.warmup = int(state.get("warmup", self.configured))  # type: ignore[call-overload]
        self.planned_updates = int(state.get("planned_updates", 0))  # type: ignore[call-overload]
        self.fixed = bool(state.get("warmup_fixed", True))


def lr_at(schedule: str, peak: float, step: int, warmup: int, fraction: float, scale: float = 1.0) -> float:
    """The learning rate of optimizer step ``step`` (1-based).

    ``fraction`` is the budget used (see :func:`budget_fraction`; only the budget-aware schedules read
    it); ``scale`` is the plateau schedule's current factor."""
    step = max(step, 1)
    if schedule == "inverse_sqrt":
        return peak * min(step / warmup, math.sqrt(warmup / step))
    if schedule in BUDGET_SCHEDULES:
        ramp = min(1.0, step / warmup) if warmup > 0 else 1.0
        left = 1.0 - min(1.0, max(0.0, fraction))
        decay = left if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * (1.0 - left)))
        return peak * ramp * decay
    return peak * scale  # plateau, constant
