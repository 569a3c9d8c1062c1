"""`seqtool models epochs`: one run's last epochs as models of their own, and their checkpoint ensemble."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqtool.metrics import bleu_only, recorded_tokenize
from seqtool.tasks.mt import read_dev
from seqtool.tasks.translator import load_ensemble, load_translator
from tests.conftest import SAMPLE, assert_clean_error, run_cli, train_tiny_mt


@pytest.fixture(scope="module")
def averaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("epochs")
    train_tiny_mt(root, "gru", epochs=4, name="run", train={"average_last": 3, "precision": "fp32"})
    return root


def test_each_copy_is_its_epoch_and_they_ensemble(averaged: Path) -> None:
    result = run_cli("-w", str(averaged), "models", "epochs", "run", "--json")
    assert result.returncode == 0, result.stderr
    names = json.loads(result.stdout)["written"]
    assert names == ["run-e2", "run-e3", "run-e4"]  # the three epochs the run kept for averaging
    rows = {r["epoch"]: r for r in map(json.loads, (averaged / "models" / "run" / "metrics.jsonl").open())}
    sources, refs = read_dev(SAMPLE / "enja" / "dev.en", SAMPLE / "enja" / "dev.ja")
    from seqtool.store.workspace import Workspace

    ws = Workspace(averaged)
    for name in names:
        tr = load_translator(ws, name, "cpu", engine="torch")
        epoch = tr.config["epoch_of"]["epoch"]
        hyps = [t[0].text for t in tr.translate(sources, tokenized=True, beam=1)]
        tokenize = recorded_tokenize(tr.config.get("bleu_tokenize"))
        # the copy scores on dev what its epoch scored during training: it is that epoch's weights
        assert bleu_only(hyps, refs, tokenize) == pytest.approx(rows[epoch]["dev_bleu"], abs=0.01)
        assert tr.config["best"]["value"] == rows[epoch]["dev_bleu"]
    ensemble = load_ensemble(ws, ",".join(names), "cpu")
    assert len(ensemble.translate(sources[:5], beam=3)) == 5
    listed = run_cli("-w", str(averaged), "models", "--json")
    assert set(names) <= {m["name"] for m in json.loads(listed.stdout)["models"]}


def test_nothing_to_split_is_a_clear_error(averaged: Path, tmp_path: Path) -> None:
    ws, _ = train_tiny_mt(tmp_path, "gru", epochs=1, name="plain")  # average_last 0: no epochs kept
    assert_clean_error(run_cli("-w", str(ws.root), "models", "epochs", "plain"), "--average-last")
    assert_clean_error(run_cli("-w", str(averaged), "models", "epochs", "run", "--last", "0"), "--last must be >= 1")
    assert_clean_error(run_cli("-w", str(ws.root), "models", "epochs", "nope"), "nope")
