"""Training commands restart once with tcmalloc preloaded where it is installed (seqtool.cli.run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import seqtool.cli as cli
from seqtool.machine import allocator_in_use, find_tcmalloc


def _execs(monkeypatch: pytest.MonkeyPatch, args: list[str], **env: str) -> list[dict[str, str]]:
    """The environments ``_restart_with_tcmalloc`` would exec with (os.execve replaced by a recorder)."""
    calls: list[dict[str, str]] = []
    monkeypatch.setattr(os, "execve", lambda path, argv, environment: calls.append(environment))
    monkeypatch.setattr("seqtool.machine.find_tcmalloc", lambda: "/usr/lib/libtcmalloc_minimal.so.4")
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    monkeypatch.delenv(cli.ALLOCATOR_ENV, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cli._restart_with_tcmalloc(args)
    return calls


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux's")
def test_only_training_commands_restart_and_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    (env,) = _execs(monkeypatch, ["-w", "ws", "train-mt", "--epochs", "1"])
    assert env["LD_PRELOAD"] == "/usr/lib/libtcmalloc_minimal.so.4" and env[cli.ALLOCATOR_ENV] == "tcmalloc"
    assert _execs(monkeypatch, ["translate", "i can't swim"]) == []  # not a training command
    assert _execs(monkeypatch, ["train-mt"], SEQTOOL_ALLOCATOR="system") == []  # asked not to
    assert _execs(monkeypatch, ["train-mt"], SEQTOOL_ALLOCATOR="tcmalloc") == []  # the restarted process
    assert _execs(monkeypatch, ["train-lm"], LD_PRELOAD="/opt/libtcmalloc.so") == []  # already preloaded
    (env,) = _execs(monkeypatch, ["train-lm"], LD_PRELOAD="/opt/other.so")
    assert env["LD_PRELOAD"] == "/usr/lib/libtcmalloc_minimal.so.4 /opt/other.so"


def _trained_allocator(tmp_path: Path, **env: str) -> str:
    """Train a one-epoch translator on the sample data in a fresh process; the allocator its config records."""
    ws = tmp_path / "ws"
    plain = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", cli.ALLOCATOR_ENV)}
    subprocess.run(
        [sys.executable, "-m", "seqtool", "-w", str(ws), "train-mt", "--epochs", "1", "--name", "m",
         "--no-tune-decoding"],
        check=True, capture_output=True, env={**plain, **env},
    )  # fmt: skip
    return json.loads((ws / "models" / "m" / "config.json").read_text())["allocator"]


@pytest.mark.skipif(find_tcmalloc() is None, reason="tcmalloc is not installed (.ci/run installs it)")
def test_train_mt_runs_with_tcmalloc_and_records_it(tmp_path: Path) -> None:
    assert _trained_allocator(tmp_path / "auto") == "tcmalloc"
    assert _trained_allocator(tmp_path / "system", SEQTOOL_ALLOCATOR="system") == "system"
    if "LD_PRELOAD" not in os.environ:
        assert allocator_in_use() == "system"  # this test process: plain python, nothing preloaded
