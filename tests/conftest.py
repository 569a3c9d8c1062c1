"""Shared fixtures: a temporary workspace, the sample data, and a CLI runner that checks exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests train tiny models; one torch thread avoids oversubscription when tests run in parallel.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def sample() -> Path:
    return SAMPLE


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None, env: dict | None = None):
    """Run `python -m seqtool ARGS` in a subprocess (the real entry point, real exit codes)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "seqtool", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=input,
        env=full_env,
        timeout=600,
    )


def assert_clean_error(result, *needles: str) -> None:
    """A user error: exit code 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
