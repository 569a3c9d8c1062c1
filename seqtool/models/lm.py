"""Language models: recurrent (RNN/LSTM/GRU), Transformer (decoder-only), and the window model.

A causal LM reads ``<bos> w1 ... wn`` and predicts ``w1 ... wn <eos>``. The window model is the
course's exercise "predict the next word from the previous N words": its recurrent cell reads only
a window of N tokens (left-padded with ``<bos>``) and may read it both ways (``bidirectional``),
which a causal LM cannot do without seeing the word it must predict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from seqtool.data.batch import Batch
from seqtool.data.specials import BOS
from seqtool.errors import SettingError
from seqtool.models import vae, wavenet  # noqa: F401  (their cells register on import)
from seqtool.models.base import SequenceModel, State
from seqtool.models.lm_config import CELLS, LMConfig, lm_config, register_cell
from seqtool.models.rnn import ACTIVATIONS, hidden_to_state, make_rnn, state_to_hidden, zero_hidden
from seqtool.models.transformer import TransformerStack


@register_cell("lstm", "gru")
@dataclass
class RecurrentLMConfig(LMConfig):
    """A recurrent LM (torch's fused cells), or the window model with ``context`` > 0."""

    context: int = 0  # 0: causal LM over the whole sentence; N > 0: window model over N previous tokens
    bidirectional: bool = False  # window model only

    recipe: ClassVar[str] = "stream_sgd"
    sgd_lr: ClassVar[float] = 20.0  # the stream recipe's rate (Zaremba et al. 2014)

    def validate(self) -> None:
        super().validate()
        if self.context < 0:
            raise SettingError(f"`context` must be >= 0, got {self.context}")
        if self.bidirectional and self.context == 0:
            raise SettingError(
                "`bidirectional` needs `context` N: a causal LM read backwards would see the word it must predict"
            )

    def build(self) -> SequenceModel:
        return WindowLM(self) if self.context else RecurrentLM(self)

    def train_recipe(self, optimizer: str | None) -> str:
        # Streams + SGD for causal recurrent LMs unless Adam is asked for; a window model reads windows.
        return "stream_sgd" if not self.context and optimizer in (None, "sgd") else "adam"

    def arch_name(self) -> str:
        if self.context:
            return f"window-{'bi' if self.bidirectional else ''}{self.cell}-{self.context}"
        return f"{self.cell}-lm"

    def default_name(self) -> str:
        return f"{'bi' if self.bidirectional else ''}{self.cell}-window" if self.context else f"{self.cell}-lm"


@register_cell("rnn")
@dataclass
class ElmanLMConfig(RecurrentLMConfig):
    """The plain (Elman) RNN: a recurrent LM with a choice of activation."""

    activation: str = "tanh"  # tanh | relu

    # A plain RNN diverges at the stream recipe's rate 20 (tanh: dev perplexity 9e20 after one epoch,
    # docs/benchmarks.md), so it starts at 2.
    sgd_lr: ClassVar[float] = 2.0

    def validate(self) -> None:
        super().validate()
        if self.activation not in ACTIVATIONS:
            raise SettingError(f"`activation` must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")

    def arch_name(self) -> str:
        return super().arch_name() if self.context else f"rnn-{self.activation}-lm"


@register_cell("transformer")
@dataclass
class TransformerLMConfig(LMConfig):
    """A decoder-only Transformer; its width is ``emb_dim``."""

    heads: int = 4
    ff_dim: int | None = None  # None: 4 * emb_dim

    # Decayed linearly to 0 over the budget: 10 minutes on train.en gave dev perplexity 18.03 against
    # 21.64 with the plateau schedule, side by side (docs/benchmarks.md).
    recipe: ClassVar[str] = "adam_linear"
    exportable: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.ff_dim is None:
            self.ff_dim = 4 * self.emb_dim

    def validate(self) -> None:
        super().validate()
        if self.heads <= 0 or self.emb_dim % self.heads:
            raise SettingError(f"`emb_dim` {self.emb_dim} must be divisible by `heads` {self.heads}")

    def build(self) -> SequenceModel:
        return TransformerLM(self)


class _TiedOutput(nn.Module):
    """Optional projection to the embedding size, then the (possibly tied) vocabulary layer."""

    def __init__(self, in_dim: int, embedding: nn.Embedding, tie: bool) -> None:
        super().__init__()
        emb_dim = embedding.weight.shape[1]
        self.proj = nn.Linear(in_dim, emb_dim) if tie and in_dim != emb_dim else None
        self.out = nn.Linear(emb_dim if tie else in_dim, embedding.weight.shape[0])
        if tie:
            self.out.weight = embedding.weight

    @property
    def linear(self) -> nn.Linear:
        """The vocabulary layer, for the chunked training loss (``SequenceModel.output_linear``). A property,
        not a second attribute: a module registered twice would add keys to every saved state dict."""
        return self.out

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) if self.proj is not None else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(x)


class RecurrentLM(SequenceModel):
    carries_state = True

    def __init__(self, cfg: RecurrentLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=0)
        self.rnn = make_rnn(cfg.cell, cfg.emb_dim, cfg.hidden, cfg.layers, cfg.dropout,
                            activation=getattr(cfg, "activation", "tanh"))  # fmt: skip
        self.dropout = nn.Dropout(cfg.dropout)
        self.output = _TiedOutput(cfg.hidden, self.embed, cfg.tie_weights)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)

    def features(self, batch: Batch) -> torch.Tensor:
        start = state_to_hidden(self.carried) if batch.carry and self.carried is not None else None
        out, hidden = self.rnn(self.dropout(self.embed(batch.tgt_in)), start)
        if batch.stream:  # the next window of these streams starts here (no gradient across windows)
            self.carried = {k: v.detach() for k, v in hidden_to_state(hidden).items()}
        return self.output.project(self.dropout(out))

    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        return hidden_to_state(zero_hidden(self.rnn, batch_size, self.embed.weight.device))

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        out, hidden = self.rnn(self.embed(tokens[:, None]), state_to_hidden(state))
        logits = self.logits(self.output.project(out[:, 0]))
        return logits, hidden_to_state(hidden)


class TransformerLM(SequenceModel):
    """Decoder-only Transformer: causal self-attention blocks, tied output layer."""

    def __init__(self, cfg: TransformerLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.stack = TransformerStack(
            cfg.vocab_size, cfg.emb_dim, cfg.layers, cfg.heads, cfg.ff_dim, cfg.dropout, cross_attention=False
        )
        self.output = nn.Linear(cfg.emb_dim, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.output.weight = self.stack.embed.weight

    def features(self, batch: Batch) -> torch.Tensor:
        x = self.stack.embed_tokens(batch.tgt_in)
        for block in self.stack.blocks:
            x, _ = block(x, causal=True)
        return self.stack.norm(x)

    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        return {"pos": torch.zeros(batch_size, dtype=torch.long, device=self.output.weight.device)}

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        offset = int(state["pos"][0])
        x = self.stack.embed_tokens(tokens[:, None], offset)
        new: State = {"pos": state["pos"] + 1}
        for i, block in enumerate(self.stack.blocks):
            cache = (state[f"k{i}"], state[f"v{i}"]) if offset > 0 else None
            x, (new[f"k{i}"], new[f"v{i}"]) = block(x, cache=cache)
        logits = self.logits(self.stack.norm(x[:, 0]))
        return logits, new


class WindowLM(SequenceModel):
    """Predict the next token from the previous ``context`` tokens with a (bi)directional cell."""

    def __init__(self, cfg: RecurrentLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=0)
        self.rnn = make_rnn(cfg.cell, cfg.emb_dim, cfg.hidden, cfg.layers, cfg.dropout, cfg.bidirectional,
                            getattr(cfg, "activation", "tanh"))  # fmt: skip
        self.dropout = nn.Dropout(cfg.dropout)
        read_dim = cfg.hidden * (2 if cfg.bidirectional else 1)
        self.output = _TiedOutput(read_dim, self.embed, cfg.tie_weights)
        # Small initial embeddings (as in RecurrentLM): with tied weights, torch's N(0, 1) default
        # would start the output layer far from uniform (initial loss above log(vocabulary)).
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)

    def _read(self, windows: torch.Tensor) -> torch.Tensor:
        """(N, context) token windows -> (N, D) features."""
        out, _ = self.rnn(self.dropout(self.embed(windows)))
        h = self.cfg.hidden
        # Forward direction: its last step has read the whole window; backward: its first step has.
        summary = torch.cat([out[:, -1, :h], out[:, 0, h:]], dim=-1) if self.cfg.bidirectional else out[:, -1]
        return self.output.project(self.dropout(summary))

    def features(self, batch: Batch) -> torch.Tensor:
        n = self.cfg.context
        b, t = batch.tgt_in.shape
        padded = torch.cat([batch.tgt_in.new_full((b, n - 1), BOS), batch.tgt_in], dim=1)
        windows = padded.unfold(1, n, 1)  # (B, T, n): window i ends with tgt_in[:, i]
        mask = batch.tgt_out != 0
        feats = self._read(windows[mask])
        out = feats.new_zeros(b, t, feats.shape[-1])
        out[mask] = feats
        return out

    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        device = self.embed.weight.device
        return {"window": torch.full((batch_size, self.cfg.context), BOS, dtype=torch.long, device=device)}

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        window = torch.cat([state["window"][:, 1:], tokens[:, None]], dim=1)
        logits = self.logits(self._read(window))
        return logits, {"window": window}


def build_lm(cfg: LMConfig) -> SequenceModel:
    """The model of a validated cell config (see :func:`seqtool.models.lm_config.lm_config`)."""
    cfg.validate()
    return cfg.build()


__all__ = ["CELLS", "LMConfig", "build_lm", "lm_config", "register_cell", "vae", "wavenet"]
