"""Sentence VAE: trained by the shared loop, its KL stays positive and bounded, z carries the sentence."""

from __future__ import annotations

import json

import pytest
import torch

from seqtool.models.lm import lm_config
from seqtool.models.vae import gaussian_kl, kl_weight
from seqtool.store.workspace import Workspace
from seqtool.tasks.lm import TokenizerConfig, evaluate_lm, generate, lm_train_config, load_lm, train_lm
from seqtool.tasks.vae import interpolate, load_vae, reconstruct, reconstruction_nll
from tests.conftest import SAMPLE, assert_clean_error, run_cli

TINY = dict(cell="vae", layers=1, emb_dim=64, hidden=128, dropout=0.0, kl_anneal_steps=300)


def test_kl_and_annealing_helpers():
    mu, logvar = torch.zeros(2, 4), torch.zeros(2, 4)
    assert float(gaussian_kl(mu, logvar).sum()) == 0.0
    assert float(gaussian_kl(mu + 1, logvar).sum(-1)[0]) == pytest.approx(2.0)
    assert float(gaussian_kl(mu + 1, logvar, mu + 1, logvar).sum()) == pytest.approx(0.0, abs=1e-6)
    assert kl_weight(0, 100) == 0.0 and kl_weight(50, 100) == 0.5 and kl_weight(500, 100) == 1.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("vae")
    ws = Workspace(path)
    train_lm(
        ws, "vae", SAMPLE / "enja/train.en", SAMPLE / "enja/dev.en", lm_config(**TINY),
        lm_train_config(epochs=12, batch_tokens=256, lr=3e-3), TokenizerConfig(),
    )  # fmt: skip
    return path


def test_kl_positive_bounded_and_elbo_reported(trained):
    lm = load_lm(Workspace(trained), "vae", "cpu")
    history = lm.md.metrics()
    assert history[-1]["step"] > 300  # annealing finished: the KL weight is 1
    assert all("dev_kl" in row for row in history)  # the KL of every epoch is in the metrics
    best = next(row for row in history if row["epoch"] == lm.config["best"]["epoch"])
    assert best["step"] > 300
    assert 0.5 < best["dev_kl"] < 30, best  # not collapsed to zero, not a latent that memorizes sentences
    result = evaluate_lm(lm, None)  # the saved (best) weights: the same bound and KL as recorded
    assert result["perplexity"] == pytest.approx(lm.config["best"]["value"], rel=1e-4)
    assert result["dev_kl"] == pytest.approx(best["dev_kl"], rel=1e-3)


def test_reconstruction_beats_random_latent(trained, sample):
    # Teacher-forced cross-entropy of training sentences from their own latent vs a random one.
    lm = load_vae(Workspace(trained), "vae", "cpu")
    lines = [x for x in (sample / "enja/train.en").read_text().splitlines() if x.strip()][:200]
    posterior = reconstruction_nll(lm, lines)
    prior = reconstruction_nll(lm, lines, from_prior=True)
    assert posterior < 0.9 * prior, (posterior, prior)
    assert reconstruct(lm, "i can 't swim .").strip()


def test_interpolation_and_prior_samples(trained):
    lm = load_vae(Workspace(trained), "vae", "cpu")
    points = interpolate(lm, "i can 't swim .", "my father is a teacher .", steps=5)
    assert [round(a, 2) for a, _ in points] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert all(text.strip() for _, text in points)
    samples = {generate(lm, "", max_words=15, seed=s) for s in range(5)}
    assert len(samples) > 1 and generate(lm, "", 15, seed=3) == generate(lm, "", 15, seed=3)


def test_vae_cli_and_bad_input(trained, tmp_path):
    r = run_cli("vae", "interpolate", "i can 't swim .", "he is tall .", "--steps", "3", "-w", str(trained), "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["steps"]) == 3
    r = run_cli("evaluate", "lm", "-w", str(trained), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["kl"] > 0
    assert_clean_error(run_cli("train-lm", "--cell", "vae", "--bidirectional", "-w", str(tmp_path)), "--bidirectional")
    assert_clean_error(run_cli("vae", "interpolate", "a", "b", "--steps", "1", "-w", str(trained)), "--steps")
    # A language model that is not a VAE: a clear error, not a crash.
    ws_path = tmp_path / "ws2"
    ws = Workspace(ws_path)
    dev = SAMPLE / "enja/dev.en"
    cfg = lm_config(cell="gru", layers=1, emb_dim=8, hidden=8)
    train_lm(ws, "plain", dev, dev, cfg, lm_train_config(epochs=1), TokenizerConfig())
    assert_clean_error(run_cli("vae", "reconstruct", "i can", "-w", str(ws_path)), "not a sentence VAE")
