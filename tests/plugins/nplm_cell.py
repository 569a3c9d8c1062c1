"""A new language-model cell in one file: Bengio et al.'s (2003) neural probabilistic LM.

The next word is predicted from the concatenated embeddings of the ``order`` previous words through one
tanh layer. Registered as ``--cell nplm`` (train it with ``seqtool train lm --set cell=nplm --set order=3``);
nothing under seqtool/ knows it exists. docs/extending.md walks through this file.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqtool.data.batch import Batch
from seqtool.data.specials import BOS
from seqtool.errors import SettingError
from seqtool.models.base import SequenceModel, State
from seqtool.models.lm_config import LMConfig, register_cell


@register_cell("nplm")
@dataclass
class NPLMConfig(LMConfig):
    """The shared LM settings (emb_dim, hidden, dropout, tie_weights; layers unused) and the window size."""

    order: int = 3  # previous words the prediction reads

    def validate(self) -> None:
        super().validate()
        if self.order <= 0:
            raise SettingError(f"`order` must be > 0, got {self.order}")

    def build(self) -> NPLM:
        return NPLM(self)


class NPLM(SequenceModel):
    def __init__(self, cfg: NPLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=0)
        self.hidden = nn.Linear(cfg.order * cfg.emb_dim, cfg.hidden)
        self.to_emb = nn.Linear(cfg.hidden, cfg.emb_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.output = nn.Linear(cfg.emb_dim, cfg.vocab_size)
        if cfg.tie_weights:
            self.output.weight = self.embed.weight

    def _read(self, windows: torch.Tensor) -> torch.Tensor:
        """(..., order) token windows -> (..., emb_dim) features."""
        x = self.embed(windows).flatten(-2)
        return self.to_emb(self.dropout(torch.tanh(self.hidden(x))))

    def features(self, batch: Batch) -> torch.Tensor:
        n = self.cfg.order
        padded = torch.cat([batch.tgt_in.new_full((batch.tgt_in.shape[0], n - 1), BOS), batch.tgt_in], dim=1)
        return self._read(padded.unfold(1, n, 1))  # window t ends with tgt_in[:, t]

    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        device = self.embed.weight.device
        return {"window": torch.full((batch_size, self.cfg.order), BOS, dtype=torch.long, device=device)}

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        window = torch.cat([state["window"][:, 1:], tokens[:, None]], dim=1)
        return self.logits(self._read(window)), {"window": window}
