"""The sentence VAE's own uses: reconstruct a sentence through its latent, walk between two latents.

Training, evaluation (the ELBO bound) and sampling from the prior are the language-model task's
(`train-lm --cell vae`, `evaluate lm`, `generate`): the VAE is a language model with a latent.
"""

from __future__ import annotations

import torch

from seqtool.data.specials import EOS
from seqtool.decoding import greedy
from seqtool.errors import OptionError
from seqtool.models.vae import SentenceVAE
from seqtool.store.workspace import Workspace
from seqtool.tasks.lm import LoadedLM, load_lm


def load_vae(ws: Workspace, name: str | None, device: str = "auto") -> LoadedLM:
    lm = load_lm(ws, name, device)
    if not isinstance(lm.model, SentenceVAE):
        raise OptionError(
            f"model {lm.md.name!r} is a {lm.config.get('arch')}, not a sentence VAE; train one with "
            "`seqtool train-lm --cell vae`"
        )
    return lm


def _latent_mean(lm: LoadedLM, text: str) -> torch.Tensor:
    ids = lm.tokenizer.encode(text)
    if not ids:
        raise OptionError(f"nothing to encode in {text!r}: give a non-empty sentence")
    tokens = torch.tensor([ids + [EOS]], dtype=torch.long, device=lm.device)  # the sentence and </s>, as in training
    assert isinstance(lm.model, SentenceVAE)
    return lm.model.encode(tokens, torch.tensor([tokens.shape[1]]))[0]


@torch.no_grad()
def decode_latents(lm: LoadedLM, z: torch.Tensor, max_len: int = 50) -> list[str]:
    """Greedy decoding from each row of z (N, latent)."""
    assert isinstance(lm.model, SentenceVAE)
    hyps = greedy(lm.model, None, None, max_len, state=lm.model.latent_state(z))
    return [lm.tokenizer.decode(h.ids) for h in hyps]


@torch.no_grad()
def reconstruct(lm: LoadedLM, text: str) -> str:
    """Encode ``text`` (posterior mean) and decode it back."""
    lm.model.eval()
    return decode_latents(lm, _latent_mean(lm, text))[0]


@torch.no_grad()
def interpolate(lm: LoadedLM, a: str, b: str, steps: int = 5) -> list[tuple[float, str]]:
    """``steps`` sentences decoded from evenly spaced points between the latents of ``a`` and ``b``
    (both ends included)."""
    if steps < 2:
        raise OptionError(f"--steps must be >= 2 (the two ends), got {steps}")
    lm.model.eval()
    za, zb = _latent_mean(lm, a), _latent_mean(lm, b)
    alphas = torch.linspace(0, 1, steps, device=lm.device)[:, None]
    texts = decode_latents(lm, (1 - alphas) * za + alphas * zb)
    return list(zip(alphas[:, 0].tolist(), texts, strict=True))


@torch.no_grad()
def reconstruction_nll(lm: LoadedLM, lines: list[str], from_prior: bool = False, seed: int = 0) -> float:
    """Mean token cross-entropy of ``lines`` decoded (teacher-forced) from their posterior means, or
    from random latents of the prior: how much of each sentence its latent carries."""
    from seqtool.data.batching import batches_from_texts

    model = lm.model
    assert isinstance(model, SentenceVAE)
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for _, batch in batches_from_texts(lines, lm.tokenizer, 4096):
        batch = batch.to(lm.device)
        mu, _ = model.encode(batch.tgt_out, (batch.tgt_out != 0).sum(1))
        z = torch.randn(mu.shape, generator=generator).to(lm.device) if from_prior else mu
        state = model.latent_state(z)
        nll = torch.zeros(mu.shape[0], device=lm.device)
        for t in range(batch.tgt_in.shape[1]):
            logits, state = model.step_logits(batch.tgt_in[:, t], state)
            gold = batch.tgt_out[:, t]
            nll += torch.nn.functional.cross_entropy(logits.float(), gold, reduction="none", ignore_index=0)
        total, count = total + float(nll.sum()), count + int((batch.tgt_out != 0).sum())
    return total / max(1, count)
