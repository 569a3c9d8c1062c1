"""`seqtool experiment next-word`: window models (LSTM, GRU, bidirectional GRU) compared on the sample data.

The comparison is trained once per module (tiny sizes, 1 thread, a few epochs: a few seconds a cell);
the tests then check what it produced: a row and a curve per cell, models that beat a unigram
baseline, ordinary workspace models, and clean errors for bad options.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

import seqtool.viz.curves
from seqtool.metrics import unigram_perplexity
from seqtool.store.workspace import Workspace
from seqtool.tasks.experiments.next_word import NextWordConfig, NextWordResult, run_next_word
from seqtool.viz.curves import figure_pixels, plot_next_word, png_size
from tests.conftest import SAMPLE, assert_clean_error, corpus_lines, run_cli

CELLS = ["lstm", "gru", "bigru"]
# Small but trained long enough to learn: about 3 s per cell on one loaded core.
TINY = NextWordConfig(
    cells=CELLS, emb_dim=48, hidden=48, dropout=0.0, epochs=5, lr=5e-3, batch_tokens=1000, train_sample=500
)


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, NextWordResult]:
    torch.set_num_threads(1)
    ws = Workspace(tmp_path_factory.mktemp("nextword") / "ws")
    result = run_next_word(ws, SAMPLE / "enja/train.en", SAMPLE / "enja/dev.en", TINY, device="cpu")
    return ws, result


def test_one_row_per_cell_and_ordinary_models(comparison: tuple[Workspace, NextWordResult]) -> None:
    ws, result = comparison
    assert [c.cell for c in result.cells] == CELLS
    assert [c.name for c in result.cells] == ["nextword-lstm", "nextword-gru", "nextword-bigru"]
    assert result.train_sample == 500 and result.train_lines == len(corpus_lines(SAMPLE / "enja/train.en"))
    for c in result.cells:
        md, cfg = ws.find(c.name, "lm")
        assert cfg["status"] == "done" and cfg["model"]["context"] == 5
        assert cfg["model"]["bidirectional"] == (c.cell == "bigru") and cfg["arch"] == c.arch
        assert len(md.metrics()) == len(c.history) == TINY.epochs  # the same budget, all of it used
        assert c.gap == pytest.approx(c.dev.loss - c.train.loss)
        assert 0 < c.train.top1 < 1 and 0 < c.dev.top1 < 1
        assert c.initial_dev is not None and c.initial_dev.top1 < c.dev.top1  # epoch 0 of the curves
        assert len(c.predictions) == TINY.top and all(0 < p < 1 for _, p in c.predictions)
    # The bidirectional cell reads the window twice: more parameters than the one-way GRU.
    params = {c.cell: c.parameters for c in result.cells}
    assert params["bigru"] > params["gru"] and params["lstm"] > params["gru"]


def test_every_cell_beats_the_unigram_baseline(comparison: tuple[Workspace, NextWordResult]) -> None:
    _, result = comparison
    baseline = result.baseline
    # The experiment's own baseline is the metrics module's add-one unigram model.
    train, dev = corpus_lines(SAMPLE / "enja/train.en"), corpus_lines(SAMPLE / "enja/dev.en")
    assert baseline.dev_ppl == pytest.approx(unigram_perplexity(train, dev), rel=0.05)
    assert 0.05 < baseline.dev_top1 < 0.3
    for c in result.cells:
        # Both metrics: a model that only ranked the frequent words well (top-1) or only spread its
        # probability better (perplexity) would not have learnt from the context.
        assert c.dev.top1 > baseline.dev_top1, (c.cell, c.dev, baseline)
        assert c.dev.ppl < baseline.dev_ppl, (c.cell, c.dev, baseline)
        history = c.history
        assert history[-1]["top1"] > history[0]["top1"] and history[-1]["dev_loss"] < history[0]["dev_loss"]


def test_epoch_zero_is_the_weights_training_started_from(tmp_path: Path) -> None:
    """With a vanishing learning rate, training leaves the weights where they started, so the
    trained model must score exactly what the experiment reports for epoch 0."""
    torch.set_num_threads(1)
    cfg = replace(TINY, cells=["bigru"], emb_dim=16, hidden=16, epochs=1, lr=1e-12, train_sample=100)
    result = run_next_word(Workspace(tmp_path), SAMPLE / "enja/train.en", SAMPLE / "enja/dev.en", cfg, device="cpu")
    (cell,) = result.cells
    assert cell.initial_dev is not None and cell.initial_train is not None
    assert cell.initial_dev.loss == pytest.approx(cell.dev.loss, rel=1e-5)
    assert cell.initial_train.top1 == pytest.approx(cell.train.top1, abs=1e-9)
    assert [row["epoch"] for row in cell.curve_rows()] == [0, 1]


def test_one_curve_per_cell_on_one_chart(
    comparison: tuple[Workspace, NextWordResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, result = comparison
    drawn: dict[str, list[str]] = {}
    save = seqtool.viz.curves._save

    def record(fig: Any, path: Path) -> Path:
        for ax in fig.axes:
            drawn[ax.get_title()] = [line.get_label() for line in ax.get_lines()]
        return save(fig, path)

    monkeypatch.setattr(seqtool.viz.curves, "_save", record)
    figure = plot_next_word(result, tmp_path / "next-word.png")
    assert drawn["loss"] == [f"{cell} {split}" for cell in CELLS for split in ("train", "dev")]
    assert drawn["dev top-1 accuracy"] == [*CELLS, "unigram baseline ('</s>')"]
    assert figure.stat().st_size > 10_000 and png_size(figure) == figure_pixels(2)


def test_tables_show_every_cell_and_the_baseline(comparison: tuple[Workspace, NextWordResult]) -> None:
    from rich.console import Console

    from seqtool.cli.experiment import _next_word_table, _predictions_table

    _, result = comparison
    console = Console(record=True, width=200)
    console.print(_next_word_table(result), _predictions_table(result))
    text = console.export_text()
    for needle in (
        "top-1 train",
        "top-1 dev",
        "loss dev",
        "gap",
        "unigram ('</s>')",
        'after "some of them looks like"',
    ):
        assert needle in text, needle
    for c in result.cells:
        assert text.count(c.name) == 2  # a row in the comparison, a column of predictions
        assert f"{c.dev.top1:.1%}" in text and f"{c.gap:+.3f}" in text


def test_cli_json_figure_and_numbered_names(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    taken = ws.model_dir("nextword-lstm")  # a model of that name exists: the new one is numbered
    taken.path.mkdir(parents=True)
    taken.write_config({"name": "nextword-lstm", "kind": "lm", "arch": "x", "created": "2026-01-01", "status": "done"})
    tiny = ["--emb-dim", "16", "--hidden", "16", "--epochs", "1", "--threads", "1", "--train-sample", "50"]
    r = run_cli("experiment", "next-word", "--cells", "lstm,bigru", *tiny, "--top", "3", "-w", str(ws.root), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [c["name"] for c in data["cells"]] == ["nextword-lstm-2", "nextword-bigru"]
    figure = ws.figures_dir / "next-word-lstm-bigru-context5.png"
    assert data["figure"] == str(figure) and png_size(figure) == figure_pixels(2)
    for cell in data["cells"]:
        assert set(cell["train"]) == set(cell["dev"]) == {"loss", "top1", "top5", "ppl"}
        assert cell["gap"] == pytest.approx(cell["dev"]["loss"] - cell["train"]["loss"], abs=1e-4)
        assert len(cell["history"]) == 1 and len(cell["predictions"]) == 3
    assert data["train_sample"] == 50 and data["baseline"]["word"] == "</s>"
    assert ws.find("nextword-bigru", "lm")[1]["model"]["bidirectional"] is True


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--cells", "lstm,transformer"], "--cells: unknown cell 'transformer'; choose from rnn, lstm, gru"),
        (["--cells", "gru,gru"], "--cells lists a cell twice"),
        (["--context", "0"], "--context must be between 1 and 100"),
        (["--data", "no-such-file.en"], "no-such-file.en: no such file"),
    ],
)
def test_bad_options_are_one_line_errors_before_anything_is_written(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    ws = tmp_path / "ws"
    r = run_cli("experiment", "next-word", *args, "-w", str(ws))
    assert_clean_error(r, needle)
    assert len(r.stderr.strip().splitlines()) == 1
    assert not ws.exists()
