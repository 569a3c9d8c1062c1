"""What a training step minimises: a criterion turns (model, batch) into a summed loss and a count.

The :class:`~seqtool.training.trainer.Trainer` knows nothing of tokens, KL terms or bits: it calls the
task's criterion (fairseq's idea) and divides by the count of the whole (global) batch. The default,
:class:`TokenNLL`, is the label-smoothed token cross-entropy of every sequence model plus the model's
own auxiliary term (a VAE's KL); a task whose loss is something else supplies its own callable.

:func:`token_nll` is the one definition of the token negative log-likelihood, used by training
(through :class:`TokenNLL`) and by every dev evaluation (perplexity, the ELBO bound of a VAE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from seqtool.models.base import SequenceModel
from seqtool.training.output_loss import CHUNK_ROWS, linear_cross_entropy


class Criterion(Protocol):
    """``(model, batch) -> (summed loss, number of units it is the sum over)``."""

    def __call__(self, model: Any, batch: Any) -> tuple[torch.Tensor, int]: ...


def token_logits(model: SequenceModel, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 logits (n, V) of the n real (non-padding) target positions of ``batch``, and their targets."""
    mask = batch.tgt_out != 0
    return model.logits(model.features(batch)[mask]).float(), batch.tgt_out[mask]


def token_nll(
    model: SequenceModel, batch: Any, label_smoothing: float = 0.0, chunk_rows: int = 0
) -> tuple[torch.Tensor, int]:
    """Summed (label-smoothed) cross-entropy over the real target positions plus the model's
    :meth:`~seqtool.models.base.SequenceModel.auxiliary_loss`, and the number of those positions.

    Only the real positions go through the output layer: the vocabulary projection is the largest
    matrix product of a step. With ``chunk_rows > 0``, a model whose output layer is an ``nn.Linear``
    (:meth:`~seqtool.models.base.SequenceModel.output_linear`: tied or not) computes it that many positions
    at a time when the batch has more (:mod:`seqtool.training.output_loss`): no step then holds all the
    logits at once (benchmarks/mt_memory.sh compares the two)."""
    mask = batch.tgt_out != 0
    features, target = model.features(batch)[mask], batch.tgt_out[mask]
    # Only where it splits: a batch of no more real positions than one chunk saves nothing, and the custom
    # function then costs 3-8% of a step (the LSTM LM's 700-token batches; docs/benchmarks.md, issue 30).
    output = model.output_linear() if 0 < chunk_rows < len(target) else None
    if output is not None:
        loss = linear_cross_entropy(features, output, target, label_smoothing, chunk_rows)
    else:
        loss = F.cross_entropy(model.logits(features).float(), target, reduction="sum", label_smoothing=label_smoothing)
    extra = model.auxiliary_loss()  # e.g. a VAE's KL term; None for most models
    return (loss if extra is None else loss + extra.float()), int(mask.sum())


@dataclass
class TokenNLL:
    """The default criterion: :func:`token_nll` with the run's label smoothing, in output chunks."""

    label_smoothing: float = 0.0
    chunk_rows: int = CHUNK_ROWS

    def __call__(self, model: Any, batch: Any) -> tuple[torch.Tensor, int]:
        return token_nll(model, batch, self.label_smoothing, self.chunk_rows)


@torch.no_grad()
def scored_tokens(model: SequenceModel, batch: Any) -> tuple[torch.Tensor, torch.Tensor, float]:
    """What a dev evaluation reads of a batch: the fp32 logits and targets of its real positions, and
    their summed NLL (no smoothing) plus the auxiliary term: a VAE's perplexity is then its ELBO bound."""
    logits, gold = token_logits(model, batch)
    extra = model.auxiliary_loss()
    nll = float(F.cross_entropy(logits, gold, reduction="sum")) + (0.0 if extra is None else float(extra))
    return logits, gold, nll
