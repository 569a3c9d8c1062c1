"""Crash safety of `seqtool train-lm`: SIGKILL at random moments, a second trainer, Ctrl-C.

Every test runs the real command in a subprocess (tiny GRU on the sample data, one thread) and
checks what a user would see: the run completes after enough ``--resume``, the metrics history
has one intact row per epoch, and the result matches an uninterrupted run with the same seed.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqtool.training.knobs import CHECKPOINT_STEPS_ENV
from tests.conftest import ROOT, assert_clean_error, run_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TINY = ["--cell", "gru", "--layers", "1", "--emb-dim", "32", "--hidden", "32", "--dropout", "0.1"]
RUN = ["--batch-size", "300", "--patience", "10", "--seed", "7", "--threads", "1", "--device", "cpu"]
# Checkpoint every 5 steps (about 6 per epoch here), so kills land between mid-epoch checkpoints.
ENV = {CHECKPOINT_STEPS_ENV: "5", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
EPOCHS = 8  # long enough that every planned kill lands mid-run on a fast idle CPU too


def train_args(ws: Path, name: str, epochs: int = EPOCHS, resume: bool = False) -> list[str]:
    return ["train-lm", "-w", str(ws), "--name", name, *TINY, *RUN, "--epochs", str(epochs)] + (
        ["--resume"] if resume else []
    )


def launch(args: list[str], log: Path) -> subprocess.Popen:
    """Start `python -m seqtool ARGS` with stdout+stderr in ``log`` (a pipe could fill and block)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "seqtool", *args], stdout=out, stderr=out, cwd=ROOT, env={**os.environ, **ENV}
        )


def wait_until(proc: subprocess.Popen, condition, timeout: float = 120) -> None:
    """Poll ``condition()`` until it holds or the process exits (no timing assumptions otherwise)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not condition():
        assert time.monotonic() < deadline, "the training subprocess made no progress"
        time.sleep(0.02)


def mtime(path: Path) -> int:
    return path.stat().st_mtime_ns if path.exists() else 0


def metrics_rows(model: Path) -> list[dict]:
    """metrics.jsonl parsed strictly: every line complete (newline-terminated) and a JSON object."""
    text = (model / "metrics.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n"), "torn last line"
    rows = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(r, dict) for r in rows)
    return rows


def checkpoint_position(model: Path) -> tuple[int, int] | None:
    path = model / "checkpoint.pt"
    if not path.exists():
        return None
    state = torch.load(path, weights_only=True)
    return state["epoch"], state["batch_in_epoch"]


def test_sigkill_at_random_moments_then_resume_matches_an_uninterrupted_run(tmp_path):
    ws = tmp_path / "ws"
    reference = run_cli(*train_args(ws, "reference"), env=ENV)
    assert reference.returncode == 0, reference.stderr

    model = ws / "models" / "crashy"
    log = tmp_path / "crashy.log"
    rng = random.Random(20261128)  # seeded: the same kill moments relative to each trigger every run
    # One kill during set-up (tokenizer, encoding, first config), then kills a random moment after
    # the process has written a checkpoint of its own, i.e. mid-training.
    plan = ["set-up", "training", "training", "training"]
    killed, resumed_from = 0, []
    for i, moment in enumerate(plan):
        before = mtime(model / "checkpoint.pt")
        proc = launch(train_args(ws, "crashy", resume=i > 0), log)
        if moment == "set-up":
            wait_until(proc, model.exists)
            time.sleep(rng.uniform(0.0, 0.3))
        else:
            wait_until(proc, lambda before=before: mtime(model / "checkpoint.pt") > before)
            time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=120)
        resumed_from.append(checkpoint_position(model))
    final = run_cli(*train_args(ws, "crashy", resume=True), env=ENV)
    assert final.returncode == 0, (final.stderr, log.read_text())

    assert killed >= 3, log.read_text()
    # At least one resume had to continue from inside an epoch (data position, not just epochs).
    assert any(pos is not None and pos[1] > 0 for pos in resumed_from), resumed_from
    config = json.loads((model / "config.json").read_text())
    assert config["status"] == "done"
    rows = metrics_rows(model)
    assert [r["epoch"] for r in rows] == list(range(1, EPOCHS + 1))  # one row per epoch, no duplicates
    ref_rows = metrics_rows(ws / "models" / "reference")
    # Tolerance: a resume restores weights, Adam moments, step, lr scale, RNG (dropout) and the batch
    # position, and one CPU thread computes deterministically, so the numbers should agree exactly.
    # rel 1e-4 leaves room only for float noise; a lost or repeated batch, a reset optimizer or a
    # different dropout stream moves dev perplexity by percents (seed-to-seed spread is larger still).
    for got, want in zip(rows, ref_rows, strict=True):
        assert got["step"] == want["step"]
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-4)
        assert got["dev_ppl"] == pytest.approx(want["dev_ppl"], rel=1e-4)
    ref_config = json.loads((ws / "models" / "reference" / "config.json").read_text())
    assert config["best"]["value"] == pytest.approx(ref_config["best"]["value"], rel=1e-4)
    leftovers = [p.name for p in model.rglob("*") if p.name.endswith(".tmp") or p.name == "cache"]
    assert leftovers == []


def test_second_trainer_is_refused_and_ctrl_c_saves_a_checkpoint_that_resumes(tmp_path):
    ws = tmp_path / "ws"
    model = ws / "models" / "shared"
    log = tmp_path / "first.log"
    first = launch(train_args(ws, "shared", epochs=200), log)  # runs until interrupted
    try:
        wait_until(first, (model / "checkpoint.pt").exists)
        assert first.poll() is None, log.read_text()

        second = run_cli(*train_args(ws, "shared"), env=ENV)
        assert_clean_error(second, "being trained by another process")
        second_resume = run_cli(*train_args(ws, "shared", resume=True), env=ENV)
        assert_clean_error(second_resume, "being trained by another process")
        assert first.poll() is None  # the refused trainers did not disturb the first one

        first.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert first.wait(timeout=120) == 130
    finally:
        if first.poll() is None:
            first.kill()
    output = log.read_text()
    assert "Traceback" not in output
    message = re.search(r"checkpoint saved \(epoch (\d+), batch (\d+)\).*--resume --name shared", output)
    assert message, output
    epoch, batch = int(message[1]), int(message[2])
    saved_epoch, saved_batch = checkpoint_position(model)
    assert (saved_epoch + 1, saved_batch) == (epoch, batch)  # the checkpoint is where the message says
    assert json.loads((model / "config.json").read_text())["status"] == "training"

    # Resume to the end of the interrupted epoch (the command-line budget replaces the stored one).
    resumed = run_cli(*train_args(ws, "shared", epochs=epoch, resume=True), env=ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((model / "config.json").read_text())["status"] == "done"
    assert [r["epoch"] for r in metrics_rows(model)] == list(range(1, epoch + 1))


def test_a_killed_encoding_never_leaves_a_cache_that_resume_trusts(tmp_path, monkeypatch):
    from seqtool.data.batching import encode_corpus, load_encoded
    from seqtool.data.tokenizers import WordTokenizer

    text = tmp_path / "train.txt"
    text.write_text("".join(f"line {i} has some words\n" for i in range(50)))
    tokenizer = WordTokenizer.train(text.read_text().splitlines())
    prefix = tmp_path / "cache" / "train"
    (corpus,), stats = encode_corpus([[text]], [tokenizer], prefix)
    assert load_encoded(prefix, 1) is not None and stats.kept == len(corpus) == 50

    # Killed half-way through encoding again over a complete cache: the completion marker went first.
    calls = 0

    def dies_on_second_chunk(lines):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # stands in for the kill
        return [tokenizer.encode(line) for line in lines]

    monkeypatch.setattr("seqtool.data.batching.ENCODE_CHUNK", 10)
    monkeypatch.setattr(tokenizer, "encode_batch", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        encode_corpus([[text]], [tokenizer], prefix)
    assert load_encoded(prefix, 1) is None

    # Killed between renaming the new ids into place and the new offsets, or before the completion marker.
    monkeypatch.undo()
    other = WordTokenizer.train(["completely different words"])  # new ids: all <unk>, other lengths
    rename = Path.replace

    def killed_renaming_offsets(self: Path, target: Path) -> Path:
        if str(target).endswith(".offsets"):
            raise KeyboardInterrupt
        return rename(self, target)

    for target, kill in [("pathlib.Path.replace", killed_renaming_offsets),
                         ("seqtool.data.batching.atomic_write_json", killed)]:  # fmt: skip
        encode_corpus([[text]], [tokenizer], prefix)
        with monkeypatch.context() as m:
            m.setattr(target, kill)
            with pytest.raises(KeyboardInterrupt):
                encode_corpus([[text]], [other], prefix)
        assert load_encoded(prefix, 1) is None

    # A cache whose files disagree (ids cut short) is rebuilt, not trusted.
    encode_corpus([[text]], [tokenizer], prefix)
    ids = Path(f"{prefix}.0.ids")
    ids.write_bytes(ids.read_bytes()[:-8])
    assert load_encoded(prefix, 1) is None


def killed(*_args, **_kwargs) -> None:
    raise KeyboardInterrupt  # stands in for SIGKILL at this point of a save
