"""A small hand-written Elman RNN: ``h_t = act(W_x x_t + W_h h_{t-1} + b)``.

Why a custom cell when torch has ``nn.RNN``: ``nn.RNN`` only offers ``tanh`` and ``relu``. The
course's experiments compare a *sigmoid* recurrence with ReLU and tanh (the classic binary-addition
network has sigmoid hidden units), so the activation has to be pluggable. The cell is also small
enough to read in one sitting, which is the point of an experiment meant for teaching.

Speed: the input projection ``W_x x_t + b`` does not depend on ``h``, so it is computed for all
time steps in one matrix product before the loop; only ``W_h h_{t-1}`` stays inside the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from seqtool.errors import SettingError, check_settings_positive

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
}
INITS = ("xavier", "he", "normal")
# "normal" is the naive init of hand-written numpy RNNs (np.random.randn * 0.1 style): a fixed
# standard deviation that ignores the layer's fan-in, kept as a baseline to compare against.
NORMAL_INIT_STD = 0.1


@dataclass
class ElmanConfig:
    """Shape and behaviour of an :class:`ElmanRNN`."""

    input_size: int
    hidden_size: int
    activation: str = "tanh"  # sigmoid | tanh | relu
    init: str = "xavier"  # xavier | he | normal (weights; biases start at zero)

    def validate(self) -> None:
        check_settings_positive(self, "input_size", "hidden_size")
        if self.activation not in ACTIVATIONS:
            raise SettingError(f"`activation` must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.init not in INITS:
            raise SettingError(f"`init` must be one of {', '.join(INITS)}, got {self.init!r}")


class ElmanRNN(nn.Module):
    """A single-layer Elman recurrence over batch-first sequences.

    ``forward(x)`` takes ``x`` of shape ``(batch, time, input_size)`` and an optional initial state
    ``h0`` of shape ``(batch, hidden_size)`` (zeros by default); it returns all hidden states,
    ``(batch, time, hidden_size)``, and the last one, ``(batch, hidden_size)`` - the same contract
    as ``nn.RNN(batch_first=True)`` minus the layer dimension.
    """

    def __init__(self, config: ElmanConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.act = ACTIVATIONS[config.activation]
        self.input_proj = nn.Linear(config.input_size, config.hidden_size)  # W_x and b
        self.recurrent = nn.Linear(config.hidden_size, config.hidden_size, bias=False)  # W_h
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise ``W_x`` and ``W_h`` by the configured scheme; the bias starts at zero.

        xavier (Glorot uniform) keeps the variance of pre-activations near 1 for saturating units
        (sigmoid, tanh); he (Kaiming uniform, fan-in) doubles it to make up for ReLU zeroing half its
        inputs; normal uses a fixed std that ignores fan-in.
        """
        for weight in (self.input_proj.weight, self.recurrent.weight):
            if self.config.init == "xavier":
                nn.init.xavier_uniform_(weight)
            elif self.config.init == "he":
                nn.init.kaiming_uniform_(weight, nonlinearity="relu")
            else:
                nn.init.normal_(weight, std=NORMAL_INIT_STD)
        nn.init.zeros_(self.input_proj.bias)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 3 or x.size(-1) != self.config.input_size:
            raise ValueError(f"expected (batch, time, {self.config.input_size}) input, got {tuple(x.shape)}")
        batch, steps, _ = x.shape
        projected = self.input_proj(x)  # (batch, time, hidden): all input terms at once
        h = h0 if h0 is not None else x.new_zeros(batch, self.config.hidden_size)
        states = []
        for t in range(steps):
            h = self.act(projected[:, t] + self.recurrent(h))
            states.append(h)
        return torch.stack(states, dim=1), h
