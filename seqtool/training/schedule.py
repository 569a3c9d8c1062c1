"""Learning-rate schedules, as pure functions of the step and of the fraction of the budget used.

The budget-aware schedules (``linear``, ``cosine``) warm up linearly for ``warmup`` steps and then
decay to exactly zero when the budget runs out: the budget is ``--max-minutes`` (fraction = elapsed
/ budget) or ``--epochs`` (fraction = (epochs done + fraction of the current epoch) / epochs),
whichever is nearer. Both quantities are checkpointed, so a resumed run continues the same curve.
Budgeted training (Li et al., ICLR 2020) found linear-to-zero best for a fixed budget.
"""

from __future__ import annotations

import math

SCHEDULES = ("inverse_sqrt", "plateau", "constant", "linear", "cosine")
BUDGET_SCHEDULES = ("linear", "cosine")


def budget_fraction(elapsed_s: float, max_minutes: float | None, epoch_position: float, epochs: int) -> float:
    """The fraction of the nearer budget used, in [0, 1]: time (if given) or epochs.

    ``epoch_position`` is epochs done plus the fraction of the current epoch's batches done."""
    used = epoch_position / epochs
    if max_minutes:
        used = max(used, elapsed_s / (max_minutes * 60))
    return min(1.0, max(0.0, used))


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
