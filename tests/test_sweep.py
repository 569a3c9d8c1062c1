"""`seqtool sweep`: trials are real training runs, pruning stops them, a killed sweep resumes, bad
spaces are refused before anything is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqtool.store.workspace import Workspace
from seqtool.tasks.sweep import Sweep, SweepSettings, SweepTarget
from tests.conftest import assert_clean_error, run_cli

BASE = "cell: gru\nemb-dim: 16\nhidden: 16\n"
SPACE = "lr: {low: 1e-3, high: 2e-2, log: true}\nhidden: [8, 16]\n"


def files(tmp_path: Path, base: str = BASE + "epochs: 2\n", space: str = SPACE) -> tuple[Path, Path]:
    (tmp_path / "base.yaml").write_text(base)
    (tmp_path / "space.yaml").write_text(space)
    return tmp_path / "base.yaml", tmp_path / "space.yaml"


def sweep_args(ws: Path, base: Path, space: Path, name: str, *more: str) -> list[str]:
    return ["-w", str(ws), "sweep", "train-lm", "--config", str(base), "--space", str(space), "--name", name,
            "--threads", "1", *more]  # fmt: skip


def test_a_sweep_trains_its_trials_and_writes_the_best_run_file(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    base, space = files(tmp_path)
    result = run_cli(*sweep_args(ws, base, space, "s", "--trials", "3", "--trial-minutes", "2", "--json"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [t["state"] for t in summary["trials"]] == ["complete"] * 3
    values = [t["value"] for t in summary["trials"]]
    assert summary["best"]["value"] == min(values)  # perplexity: lower is better
    for t in summary["trials"]:  # each trial is an ordinary model, trained with the drawn options
        cfg = json.loads((ws / "models" / t["model"] / "config.json").read_text())
        assert cfg["model"]["hidden"] == t["params"]["hidden"]
        assert cfg["train_config"]["lr"] == pytest.approx(t["params"]["lr"])
        assert cfg["best"]["value"] == pytest.approx(t["value"])
    assert {Path(f).name for f in summary["figures"]} == {"sweep-s-history.png", "sweep-s-importances.png"}
    # best.yaml is a run file: training from it reproduces the best trial
    again = run_cli("-w", str(ws), "train-lm", "--config", str(ws / "sweeps" / "s" / "best.yaml"), "--name", "again",
                    "--threads", "1", "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["best"]["value"] == pytest.approx(summary["best"]["value"], rel=1e-6)
    # a finished sweep resumed has nothing left to do
    done = run_cli("-w", str(ws), "sweep", "train-lm", "--name", "s", "--resume", "--trials", "3")
    assert done.returncode == 0 and "nothing left to do" in done.stderr


def test_two_workspaces_share_one_study_through_a_storage_url(tmp_path: Path) -> None:
    """--storage URL: what several machines do. The second sweep continues the first one's study: it runs only
    the trials still missing, and its summary holds both machines' trials."""
    base, space = files(tmp_path)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = run_cli(*sweep_args(tmp_path / "one", base, space, "s", "--trials", "1", "--storage", url, "--json"))
    assert first.returncode == 0, first.stderr
    second = run_cli(*sweep_args(tmp_path / "two", base, space, "s", "--trials", "2", "--storage", url, "--json"))
    assert second.returncode == 0, second.stderr
    trials = json.loads(second.stdout)["trials"]
    assert [t["state"] for t in trials] == ["complete", "complete"]
    mine = [t["model"] for t in trials if (tmp_path / "two" / "models" / t["model"]).is_dir()]
    assert len(mine) == 1 and (tmp_path / "one" / "models" / json.loads(first.stdout)["trials"][0]["model"]).is_dir()
    assert not (tmp_path / "two" / "sweeps" / "s" / "study.db").exists()  # the study lives in the shared database


class ScriptedTrial:
    """An Optuna trial stand-in whose pruner says 'stop' after the first epoch."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, int]] = []

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return True


def test_a_pruned_trial_is_stopped_after_the_epoch_it_was_judged_on(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    target = SweepTarget("train-lm", "dev_ppl", maximize=False)
    sweep = Sweep(ws, "p", target, {}, [], SweepSettings())
    run_file = tmp_path / "long.yaml"
    run_file.write_text(BASE + "epochs: 500\n")
    argv = [sys.executable, "-m", "seqtool", "-w", str(ws.root), "train-lm", "--config", str(run_file), "--name",
            "p-t000", "--threads", "1"]  # fmt: skip
    trial = ScriptedTrial()
    started = time.monotonic()
    assert sweep._watch(trial, argv, tmp_path / "log", "p-t000") == 1
    assert trial.reports and trial.reports[0][1] == 1
    assert time.monotonic() - started < 120  # far from 500 epochs: the run was stopped
    cfg = json.loads((ws.root / "models" / "p-t000" / "config.json").read_text())
    assert cfg["status"] != "done"  # interrupted, as Ctrl-C leaves a run (resumable)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead
        return f.read().split(")")[-1].split()[0] != "Z"


def test_a_sweep_killed_mid_trial_resumes_and_loses_only_that_trial(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    base, space = files(tmp_path, base=BASE + "epochs: 400\n")
    args = sweep_args(ws, base, space, "k", "--trials", "2", "--trial-minutes", "0.15", "--budget-minutes", "10")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sweep = subprocess.Popen([sys.executable, "-m", "seqtool", *args], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    # Killed while the second trial trains, so that one trial has finished and one is in flight.
    metrics = ws / "models" / "k-t001" / "metrics.jsonl"
    deadline = time.monotonic() + 180
    while not (metrics.exists() and metrics.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metrics.exists(), "the second trial never reported an epoch"
    trainer = int((ws / "models" / "k-t001" / ".lock").read_text())
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    deadline = time.monotonic() + 30
    while _alive(trainer) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(trainer), "the trial in flight outlived its sweep"
    # SIGKILL runs no clean-up: the minutes of the finished trial were recorded when it finished.
    spent_before = json.loads((ws / "sweeps" / "k" / "summary.json").read_text())["spent_s"]
    assert spent_before >= 0.15 * 60 * 0.9

    resumed = run_cli("-w", str(ws), "sweep", "train-lm", "--name", "k", "--resume", "--threads", "1", "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    states = [t["state"] for t in summary["trials"]]
    assert states == ["complete", "fail", "complete"]  # --trials 2 finished ones, as asked
    assert not (ws / "models" / "k-t001").exists() and (ws / "models" / "k-t000").exists()
    assert summary["spent_s"] > spent_before


@pytest.mark.parametrize(
    ("space", "base", "needles"),
    [
        ("lrate: {low: 1e-3, high: 1e-2}\n", None, ("space.yaml:1", "lrate", "nearest: lr")),
        ("lr: {low: 1e-2, high: 1e-3}\n", None, ("space.yaml:1", "empty range")),
        ("dropout: {low: 0.0, high: 0.3, log: true}\n", None, ("log range needs low > 0",)),
        ("hidden: []\n", None, ("non-empty list",)),
        ("hidden: {low: 8.5, high: 32}\n", None, ("whole numbers",)),
        ("cell: {low: 1, high: 2}\n", None, ("not a number",)),
        ("name: [a, b]\n", None, ("no such option, or a sweep sets it",)),
        (SPACE, "emb-dims: 16\n", ("base.yaml:1", "emb-dims", "nearest: emb-dim")),
    ],
)
def test_bad_spaces_and_base_files_are_refused_before_anything_is_written(
    tmp_path: Path, space: str, base: str | None, needles: tuple[str, ...]
) -> None:
    ws = tmp_path / "ws"
    base_file, space_file = files(tmp_path, base=base or BASE, space=space)
    assert_clean_error(run_cli(*sweep_args(ws, base_file, space_file, "bad")), *needles)
    assert not (ws / "sweeps").exists() and not (ws / "models").exists()


def test_sweep_options_are_checked(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    base, space = files(tmp_path)
    assert_clean_error(run_cli("-w", str(ws), "sweep", "translate", "--space", str(space), "--name", "x"),
                       "cannot sweep 'translate'")  # fmt: skip
    assert_clean_error(run_cli(*sweep_args(ws, base, space, "x", "--pruner", "fast")), "--pruner must be one of")
    assert_clean_error(run_cli(*sweep_args(ws, base, space, "x", "--trials", "0")), "--trials must be > 0")
    assert_clean_error(run_cli("-w", str(ws), "sweep", "train-lm", "--name", "x", "--resume"), "no sweep 'x'")
    missing = run_cli("-w", str(ws), "sweep", "train-lm", "--space", str(tmp_path / "none.yaml"), "--name", "x")
    assert_clean_error(missing, "--space", "none.yaml: no such file")
    assert not (ws / "sweeps").exists()


def test_word_vectors_are_swept_by_analogy_accuracy_and_a_failed_trial_says_why(tmp_path: Path) -> None:
    from tests.conftest import ROOT

    ws = tmp_path / "ws"
    base, space = files(tmp_path, base="epochs: 2\n", space="dim: [16, 32]\n")
    questions = ROOT / "benchmarks" / "analogy_ja.txt"
    result = run_cli("-w", str(ws), "sweep", "embed", "--config", str(base), "--space", str(space), "--name", "e",
                     "--trials", "2", "--questions", str(questions), "--threads", "1", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [t["state"] for t in summary["trials"]] == ["complete", "complete"] and summary["metric"] == "accuracy"
    assert summary["best"]["value"] == max(t["value"] for t in summary["trials"]) and 0 < summary["best"]["value"] <= 1

    bad, space = files(tmp_path, base=BASE + "epochs: 1\ndropout: 1.5\n")  # refused by train-lm when it starts
    failed = run_cli(*sweep_args(ws, bad, space, "f", "--trials", "1", "--json"))
    assert failed.returncode == 0, failed.stderr
    (trial,) = json.loads(failed.stdout)["trials"]
    assert trial["state"] == "fail" and "dropout" in trial["error"] and json.loads(failed.stdout)["best"] is None
