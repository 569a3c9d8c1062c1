"""Language models decode one token at a time (`start` + `step_logits`, with caches or windows):
`predict-next` and `generate` depend on that giving what the full forward pass (`features` +
`logits`, the one training uses) gives. And sampling draws from the distribution it claims to:
top-k keeps the k most probable tokens only, top-k 1 is greedy, temperature reshapes the softmax."""

from __future__ import annotations

import pytest
import torch

from seqtool.data.batch import Batch
from seqtool.data.specials import BOS, EOS, PAD
from seqtool.decoding import feed_prompt, sample
from seqtool.models.lm import RecurrentLM, TransformerLM, WindowLM, build_lm
from seqtool.models.lm import lm_config as C

VOCAB = 30
SMALL = dict(vocab_size=VOCAB, layers=2, emb_dim=16, hidden=24, dropout=0.0, heads=2, ff_dim=32, channels=16)
MODELS = {
    "rnn": (C(cell="rnn", **SMALL), RecurrentLM),
    "rnn-relu": (C(cell="rnn", activation="relu", **SMALL), RecurrentLM),
    "lstm": (C(cell="lstm", **SMALL), RecurrentLM),
    "gru-untied": (C(cell="gru", **{**SMALL, "tie_weights": False}), RecurrentLM),
    "transformer": (C(cell="transformer", **SMALL), TransformerLM),
    "window-gru": (C(cell="gru", context=3, **SMALL), WindowLM),
    "window-bilstm": (C(cell="lstm", context=4, bidirectional=True, **SMALL), WindowLM),
    "wavenet": (C(cell="wavenet", **SMALL), None),
}


def model_for(name: str) -> torch.nn.Module:
    cfg, cls = MODELS[name]
    torch.manual_seed(0)
    model = build_lm(cfg).eval()
    assert cls is None or type(model) is cls  # each class of seqtool.models.lm is covered
    return model


def full_log_probs(model, tokens: torch.Tensor) -> torch.Tensor:
    """(B, T) token ids (starting with <bos>) -> (B, T, V) next-token log-probs by the full pass."""
    with torch.no_grad():
        return torch.log_softmax(model.logits(model.features(Batch(tokens, tokens))).float(), -1)


@pytest.mark.parametrize("name", list(MODELS))
def test_step_by_step_equals_the_full_forward_pass(name):
    model = model_for(name)
    g = torch.Generator().manual_seed(1)
    tokens = torch.cat([torch.full((3, 1), BOS), torch.randint(4, VOCAB, (3, 9), generator=g)], dim=1)
    full = full_log_probs(model, tokens)
    state = model.start(None, None, 3)
    with torch.no_grad():
        for t in range(tokens.shape[1]):
            logp, state = model.step(tokens[:, t], state)
            assert torch.allclose(logp, full[:, t], atol=1e-5), (name, t, (logp - full[:, t]).abs().max())
        # feed_prompt (what predict-next runs) ends in the same distribution as the full pass.
        logp, _ = feed_prompt(model, model.start(None, None, 3), tokens[:, 1:])
    assert torch.allclose(logp, full[:, -1], atol=1e-5)


def masked(logp: torch.Tensor) -> torch.Tensor:
    """The scores sampling draws from: padding and <bos> are never produced."""
    out = logp.clone()
    out[..., PAD] = out[..., BOS] = float("-inf")
    return out


@pytest.mark.parametrize("name", ["lstm", "transformer", "window-bilstm"])
def test_top_k_one_is_greedy_and_top_k_stays_in_the_top_k(name):
    model = model_for(name)
    prompt = torch.tensor([[5, 6, 7], [8, 9, 10]])
    (greedy_a, greedy_b) = sample(model, prompt, 12, top_k=1, generator=torch.Generator().manual_seed(3))
    for row, out in zip(prompt.tolist(), (greedy_a, greedy_b), strict=True):
        ids = [BOS, *row]
        for token in out + ([EOS] if len(out) < 12 else []):
            assert token == int(masked(full_log_probs(model, torch.tensor([ids]))[0, -1]).argmax())
            ids.append(token)
    k = 4
    for seed in range(5):
        outs = sample(model, prompt, 10, temperature=1.5, top_k=k, generator=torch.Generator().manual_seed(seed))
        for row, out in zip(prompt.tolist(), outs, strict=True):
            ids = [BOS, *row]
            for token in out:
                top = masked(full_log_probs(model, torch.tensor([ids]))[0, -1]).topk(k).indices.tolist()
                assert token in top, (name, seed, ids, token, top)
                ids.append(token)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_first_sampled_token_follows_the_tempered_distribution(temperature):
    """Many rows with the same prompt: the first tokens' frequencies are softmax(log p / T)."""
    model = model_for("gru-untied")
    n = 6000
    prompt = torch.tensor([[5, 6, 7]]).repeat(n, 1)
    first = torch.tensor([out[0] if out else EOS for out in sample(model, prompt, 1, temperature,
                          generator=torch.Generator().manual_seed(0))])  # fmt: skip
    logp = masked(full_log_probs(model, torch.tensor([[BOS, 5, 6, 7]]))[0, -1])
    expected = torch.softmax(logp / temperature, -1)
    observed = torch.bincount(first, minlength=VOCAB).float() / n
    # ~4 standard errors of a frequency estimated from n draws
    tolerance = 4 * (expected * (1 - expected) / n).sqrt() + 1e-3
    assert bool(((observed - expected).abs() <= tolerance).all()), (observed - expected).abs().max()
    assert observed[PAD] == 0 and observed[BOS] == 0


def test_a_low_temperature_is_greedy_and_a_seed_reproduces():
    model = model_for("transformer")
    prompt = torch.tensor([[5, 6, 7]])
    greedy = sample(model, prompt, 10, top_k=1)
    assert sample(model, prompt, 10, temperature=1e-4, generator=torch.Generator().manual_seed(9)) == greedy
    a, b = (sample(model, prompt, 10, generator=torch.Generator().manual_seed(4)) for _ in range(2))
    assert a == b
