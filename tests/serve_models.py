"""Tiny models for the `seqtool serve` tests: a translator, a language model and word embeddings,
trained once per test session into one workspace (the same recipes as test_mt, test_lm, test_embeddings)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from seqtool.embeddings import EmbeddingSettings, train_embeddings
from seqtool.models.lm import lm_config
from seqtool.store.workspace import Workspace
from seqtool.tasks.lm import TokenizerConfig, lm_train_config, train_lm
from seqtool.tasks.mt import MTDataConfig, mt_train_config, train_mt
from tests.conftest import SAMPLE

MT, LM, EMB = "tiny-mt", "tiny-lm", "tiny-emb"


def _ja_sentences(n: int) -> list[str]:
    spec = importlib.util.spec_from_file_location("make_ja_text", SAMPLE / "make_ja_text.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sentences(n)


def build_workspace(root: Path) -> Path:
    """Train the three models into ``root/ws`` (once: a finished workspace is reused)."""
    ws_path = root / "ws"
    if (root / "ready").exists():
        return ws_path
    torch.set_num_threads(1)
    ws, d = Workspace(ws_path), SAMPLE / "enja"
    train_mt(
        ws, MT, d / "train.en", d / "train.ja", d / "dev.en", d / "dev.ja", "gru",
        {"emb_dim": 64, "hidden": 64, "dropout": 0.0, "attention": "bahdanau", "bidirectional": True},
        mt_train_config("gru", epochs=8, batch_tokens=1000, lr=3e-3), MTDataConfig(src_vocab=300, tgt_vocab=300),
    )  # fmt: skip
    train_lm(
        ws, LM, d / "train.en", d / "dev.en", lm_config(cell="lstm", layers=1, emb_dim=48, hidden=48, dropout=0.0),
        lm_train_config(epochs=3, batch_tokens=400, lr=3e-3), TokenizerConfig(),
    )  # fmt: skip
    corpus = root / "text.txt"
    corpus.write_text("".join(s + "\n" for s in _ja_sentences(3000)), encoding="utf-8")
    train_embeddings(corpus, ws, EMB, EmbeddingSettings(epochs=10, workers=1))
    add_sweep(ws)
    (root / "ready").write_text("")
    return ws_path


SWEEP = "tiny-sweep"
SWEEP_TRIALS = [(31.5, 2e-3, 3, "COMPLETE"), (12.0, 4e-2, 1, "PRUNED"), (33.25, 1e-3, 3, "COMPLETE")]


def add_sweep(ws: Workspace) -> None:
    """A sweep's record as `seqtool sweep` writes it, from a real Optuna study whose trials are given
    (training them would cost a minute; tests/test_sweep.py trains real ones)."""
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution

    from seqtool.tasks.sweep import Sweep, SweepSettings, SweepTarget

    study = optuna.create_study(study_name=SWEEP, direction="maximize")
    space = {"lr": FloatDistribution(1e-4, 1e-1, log=True), "layers": IntDistribution(1, 4)}
    for n, (value, lr, layers, state) in enumerate(SWEEP_TRIALS):
        pruned = state == "PRUNED"
        study.add_trial(optuna.trial.create_trial(
            params={"lr": lr, "layers": layers}, distributions=space, value=None if pruned else value,
            intermediate_values={1: value}, state=getattr(optuna.trial.TrialState, state),
            user_attrs={"model": f"{SWEEP}-t{n:03d}", "epochs": 1 if pruned else 4},
        ))  # fmt: skip
    sweep = Sweep(ws, SWEEP, SweepTarget("train-mt", "dev_bleu", maximize=True), {}, [], SweepSettings())
    sweep.folder.mkdir(parents=True, exist_ok=True)
    sweep.write_summary(study)


@pytest.fixture(scope="session")
def served_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workspace(tmp_path_factory.getbasetemp() / "serve-models")
