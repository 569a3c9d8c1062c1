"""The recurrent cells behind one constructor, and conversions of their states for decoding.

torch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` are used (they run the whole sequence in one call,
with oneDNN kernels on the CPU and cuDNN on GPUs); :mod:`seqtool.models.elman` has the small
hand-written cell used where a sigmoid activation is wanted.
"""

from __future__ import annotations

import torch
from torch import nn

from seqtool.models.base import State

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}  # torch's fused cells
ACTIVATIONS = ("tanh", "relu")

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def make_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
    activation: str = "tanh",
) -> nn.RNNBase:
    """A batch-first recurrent layer stack. ``activation`` applies to the plain RNN only."""
    common = dict(
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=layers,
        dropout=dropout if layers > 1 else 0.0,  # torch applies it between layers only
        bidirectional=bidirectional,
        batch_first=True,
    )
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    if CELLS[cell] is nn.RNN:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        return nn.RNN(nonlinearity=activation, **common)
    return CELLS[cell](**common)


def zero_hidden(rnn: nn.RNNBase, batch: int, device: torch.device) -> Hidden:
    """The all-zero initial state of ``rnn`` for ``batch`` rows: (h, c) for an LSTM, h otherwise."""
    zeros = torch.zeros(rnn.num_layers, batch, rnn.hidden_size, device=device)
    return (zeros, zeros.clone()) if isinstance(rnn, nn.LSTM) else zeros


def hidden_to_state(hidden: Hidden, prefix: str = "h") -> State:
    """(layers, B, H) tensors -> batch-first entries of a decoding state."""
    if isinstance(hidden, tuple):
        return {f"{prefix}": hidden[0].transpose(0, 1), f"{prefix}_c": hidden[1].transpose(0, 1)}
    return {prefix: hidden.transpose(0, 1)}


def state_to_hidden(state: State, prefix: str = "h") -> Hidden:
    h = state[prefix].transpose(0, 1).contiguous()
    if f"{prefix}_c" in state:
        return h, state[f"{prefix}_c"].transpose(0, 1).contiguous()
    return h
