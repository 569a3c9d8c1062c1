"""The interface every model implements, and the batch it is fed.

Training needs two things from a model: :meth:`SequenceModel.features` (hidden states for every
target position) and :meth:`SequenceModel.logits` (the output layer). Keeping them apart lets the
training loop project only the non-padding positions, which saves the largest matrix product
(hidden x vocabulary) on every padded slot.

Decoding needs :meth:`SequenceModel.start` (the state after reading the source or the prompt) and
:meth:`SequenceModel.step_logits` (next-token scores given the previous token; :meth:`SequenceModel.step`
is their log-softmax). A state
is a flat ``dict`` of batch-first tensors, so beam search can reorder any model's state with
:func:`reorder_state` without knowing what is inside.
"""

from __future__ import annotations

from collections.abc import Container

import torch
from torch import nn

from seqtool.data.batch import Batch

State = dict[str, torch.Tensor]


class SequenceModel(nn.Module):
    """Base class: the training and decoding interface (see module docstring)."""

    def features(self, batch: Batch) -> torch.Tensor:
        """Hidden states (B, T, D) from which ``logits`` predicts ``batch.tgt_out``."""
        raise NotImplementedError

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Output layer: (..., D) -> (..., V); by default the model's ``output`` module.

        A model that keeps this method and whose output layer is an ``nn.Linear`` (:meth:`output_linear`)
        trains with the chunked loss of :mod:`seqtool.training.output_loss`, which never builds all the logits
        at once."""
        output: nn.Module = self.output
        return output(features)

    def output_linear(self) -> nn.Linear | None:
        """The ``nn.Linear`` that :meth:`logits` is, when it is one and nothing more (a plain ``output`` layer,
        or an output module that exposes its layer as ``linear``, as the tied output of the LMs does): the
        training loss then computes it in chunks (:mod:`seqtool.training.output_loss`). None otherwise."""
        if type(self).logits is not SequenceModel.logits:
            return None
        output = getattr(self, "output", None)
        found = output if isinstance(output, nn.Linear) else getattr(output, "linear", None)
        return found if isinstance(found, nn.Linear) else None

    def auxiliary_loss(self) -> torch.Tensor | None:
        """An extra loss term for the last ``features`` call, summed over its batch (a VAE's KL
        divergence), which training and evaluation add to the token loss; None for most models."""
        return None

    def auxiliary_metrics(self) -> dict[str, float]:
        """Named sums over the last ``features`` call's batch worth reporting (a VAE's KL)."""
        return {}

    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        """Decoder state before the first target token (after encoding ``src`` for translators)."""
        raise NotImplementedError

    # State entries that depend on the source sentence only (encoder memory, its projections, the
    # source mask): every hypothesis of a sentence has the same rows, so beam search, which only
    # re-orders hypotheses within a sentence, never needs to copy them.
    source_state: frozenset[str] = frozenset()

    # Stream batching (truncated BPTT, see Batch.stream): a model that sets ``carries_state`` keeps the
    # detached state a stream batch ends in as ``carried`` and starts a ``Batch.carry`` batch from it
    # (the Trainer checkpoints ``carried``, so a resumed run continues the streams exactly).
    carries_state: bool = False
    carried: State | None = None

    def resumable_state(self) -> dict[str, State]:
        """Training-time state beyond the weights that a resumed run needs (checkpointed by the Trainer)."""
        return {} if self.carried is None else {"carried": self.carried}

    def load_resumable_state(self, state: dict[str, object]) -> None:
        """Restore what :meth:`resumable_state` saved (an empty dict: start afresh)."""
        carried = state.get("carried")
        self.carried = carried if isinstance(carried, dict) else None

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed one token per row (N,) -> (unnormalized next-token scores (N, V), new state)."""
        raise NotImplementedError

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed one token per row (N,) -> (fp32 log-probabilities (N, V), new state)."""
        logits, state = self.step_logits(tokens, state)
        return torch.log_softmax(logits.float(), dim=-1), state

    def info(self) -> dict[str, int | float]:
        """Derived facts worth reporting when training starts (e.g. a WaveNet's receptive field)."""
        return {}

    def num_parameters(self) -> int:
        # Tied weights are shared Parameter objects, so parameters() counts them once.
        return sum(p.numel() for p in self.parameters())


def reorder_state(state: State, index: torch.Tensor, keep: Container[str] = ()) -> State:
    """Select rows of every state tensor (beam search: keep the surviving hypotheses); the
    entries named in ``keep`` are passed through unchanged."""
    return {k: v if k in keep else v.index_select(0, index) for k, v in state.items()}


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, max_len) bool, True where a position is real (not padding)."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]
