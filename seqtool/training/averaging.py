"""Weight averaging that is used: an exponential moving average (EMA) of the weights, evaluated and
saved in place of the raw weights, and the plain average of the last epochs' weights."""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel

from seqtool.models.base import SequenceModel


def weight_ema(model: SequenceModel, decay: float) -> AveragedModel:
    """A copy of ``model`` whose parameters follow ``ema = d * ema + (1 - d) * weights`` after every
    update, with ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates: the early average is not
    dominated by the random initial weights (the warm-up of TensorFlow's ExponentialMovingAverage)."""

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor | int) -> None:
        d = min(decay, (1 + int(n)) / (10 + int(n)))
        torch._foreach_lerp_(averaged, current, 1.0 - d)

    return AveragedModel(model, multi_avg_fn=update)


def mean_weights(snapshots: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of state dicts (in fp32, cast back to each tensor's dtype)."""
    first = snapshots[0]
    return {k: (sum(s[k].float() for s in snapshots) / len(snapshots)).to(first[k].dtype) for k in first}
