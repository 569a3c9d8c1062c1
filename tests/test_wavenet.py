"""WaveNet LM: causal, the queued incremental generator equals the full pass, and a tiny one learns."""

from __future__ import annotations

import json

import pytest
import torch

from seqtool.data.batch import Batch
from seqtool.data.specials import BOS
from seqtool.metrics import unigram_perplexity
from seqtool.models.lm import build_lm, lm_config
from seqtool.models.wavenet import receptive_field
from seqtool.store.workspace import Workspace
from seqtool.tasks.lm import TokenizerConfig, evaluate_lm, generate, lm_train_config, load_lm, predict_next, train_lm
from tests.conftest import assert_clean_error, run_cli

TINY = dict(cell="wavenet", layers=4, kernel=2, dilation_cycle=3, channels=24, emb_dim=24, dropout=0.0)


def _model(vocab: int = 30) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_lm(lm_config(vocab_size=vocab, **TINY)).eval()


def _features(model, tokens: torch.Tensor) -> torch.Tensor:
    return model.features(Batch(tgt_in=tokens, tgt_out=tokens))


def test_receptive_field():
    assert receptive_field(4, 2, 3) == 1 + 1 + 2 + 4 + 1
    assert receptive_field(8, 2, 4) == 31
    assert receptive_field(3, 3, 3) == 1 + 2 * (1 + 3 + 9)


def test_causality():
    model = _model()
    tokens = torch.randint(4, 30, (2, 16))
    base = _features(model, tokens)
    for t in (3, 9, 15):
        changed = tokens.clone()
        changed[:, t] = (changed[:, t] + 1 - 4) % 26 + 4
        out = _features(model, changed)
        assert torch.allclose(out[:, :t], base[:, :t], atol=1e-6)  # earlier positions untouched
        assert not torch.allclose(out[:, t], base[:, t])  # the changed position itself does see it


def test_incremental_equals_full_forward():
    model = _model()
    tokens = torch.cat([torch.full((3, 1), BOS), torch.randint(4, 30, (3, 20))], dim=1)
    with torch.no_grad():
        full = model.logits(_features(model, tokens))
        state = model.start(None, None, 3)
        steps = []
        for t in range(tokens.shape[1]):
            logits, state = model.step_logits(tokens[:, t], state)
            steps.append(logits)
    assert torch.allclose(torch.stack(steps, dim=1), full, atol=1e-5)


def test_tiny_wavenet_beats_unigram_and_works_with_lm_commands(tmp_path, sample):
    torch.set_num_threads(1)
    train, dev = sample / "enja/train.en", sample / "enja/dev.en"
    ws = Workspace(tmp_path)
    events = []
    cfg = lm_config(**{**TINY, "channels": 48, "emb_dim": 48})
    result = train_lm(
        ws, "wn", train, dev, cfg, lm_train_config(epochs=4, batch_tokens=400, lr=3e-3), TokenizerConfig(),
        progress=events.append,
    )  # fmt: skip
    assert any("receptive field: 9" in e.get("message", "") for e in events)
    lm = load_lm(ws, "wn", "cpu")
    assert lm.config["arch"] == "wavenet-lm" and lm.config["info"]["receptive_field"] == 9
    ppl = evaluate_lm(lm, None)["perplexity"]
    assert ppl == pytest.approx(result.best["value"], rel=1e-4)
    lines = [x for x in train.read_text().splitlines() if x.strip()]
    dev_lines = [x for x in dev.read_text().splitlines() if x.strip()]
    assert ppl < 0.8 * unigram_perplexity(lines, dev_lines)
    words = [w for w, _ in predict_next(lm, "i can", 5)]
    assert len(words) == 5
    text = generate(lm, "i", max_words=10, seed=1)
    assert text.startswith("i") and text == generate(lm, "i", max_words=10, seed=1)


def test_wavenet_cli_options(tmp_path, sample):
    r = run_cli("train-lm", "--cell", "wavenet", "--kernel", "1", "-w", str(tmp_path))
    assert_clean_error(r, "--kernel")
    r = run_cli("train-lm", "--cell", "wavenet", "--context", "3", "-w", str(tmp_path))
    assert_clean_error(r, "--context")
    r = run_cli(
        "train-lm", "--cell", "wavenet", "--layers", "2", "--channels", "16", "--emb-dim", "16", "--epochs", "1",
        "--train", str(sample / "enja/dev.en"), "--dev", str(sample / "enja/dev.en"), "--name", "w",
        "-w", str(tmp_path), "--json", "--threads", "1",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["name"] == "w"  # stdout is the JSON alone; progress is on stderr
    assert "receptive field: 4" in r.stderr
    r = run_cli("predict-next", "i can", "-w", str(tmp_path), "--json")
    assert r.returncode == 0 and len(json.loads(r.stdout)["results"]) == 5
