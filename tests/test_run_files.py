"""Runs as files: ``--config`` for the training commands, and ``models show --as-config`` that repeats a run."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import assert_clean_error, run_cli

TINY_MT = "arch: gru\nemb-dim: 32\nhidden: 32\ndropout: 0.0\ntune-decoding: false\nthreads: 1\n"


def metrics(ws: Path, name: str) -> list[dict]:
    lines = (ws / "models" / name / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_a_run_file_trains_and_the_command_line_overrides_it(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run = tmp_path / "run.yaml"
    run.write_text(TINY_MT + "epochs: 3\nlr: 3e-3  # YAML reads this as text; the option converts it\n")
    result = run_cli("-w", str(ws), "train-mt", "--config", str(run), "--epochs", "1", "--name", "a", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["epochs"] == 1  # the command line won
    cfg = json.loads((ws / "models" / "a" / "config.json").read_text())
    assert cfg["model"]["hidden"] == 32 and cfg["train_config"]["lr"] == 3e-3  # the file's values were used
    assert cfg["run"]["options"]["epochs"] == 1 and cfg["run"]["command"] == "train-mt"


def test_as_config_repeats_the_run(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    first = run_cli("-w", str(ws), "train-mt", "--arch", "gru", "--emb-dim", "32", "--hidden", "32", "--epochs", "2",
                    "--seed", "7", "--no-tune-decoding", "--threads", "1", "--name", "first")  # fmt: skip
    assert first.returncode == 0, first.stderr
    shown = run_cli("-w", str(ws), "models", "show", "first", "--as-config")
    assert shown.returncode == 0, shown.stderr
    run = tmp_path / "first.yaml"
    run.write_text(shown.stdout)
    assert "seed: 7" in shown.stdout and "src: " in shown.stdout  # data files and seed are written down
    again = run_cli("-w", str(ws), "train-mt", "--config", str(run), "--name", "again")
    assert again.returncode == 0, again.stderr
    keys = ("epoch", "train_loss", "dev_bleu", "dev_loss")
    assert [{k: r[k] for k in keys} for r in metrics(ws, "again")] == [
        {k: r[k] for k in keys} for r in metrics(ws, "first")
    ]


def test_language_model_runs_round_trip_too(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run = tmp_path / "lm.json"  # JSON is YAML: either works
    run.write_text(json.dumps({"cell": "gru", "emb_dim": 16, "hidden": 16, "epochs": 1, "threads": 1}))
    assert run_cli("-w", str(ws), "train-lm", "--config", str(run), "--name", "l").returncode == 0
    shown = run_cli("-w", str(ws), "models", "show", "l", "--as-config")
    assert shown.returncode == 0 and "cell: gru" in shown.stdout and "dev: " in shown.stdout


def test_bad_run_files_are_one_line_errors_and_write_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cases = {
        "lrate: 0.1\n": ("bad.yaml:1", "no option 'lrate'", "nearest: lr"),
        "epochs: 1\nhidden: lots\n": ("bad.yaml:2", "hidden"),
        "epochs: [1\n": ("bad.yaml", "not valid YAML"),
        "- epochs\n": ("a run file is a mapping",),
        "resume: true\n": ("resume belongs on the command line",),
        "epochs: [1, 2]\n": ("epochs takes one value",),
    }
    bad = tmp_path / "bad.yaml"
    for text, needles in cases.items():
        bad.write_text(text)
        assert_clean_error(run_cli("-w", str(ws), "train-mt", "--config", str(bad)), *needles)
    assert_clean_error(run_cli("-w", str(ws), "train-lm", "--config", str(tmp_path / "none.yaml")), "no such file")
    assert not (ws / "models").exists() or not any((ws / "models").iterdir())


def test_a_model_without_a_record_says_so(tmp_path: Path) -> None:
    from tests.conftest import train_tiny_mt

    ws, _ = train_tiny_mt(tmp_path, epochs=1, name="lib")  # trained through the library, not a command
    assert_clean_error(run_cli("-w", str(ws.root), "models", "show", "lib", "--as-config"), "no record")
