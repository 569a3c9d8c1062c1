"""HRED and VHRED: replies that follow the conversation (Serban et al. 2016, 2017).

HRED is a seq2seq model with one more level: an utterance encoder (GRU) turns each of the last K
utterances into a vector, a context GRU reads those vectors in order, and its final state conditions
a GRU decoder (initial state, and an input at every step) that writes the reply. With K = 1 it is a
plain seq2seq model of the last utterance, the baseline the hierarchy is measured against.

VHRED adds a latent z per reply: a prior p(z | context) and, while training, a posterior q(z | context,
reply) that also reads the encoded reply; the decoder is conditioned on [context, z] and the KL of q
from p joins the loss through :meth:`auxiliary_loss` (annealed, with free bits and decoder word
dropout, the sentence VAE's remedies against a collapsed KL, see :mod:`seqtool.models.vae`). Replies
are decoded from a z drawn from the prior, so one context gets varied replies.

The context rides in :attr:`Batch.context` (B, K, S): utterance ids padded with 0, earlier slots of
a short history left empty (all 0); decoding passes it as ``src`` to :meth:`start`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from seqtool.data.batch import Batch
from seqtool.data.specials import PAD
from seqtool.errors import SettingError, check_settings_positive
from seqtool.models.base import SequenceModel, State
from seqtool.models.vae import Annealed, eval_noise, gaussian_kl, word_dropout

DIALOG_ARCHS = {"hred": False, "vhred": True}  # arch -> whether replies have a latent variable


@dataclass
class DialogConfig:
    """Every key of a dialogue model's config.json "model" section."""

    vocab_size: int = 10000
    arch: str = "hred"  # hred | vhred
    context: int = 3  # utterances read before the reply (1: seq2seq on the last utterance)
    emb_dim: int = 128
    hidden: int = 256  # utterance encoder and decoder
    context_hidden: int = 256
    layers: int = 1  # decoder layers
    dropout: float = 0.2
    tie_weights: bool = True
    latent: int = 32  # VHRED only
    word_dropout: float = 0.25  # VHRED only: decoder input words replaced by <unk> while training
    kl_anneal_steps: int = 1000  # VHRED only
    free_bits: float = 0.05  # VHRED only: minimum KL per latent dimension in the training loss

    def validate(self) -> None:
        if self.arch not in DIALOG_ARCHS:
            raise SettingError(f"`arch` must be one of {', '.join(DIALOG_ARCHS)}, got {self.arch!r}")
        check_settings_positive(
            self, "vocab_size", "context", "emb_dim", "hidden", "context_hidden", "layers", "latent"
        )
        for name in ("dropout", "word_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise SettingError(f"`{name}` must be in [0, 1), got {getattr(self, name)}")
        if self.kl_anneal_steps < 0 or self.free_bits < 0:
            raise SettingError("`kl_anneal_steps` and `free_bits` must be >= 0")


def _gaussian(layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu, logvar = layer(x).chunk(2, dim=-1)
    return mu, logvar


class HRED(SequenceModel):
    def __init__(self, cfg: DialogConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.variational = DIALOG_ARCHS[cfg.arch]
        cond = cfg.context_hidden + (cfg.latent if self.variational else 0)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=0)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        # The encoders read their own embedding, at torch's N(0, 1) scale: the decoder's (small, as it is
        # tied to the output layer) would hand them inputs too alike to tell utterances apart early on.
        self.encoder_embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=0)
        self.utterance = nn.GRU(cfg.emb_dim, cfg.hidden, batch_first=True)
        self.context_rnn = nn.GRU(cfg.hidden, cfg.context_hidden, batch_first=True)
        self.to_hidden = nn.Linear(cond, cfg.layers * cfg.hidden)
        self.decoder = nn.GRU(
            cfg.emb_dim + cond, cfg.hidden, cfg.layers, batch_first=True, dropout=cfg.dropout if cfg.layers > 1 else 0
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(cfg.hidden, cfg.emb_dim) if cfg.tie_weights and cfg.hidden != cfg.emb_dim else None
        self.output = nn.Linear(cfg.emb_dim if cfg.tie_weights else cfg.hidden, cfg.vocab_size)
        if cfg.tie_weights:
            self.output.weight = self.embed.weight
        if self.variational:
            c, z = cfg.context_hidden, cfg.latent
            self.prior = nn.Sequential(nn.Linear(c, c), nn.Tanh(), nn.Linear(c, 2 * z))
            self.posterior = nn.Sequential(nn.Linear(c + cfg.hidden, c), nn.Tanh(), nn.Linear(c, 2 * z))
            self.anneal = Annealed()
        self.source_state = frozenset({"c"})

    # ----- encoders
    def encode_utterances(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, S) utterances -> (N, hidden) final states; an empty utterance (all padding) gives 0."""
        lengths = (tokens != PAD).sum(1)
        x = self.dropout(self.encoder_embed(tokens))
        packed = pack_padded_sequence(x, lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False)
        _, h = self.utterance(packed)
        return h[-1] * (lengths > 0)[:, None].to(h.dtype)

    def encode_context(self, context: torch.Tensor) -> torch.Tensor:
        """(B, K, S) context utterances -> (B, context_hidden)."""
        b, k, s = context.shape
        vectors = self.encode_utterances(context.reshape(b * k, s)).view(b, k, -1)
        _, h = self.context_rnn(vectors)
        return self.dropout(h[-1])

    def _condition(self, c: torch.Tensor, reply: torch.Tensor | None) -> torch.Tensor:
        """The decoder's conditioning vector: c, and for VHRED a z (posterior while training with a
        reply; the prior otherwise)."""
        if not self.variational:
            return c
        mu_p, logvar_p = _gaussian(self.prior, c)
        if reply is None:
            return torch.cat([c, mu_p + (0.5 * logvar_p).exp() * torch.randn_like(mu_p)], dim=-1)
        mu, logvar = _gaussian(self.posterior, torch.cat([c, self.encode_utterances(reply)], dim=-1))
        eps = torch.randn_like(mu) if self.training else eval_noise(mu.shape, mu.device)
        self.anneal.record(gaussian_kl(mu, logvar, mu_p, logvar_p), self.training)
        return torch.cat([c, mu + (0.5 * logvar).exp() * eps], dim=-1)

    def _initial(self, cond: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.to_hidden(cond)).view(cond.shape[0], self.cfg.layers, self.cfg.hidden)

    def _read_out(self, out: torch.Tensor) -> torch.Tensor:
        out = self.dropout(out)
        return self.proj(out) if self.proj is not None else out

    # ----- training
    def features(self, batch: Batch) -> torch.Tensor:
        if batch.context is None:
            raise ValueError("a dialogue batch needs its context")
        cond = self._condition(self.encode_context(batch.context), batch.tgt_out)
        words = word_dropout(batch.tgt_in, self.cfg.word_dropout) if self.variational and self.training else None
        x = self.dropout(self.embed(batch.tgt_in if words is None else words))
        x = torch.cat([x, cond[:, None].expand(-1, x.shape[1], -1)], dim=-1)
        out, _ = self.decoder(x, self._initial(cond).transpose(0, 1).contiguous())
        return self._read_out(out)

    def auxiliary_loss(self) -> torch.Tensor | None:
        if not self.variational:
            return None
        return self.anneal.loss(self.cfg.kl_anneal_steps, self.cfg.free_bits, self.training)

    def auxiliary_metrics(self) -> dict[str, float]:
        return {"kl": float(self.anneal.kl.sum())} if self.variational and self.anneal.kl is not None else {}

    # ----- decoding: src is the context (B, K, S)
    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        if src is None:
            raise ValueError("a dialogue model starts from a context")
        cond = self._condition(self.encode_context(src), None)
        return {"c": cond, "h": self._initial(cond)}

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        x = torch.cat([self.embed(tokens), state["c"]], dim=-1)[:, None]
        out, h = self.decoder(x, state["h"].transpose(0, 1).contiguous())
        return self.logits(self._read_out(out[:, 0])), {"c": state["c"], "h": h.transpose(0, 1)}
