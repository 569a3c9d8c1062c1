"""WaveNet as a language model: stacked dilated causal convolutions (van den Oord et al. 2016).

Layer ``i`` convolves its input with kernel ``kernel`` and dilation ``kernel ** (i % dilation_cycle)``
(1, 2, 4, 8, 1, 2, ... for kernel 2), padded on the left only, so position ``t`` never reads a later
position. Each layer is gated (tanh(filter) x sigmoid(gate)), adds a 1x1 convolution of the result to
its input (residual) and sends another 1x1 convolution to the skip sum that the output layer reads.
A token sees ``receptive_field`` tokens back (itself included); earlier ones are invisible.

Generation does not recompute the window: each layer keeps a queue of its last ``(kernel - 1) x
dilation`` inputs in the decoding state (fast generation, Paine et al. 2016), so one step costs one
column of every convolution. The queues are batch-first state entries like any other model's, so
beam search and sampling reorder them without knowing what they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqtool.data.batch import Batch
from seqtool.errors import SettingError, check_settings_positive
from seqtool.models.base import SequenceModel, State
from seqtool.models.lm_config import LMConfig, register_cell


@register_cell("wavenet")
@dataclass
class WaveNetConfig(LMConfig):
    """``--cell wavenet``: the shared LM settings (layers, emb_dim, dropout, tie_weights) and its own."""

    kernel: int = 2  # convolution width
    dilation_cycle: int = 4  # dilations kernel**0 .. kernel**(cycle-1), repeated
    channels: int = 256  # residual/skip channels

    def validate(self) -> None:
        super().validate()
        check_settings_positive(self, "kernel", "dilation_cycle", "channels")
        if self.kernel < 2:
            raise SettingError(f"`kernel` must be >= 2 (a width-1 convolution sees no context), got {self.kernel}")

    def build(self) -> WaveNetLM:
        return WaveNetLM(self)


def dilations(layers: int, kernel: int, cycle: int) -> list[int]:
    return [kernel ** (i % cycle) for i in range(layers)]


def receptive_field(layers: int, kernel: int, cycle: int) -> int:
    """Tokens that one output position can see, itself included."""
    return 1 + sum((kernel - 1) * d for d in dilations(layers, kernel, cycle))


class GatedLayer(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.kernel, self.dilation = kernel, dilation
        self.conv = nn.Conv1d(channels, 2 * channels, kernel, dilation=dilation)
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    @property
    def span(self) -> int:
        """Past inputs this layer reads besides the current one (its queue length)."""
        return (self.kernel - 1) * self.dilation

    def _gate(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        filt, gate = pre.chunk(2, dim=1)
        z = self.dropout(torch.tanh(filt) * torch.sigmoid(gate))
        return self.res(z), self.skip(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, T) -> (residual output (B, C, T), skip (B, C, T)); causal by left padding."""
        res, skip = self._gate(self.conv(F.pad(x, (self.span, 0))))
        return x + res, skip

    def step(self, x: torch.Tensor, queue: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One position: x (B, C), queue (B, span, C) of the previous inputs, oldest first."""
        taps = torch.cat([queue[:, :: self.dilation], x[:, None]], dim=1)  # (B, kernel, C)
        pre = torch.einsum("bkc,ock->bo", taps, self.conv.weight) + self.conv.bias
        res, skip = self._gate(pre[:, :, None])
        return x + res[:, :, 0], skip[:, :, 0], torch.cat([queue[:, 1:], x[:, None]], dim=1)


class WaveNetLM(SequenceModel):
    """Config: :class:`WaveNetConfig`."""

    def __init__(self, cfg: WaveNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        channels = cfg.channels
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=0)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        self.inp = nn.Conv1d(cfg.emb_dim, channels, 1)
        self.layers = nn.ModuleList(
            GatedLayer(channels, cfg.kernel, d, cfg.dropout)
            for d in dilations(cfg.layers, cfg.kernel, cfg.dilation_cycle)
        )
        self.head = nn.Conv1d(channels, cfg.emb_dim if cfg.tie_weights else channels, 1)
        self.dropout = nn.Dropout(cfg.dropout)
        self.output = nn.Linear(cfg.emb_dim if cfg.tie_weights else channels, cfg.vocab_size)
        if cfg.tie_weights:
            self.output.weight = self.embed.weight

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.cfg.layers, self.cfg.kernel, self.cfg.dilation_cycle)

    def info(self) -> dict[str, int]:
        return {"receptive_field": self.receptive_field}

    def _read_out(self, skip: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(skip))

    def features(self, batch: Batch) -> torch.Tensor:
        x = self.inp(self.dropout(self.embed(batch.tgt_in)).transpose(1, 2))
        skips = torch.zeros_like(x)
        for layer in self.layers:
            x, skip = layer(x)
            skips = skips + skip
        return self.dropout(self._read_out(skips).transpose(1, 2))

    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        w = self.embed.weight
        return {f"q{i}": w.new_zeros(batch_size, layer.span, self.cfg.channels) for i, layer in enumerate(self.layers)}

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        x = self.inp(self.embed(tokens)[:, :, None])[:, :, 0]
        skips = torch.zeros_like(x)
        new: State = {}
        for i, layer in enumerate(self.layers):
            x, skip, new[f"q{i}"] = layer.step(x, state[f"q{i}"])
            skips = skips + skip
        return self.logits(self._read_out(skips[:, :, None])[:, :, 0]), new
