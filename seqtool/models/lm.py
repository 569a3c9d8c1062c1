"""Language models: recurrent (RNN/LSTM/GRU), Transformer (decoder-only), and the window model.

A causal LM reads ``<bos> w1 ... wn`` and predicts ``w1 ... wn <eos>``. The window model is the
course's exercise "predict the next word from the previous N words": its recurrent cell reads only
a window of N tokens (left-padded with ``<bos>``) and may read it both ways (``bidirectional``),
which a causal LM cannot do without seeing the word it must predict.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqtool.data.batch import Batch
from seqtool.data.specials import BOS
from seqtool.errors import OptionError
from seqtool.models.base import SequenceModel, State
from seqtool.models.rnn import ACTIVATIONS, CELLS, hidden_to_state, make_rnn, state_to_hidden
from seqtool.models.transformer import TransformerStack
from seqtool.models.vae import SentenceVAE
from seqtool.models.wavenet import WaveNetLM

LM_CELLS = (*CELLS, "transformer", "wavenet", "vae")


@dataclass
class LMConfig:
    """Every key of a language model's ``config.json`` "model" section."""

    vocab_size: int = 10000
    cell: str = "lstm"  # rnn | lstm | gru | transformer | wavenet | vae
    activation: str = "tanh"  # plain RNN only: tanh | relu
    layers: int = 2
    emb_dim: int = 256
    hidden: int = 256  # recurrent state size; the Transformer uses emb_dim as its width
    dropout: float = 0.3
    tie_weights: bool = True  # share the input embedding with the output layer (Press & Wolf 2017)
    context: int = 0  # 0: causal LM over the whole sentence; N > 0: window model over N previous tokens
    bidirectional: bool = False  # window model only
    heads: int = 4  # Transformer only
    ff_dim: int | None = None  # Transformer only; None: 4 * emb_dim
    kernel: int = 2  # WaveNet only: convolution width
    dilation_cycle: int = 4  # WaveNet only: dilations kernel**0 .. kernel**(cycle-1), repeated
    channels: int = 256  # WaveNet only: residual/skip channels
    latent: int = 32  # VAE only: size of z
    word_dropout: float = 0.4  # VAE only: decoder input words replaced by <unk> while training
    kl_anneal_steps: int = 1000  # VAE only: KL weight grows linearly from 0 to 1 over these steps
    free_bits: float = 0.125  # VAE only: minimum KL (nats) per latent dimension in the training loss

    def __post_init__(self) -> None:
        if self.ff_dim is None:
            self.ff_dim = 4 * self.emb_dim

    def validate(self) -> None:
        if self.cell not in LM_CELLS:
            raise OptionError(f"--cell must be one of {', '.join(LM_CELLS)}, got {self.cell!r}")
        if self.activation not in ACTIVATIONS:
            raise OptionError(f"--activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.activation != "tanh" and self.cell != "rnn":
            raise OptionError("--activation applies to --cell rnn only")
        for name in ("layers", "emb_dim", "hidden", "vocab_size"):
            if getattr(self, name) <= 0:
                raise OptionError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise OptionError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.context < 0:
            raise OptionError(f"--context must be >= 0, got {self.context}")
        if self.cell == "vae":
            if self.bidirectional:
                raise OptionError("--bidirectional does not apply to --cell vae (it is a causal sentence model)")
            if self.latent <= 0 or self.kl_anneal_steps < 0 or self.free_bits < 0:
                raise OptionError("--latent must be > 0, --kl-anneal-steps and --free-bits >= 0")
            if not 0 <= self.word_dropout < 1:
                raise OptionError(f"--word-dropout must be in [0, 1), got {self.word_dropout}")
        if self.bidirectional and self.context == 0:
            raise OptionError(
                "--bidirectional needs --context N: a causal LM read backwards would see the word it must predict"
            )
        if self.context and self.cell not in CELLS:
            raise OptionError("--context (the window model) needs a recurrent --cell: rnn, lstm or gru")
        if self.cell == "wavenet":
            for name in ("kernel", "dilation_cycle", "channels"):
                if getattr(self, name) <= 0:
                    raise OptionError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
            if self.kernel < 2:
                raise OptionError(f"--kernel must be >= 2 (a width-1 convolution sees no context), got {self.kernel}")
        if self.cell == "transformer" and self.emb_dim % self.heads:
            raise OptionError(f"--emb-dim {self.emb_dim} must be divisible by --heads {self.heads}")


class _TiedOutput(nn.Module):
    """Optional projection to the embedding size, then the (possibly tied) vocabulary layer."""

    def __init__(self, in_dim: int, embedding: nn.Embedding, tie: bool) -> None:
        super().__init__()
        emb_dim = embedding.weight.shape[1]
        self.proj = nn.Linear(in_dim, emb_dim) if tie and in_dim != emb_dim else None
        self.out = nn.Linear(emb_dim if tie else in_dim, embedding.weight.shape[0])
        if tie:
            self.out.weight = embedding.weight

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) if self.proj is not None else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(x)


class RecurrentLM(SequenceModel):
    carries_state = True

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=0)
        self.rnn = make_rnn(cfg.cell, cfg.emb_dim, cfg.hidden, cfg.layers, cfg.dropout, activation=cfg.activation)
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
        device = self.embed.weight.device
        zeros = torch.zeros(self.cfg.layers, batch_size, self.cfg.hidden, device=device)
        return hidden_to_state((zeros, zeros.clone()) if self.cfg.cell == "lstm" else zeros)

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        out, hidden = self.rnn(self.embed(tokens[:, None]), state_to_hidden(state))
        logits = self.logits(self.output.project(out[:, 0]))
        return logits, hidden_to_state(hidden)


class TransformerLM(SequenceModel):
    """Decoder-only Transformer: causal self-attention blocks, tied output layer."""

    def __init__(self, cfg: LMConfig) -> None:
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

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=0)
        self.rnn = make_rnn(
            cfg.cell, cfg.emb_dim, cfg.hidden, cfg.layers, cfg.dropout, cfg.bidirectional, cfg.activation
        )
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


# The registry: --cell -> model class (recurrent cells build RecurrentLM, or WindowLM with --context).
LM_MODELS: dict[str, type[SequenceModel]] = {"transformer": TransformerLM, "wavenet": WaveNetLM, "vae": SentenceVAE}


def build_lm(cfg: LMConfig) -> SequenceModel:
    cfg.validate()
    if cfg.context:
        return WindowLM(cfg)
    return LM_MODELS.get(cfg.cell, RecurrentLM)(cfg)  # type: ignore[call-arg]
