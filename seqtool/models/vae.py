"""A sentence VAE (Bowman et al. 2016), and the latent-variable pieces VHRED reuses.

A GRU encoder reads the sentence and gives the mean and log-variance of q(z | x); z = mu + sigma * eps
(the reparameterization trick) sets the decoder's initial state and is fed, with every input word, to
a GRU decoder. The training loss is the negative ELBO: the token cross-entropy plus the KL divergence
of q(z | x) from the standard normal prior, returned by :meth:`SentenceVAE.auxiliary_loss` so that the
shared training loop adds it (see :func:`seqtool.training.criterion.token_nll`).

Two remedies against posterior collapse (the decoder ignoring z, the KL going to zero), both on by
default: the KL weight grows linearly from 0 to 1 over ``kl_anneal_steps`` training steps, and
``word_dropout`` replaces that fraction of the decoder's input words by ``<unk>``, so the decoder must
rely on z to know the sentence. Evaluation uses the full KL weight, so dev perplexity is the
ELBO-based upper bound on the true per-word perplexity (one posterior sample, fixed noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from seqtool.data.batch import Batch
from seqtool.data.specials import BOS, PAD, UNK
from seqtool.errors import SettingError
from seqtool.models.base import SequenceModel, State
from seqtool.models.lm_config import LMConfig, register_cell


@register_cell("vae")
@dataclass
class VAEConfig(LMConfig):
    """``--cell vae``: the shared LM settings (emb_dim, hidden and layers of the decoder, dropout,
    tie_weights) and the VAE's own."""

    latent: int = 32  # size of z
    word_dropout: float = 0.4  # decoder input words replaced by <unk> while training
    kl_anneal_steps: int = 1000  # the KL weight grows linearly from 0 to 1 over these steps
    free_bits: float = 0.125  # minimum KL (nats) per latent dimension in the training loss

    def validate(self) -> None:
        super().validate()
        if self.latent <= 0 or self.kl_anneal_steps < 0 or self.free_bits < 0:
            raise SettingError("`latent` must be > 0, `kl_anneal_steps` and `free_bits` >= 0")
        if not 0 <= self.word_dropout < 1:
            raise SettingError(f"`word_dropout` must be in [0, 1), got {self.word_dropout}")

    def build(self) -> SentenceVAE:
        return SentenceVAE(self)


def gaussian_kl(
    mu: torch.Tensor, logvar: torch.Tensor, mu_p: torch.Tensor | None = None, logvar_p: torch.Tensor | None = None
) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(mu_p, e^logvar_p)) per row and latent dimension, (B, Z) (prior: the
    standard normal when not given)."""
    if mu_p is None or logvar_p is None:
        return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
    return 0.5 * (logvar_p - logvar + (logvar.exp() + (mu - mu_p).pow(2)) / logvar_p.exp() - 1)


def kl_weight(step: int, anneal_steps: int) -> float:
    """Linear KL annealing: 0 at the first step, 1 after ``anneal_steps`` (always 1 when that is 0)."""
    return 1.0 if anneal_steps <= 0 else min(1.0, step / anneal_steps)


def word_dropout(tokens: torch.Tensor, p: float) -> torch.Tensor:
    """Replace a fraction ``p`` of the real words (not padding, not ``<bos>``) by ``<unk>``."""
    if p <= 0:
        return tokens
    drop = (torch.rand(tokens.shape, device=tokens.device) < p) & (tokens != PAD) & (tokens != BOS)
    return tokens.masked_fill(drop, UNK)


def eval_noise(shape: torch.Size, device: torch.device) -> torch.Tensor:
    """Fixed noise for evaluation: the same batch always gets the same sample, so the dev bound that
    training records is exactly what `evaluate lm` reports later."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)


class Annealed(nn.Module):
    """Holds the training-step count (a buffer: saved in checkpoints, so a resumed run continues the
    schedule) and the KL (B, Z) of the last forward pass.

    The training term is the annealed KL with "free bits" (Kingma et al. 2016): each latent
    dimension's batch-mean KL counts as at least ``free_bits`` nats, so the optimizer gains nothing by
    pushing a dimension below that and the encoder keeps a little information in z. Evaluation
    reports the plain KL."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.kl: torch.Tensor | None = None

    def record(self, kl: torch.Tensor, training: bool) -> None:
        self.kl = kl
        if training:
            self.steps += 1

    def loss(self, anneal_steps: int, free_bits: float, training: bool) -> torch.Tensor | None:
        if self.kl is None:
            return None
        if not training:
            return self.kl.sum()
        per_dim = self.kl.mean(0).clamp(min=free_bits) if free_bits > 0 else self.kl.mean(0)
        return kl_weight(int(self.steps), anneal_steps) * per_dim.sum() * self.kl.shape[0]


class SentenceVAE(SequenceModel):
    """Config: :class:`VAEConfig`."""

    source_state = frozenset({"z"})

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim, padding_idx=0)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        self.encoder = nn.GRU(cfg.emb_dim, cfg.hidden, batch_first=True)
        self.to_latent = nn.Linear(cfg.hidden, 2 * cfg.latent)
        self.to_hidden = nn.Linear(cfg.latent, cfg.layers * cfg.hidden)
        self.decoder = nn.GRU(
            cfg.emb_dim + cfg.latent, cfg.hidden, cfg.layers, batch_first=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )  # fmt: skip
        self.dropout = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(cfg.hidden, cfg.emb_dim) if cfg.tie_weights and cfg.hidden != cfg.emb_dim else None
        self.output = nn.Linear(cfg.emb_dim if cfg.tie_weights else cfg.hidden, cfg.vocab_size)
        if cfg.tie_weights:
            self.output.weight = self.embed.weight
        self.anneal = Annealed()

    # ----- latent
    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S) sentences -> mean and log-variance of q(z | x), each (B, latent)."""
        packed = pack_padded_sequence(
            self.embed(tokens), lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False
        )
        _, h = self.encoder(packed)
        mu, logvar = self.to_latent(h[-1]).chunk(2, dim=-1)
        return mu, logvar

    def latent_state(self, z: torch.Tensor) -> State:
        """The decoding state of latents z (B, latent)."""
        h = torch.tanh(self.to_hidden(z)).view(z.shape[0], self.cfg.layers, self.cfg.hidden)
        return {"z": z, "h": h}

    # ----- training
    def features(self, batch: Batch) -> torch.Tensor:
        lengths = (batch.tgt_out != PAD).sum(1)
        mu, logvar = self.encode(batch.tgt_out, lengths)
        eps = torch.randn_like(mu) if self.training else eval_noise(mu.shape, mu.device)
        z = mu + (0.5 * logvar).exp() * eps
        self.anneal.record(gaussian_kl(mu, logvar), self.training)
        words = word_dropout(batch.tgt_in, self.cfg.word_dropout) if self.training else batch.tgt_in
        x = self.dropout(self.embed(words))
        x = torch.cat([x, z[:, None].expand(-1, x.shape[1], -1)], dim=-1)
        state = self.latent_state(z)
        out, _ = self.decoder(x, state["h"].transpose(0, 1).contiguous())
        return self._read_out(self.dropout(out))

    def auxiliary_loss(self) -> torch.Tensor | None:
        return self.anneal.loss(self.cfg.kl_anneal_steps, self.cfg.free_bits, self.training)

    def auxiliary_metrics(self) -> dict[str, float]:
        return {} if self.anneal.kl is None else {"kl": float(self.anneal.kl.sum())}

    def _read_out(self, out: torch.Tensor) -> torch.Tensor:
        return self.proj(out) if self.proj is not None else out

    # ----- decoding
    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        """With a source: decode from its posterior mean (reconstruction); without: z from the prior."""
        if src is not None and src_lengths is not None:
            return self.latent_state(self.encode(src, src_lengths)[0])
        return self.latent_state(torch.randn(batch_size, self.cfg.latent, device=self.embed.weight.device))

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        x = torch.cat([self.embed(tokens), state["z"]], dim=-1)[:, None]
        out, h = self.decoder(x, state["h"].transpose(0, 1).contiguous())
        return self.logits(self._read_out(out[:, 0])), {"z": state["z"], "h": h.transpose(0, 1)}
