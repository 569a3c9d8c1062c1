"""`seqtool plot curves` and `seqtool models compare` on fake model folders in a temporary workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqtool.errors import DataError, OptionError
from seqtool.store.workspace import Workspace
from seqtool.viz.curves import figure_pixels, load_histories, png_size
from tests.conftest import assert_clean_error, run_cli


def make_model(
    ws: Workspace, name: str, kind: str, metric: str, values: list[float], with_metrics: bool = True
) -> None:
    """A finished model folder as the trainers write it: config.json and one metrics row per epoch."""
    md = ws.model_dir(name)
    md.path.mkdir(parents=True)
    if with_metrics:
        for epoch, value in enumerate(values, start=1):
            md.append_metrics(
                {
                    "epoch": epoch,
                    "step": 100 * epoch,
                    "train_loss": 6.0 / epoch,
                    "dev_loss": 6.5 / epoch,
                    metric: value,
                    "tokens_per_s": 9000.0,
                    "elapsed_s": 12.0 * epoch,
                }
            )
    best = min(values) if metric == "dev_ppl" else max(values)
    md.write_config(
        {
            "name": name,
            "kind": kind,
            "arch": {"lm": "lstm", "mt": "gru-attention"}[kind],
            "parameters": 123456,
            "created": "2026-11-28T10:00:00+00:00",
            "status": "done",
            "data": {"train": f"data/{name}.train", "dev": f"data/{name}.dev"},
            "best": {"metric": metric, "value": best, "epoch": values.index(best) + 1},
            "train": {"elapsed_s": 75.5, "tokens_per_s": 15234.7},
        }
    )


@pytest.fixture
def models(workspace: Path) -> Workspace:
    ws = Workspace(workspace)
    make_model(ws, "lstm-a", "lm", "dev_ppl", [300.0, 180.0, 150.0])
    make_model(ws, "gru-b", "lm", "dev_ppl", [280.0, 200.0, 160.0, 155.0])
    make_model(ws, "nmt-c", "mt", "dev_bleu", [3.0, 8.5])
    make_model(ws, "emb-d", "lm", "dev_ppl", [1.0], with_metrics=False)
    return ws


def test_histories_know_their_dev_metric(models: Workspace) -> None:
    lstm, nmt = load_histories(models, ["lstm-a", "nmt-c"])
    assert (lstm.dev_metric, nmt.dev_metric) == ("dev_ppl", "dev_bleu")
    assert lstm.series("dev_ppl") == ([1.0, 2.0, 3.0], [300.0, 180.0, 150.0])
    with pytest.raises(DataError, match="no metrics history"):
        load_histories(models, ["emb-d"])
    with pytest.raises(OptionError, match="more than once: lstm-a"):
        load_histories(models, ["lstm-a", "gru-b", "lstm-a"])


def test_plot_curves_writes_a_two_panel_png(models: Workspace) -> None:
    r = run_cli("plot", "curves", "lstm-a", "gru-b", "-w", str(models.root))
    assert r.returncode == 0, r.stderr
    figure = models.figures_dir / "curves-lstm-a-gru-b.png"
    assert f"figure: {figure}" in r.stdout and "lstm-a: 3 epochs, dev metric dev_ppl" in r.stdout
    assert figure.stat().st_size > 10_000 and png_size(figure) == figure_pixels(2) == (1440, 540)


def test_plot_curves_gives_each_dev_metric_its_panel(models: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "mixed.png"
    r = run_cli("plot", "curves", "lstm-a", "nmt-c", "-o", str(out), "-w", str(models.root), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["figure"] == str(out)
    assert [(m["name"], m["epochs"], m["dev_metric"]) for m in data["models"]] == [
        ("lstm-a", 3, "dev_ppl"),
        ("nmt-c", 2, "dev_bleu"),
    ]
    assert png_size(out) == figure_pixels(3)  # loss, dev perplexity, dev BLEU


def test_models_compare_table_and_json(models: Workspace) -> None:
    r = run_cli("models", "compare", "lstm-a", "nmt-c", "-w", str(models.root))
    assert r.returncode == 0, r.stderr
    for needle in (
        "lstm-a",
        "nmt-c",
        "gru-attention",
        "123,456",
        "data/nmt-c.train",
        "1m16s",
        "15,235",
        "dev_bleu 8.5",
    ):
        assert needle in r.stdout, needle
    r = run_cli("models", "compare", "gru-b", "lstm-a", "-w", str(models.root), "--json")
    rows = json.loads(r.stdout)["models"]
    assert [row["name"] for row in rows] == ["gru-b", "lstm-a"]
    assert rows[1] | {"name": None} == {
        "name": None,
        "kind": "lm",
        "arch": "lstm",
        "parameters": 123456,
        "train_data": "data/lstm-a.train",
        "dev_data": "data/lstm-a.dev",
        "elapsed_s": 75.5,
        "tokens_per_s": 15234.7,
        "best_metric": "dev_ppl",
        "best_value": 150.0,
        "best_epoch": 3,
        "status": "done",
        "created": "2026-11-28T10:00:00+00:00",
        "compression": None,  # added by `seqtool compress`; these fake models have no weights file
        "weights_bytes": None,
        "engines": ["torch"],  # + exported copies (`seqtool export`)
    }


@pytest.mark.parametrize("command", [("plot", "curves"), ("models", "compare")])
def test_unknown_model_is_a_one_line_error(models: Workspace, command: tuple[str, str]) -> None:
    r = run_cli(*command, "lstm-a", "nope", "-w", str(models.root))
    assert_clean_error(r, "no model named 'nope'", "models: emb-d, gru-b, lstm-a, nmt-c")
    assert len(r.stderr.strip().splitlines()) == 1
    assert not models.figures_dir.exists()


def test_plot_curves_without_history_is_a_one_line_error(models: Workspace) -> None:
    r = run_cli("plot", "curves", "emb-d", "-w", str(models.root))
    assert_clean_error(r, "model 'emb-d' has no metrics history")
    assert not models.figures_dir.exists()
