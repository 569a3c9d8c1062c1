"""An ensemble: several trained models that share a target vocabulary decode and score as one model.

At every step each member computes its next-token log-probabilities from its own state, and the
ensemble's are their average (OpenNMT-py and fairseq ensemble the same way; the search renormalizes).
Members keep their own decoding states, side by side in one flat state dict under a prefix each, so
beam search reorders them as it reorders any model's state. Training an ensemble is training its
members: this is a decoding-time model only (``features`` gives the averaged log-probabilities of a
teacher-forced pass, for scoring).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seqtool.data.batch import Batch
from seqtool.models.base import SequenceModel, State


class Ensemble(SequenceModel):
    def __init__(self, members: Sequence[SequenceModel]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.source_state = frozenset(f"m{i}.{k}" for i, m in enumerate(members) for k in m.source_state)

    def features(self, batch: Batch) -> torch.Tensor:
        """The averaged log-probabilities (B, T, V) of a teacher-forced pass (``logits`` passes them on)."""
        return torch.stack([torch.log_softmax(m.logits(m.features(batch)).float(), dim=-1)
                            for m in self.members]).mean(0)  # fmt: skip

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return features

    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        return {
            f"m{i}.{k}": v for i, m in enumerate(self.members) for k, v in m.start(src, src_lengths, batch_size).items()
        }

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        new: State = {}
        logps = []
        for i, member in enumerate(self.members):
            prefix = f"m{i}."
            own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            logits, own = member.step_logits(tokens, own)
            logps.append(torch.log_softmax(logits.float(), dim=-1))
            new.update({prefix + k: v for k, v in own.items()})
        return torch.stack(logps).mean(0), new
