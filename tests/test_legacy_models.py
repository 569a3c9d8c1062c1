"""Models trained by an older seqtool still load and answer exactly as they did.

tests/fixtures/legacy_e48442e/ is a workspace written by commit e48442e (before the redesign): two
language models (LSTM, Transformer), two translators (GRU + Bahdanau attention, Transformer), a
dialogue model and word2vec vectors, all tiny. expected/NAME.txt is what that commit printed for
``seqtool CASES[NAME]``; the current code must print the same bytes, so a change to a file format, a
tokenizer, a weight name or the decoding arithmetic shows up here instead of in a user's old folder.
The fixture is never regenerated with newer code (see its README.md); each test runs on a copy of it.

Byte-identical is what holds on the CPU that wrote the fixture (an AMD EPYC with AVX-512). Another CPU
family's kernels (AVX2 oneDNN, other summation orders) may move a float in its last digits without any
change to seqtool, so --json outputs that differ only by numbers within a relative 1e-4 also pass; text
must match exactly.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "legacy_e48442e"
EXPECTED = FIXTURE / "expected"

MODELS = {
    "lm-lstm": "lm",
    "lm-transformer": "lm",
    "mt-gru": "mt",
    "mt-transformer": "mt",
    "dialog-hred": "dialog",
    "w2v": "embeddings",
}

# Each command runs in the copied workspace folder (inputs/ are relative to it) with --workspace added.
TRANSLATE = ("translate", "--engine", "torch", "--threads", "1", "--input", "inputs/translate.en")
CASES: dict[str, tuple[str, ...]] = {
    "translate-mt-gru-greedy": (*TRANSLATE, "-m", "mt-gru", "--beam", "1", "--json"),
    "translate-mt-gru-greedy-plain": (*TRANSLATE, "-m", "mt-gru", "--beam", "1"),
    "translate-mt-gru-beam5": (*TRANSLATE, "-m", "mt-gru", "--beam", "5", "--json"),
    "translate-mt-gru-nbest2": (*TRANSLATE, "-m", "mt-gru", "--beam", "5", "--nbest", "2", "--json"),
    "translate-mt-transformer-greedy": (*TRANSLATE, "-m", "mt-transformer", "--beam", "1", "--json"),
    "translate-mt-transformer-greedy-plain": (*TRANSLATE, "-m", "mt-transformer", "--beam", "1"),
    "translate-mt-transformer-beam5": (*TRANSLATE, "-m", "mt-transformer", "--beam", "5", "--json"),
    "translate-mt-transformer-nbest2": (*TRANSLATE, "-m", "mt-transformer", "--beam", "5", "--nbest", "2", "--json"),
    "predict-next-lm-lstm": ("predict-next", "-m", "lm-lstm", "my father", "--json"),
    "predict-next-lm-lstm-plain": ("predict-next", "-m", "lm-lstm", "my father"),
    "predict-next-lm-transformer": ("predict-next", "-m", "lm-transformer", "my father", "--json"),
    "generate-lm-lstm": ("generate", "-m", "lm-lstm", "--prompt", "my father", "--max-words", "12", "-n", "3", "--seed", "1", "--json"),
    "generate-lm-transformer": ("generate", "-m", "lm-transformer", "--prompt", "my father", "--max-words", "12", "-n", "3", "--seed", "1", "--json"),
    "evaluate-lm-lstm": ("evaluate", "lm", "-m", "lm-lstm", "--data", "inputs/eval.en", "--threads", "1", "--json"),
    "evaluate-lm-transformer": ("evaluate", "lm", "-m", "lm-transformer", "--data", "inputs/eval.en", "--threads", "1", "--json"),
    "respond-greedy": ("respond", "-m", "dialog-hred", "shall we go to the museum this weekend ?", "sorry , i am busy .", "--json"),
    "respond-greedy-one-turn": ("respond", "-m", "dialog-hred", "hello , how are you ?", "--json"),
    "respond-sampled": ("respond", "-m", "dialog-hred", "can i help you ?", "--temperature", "1.0", "-n", "3", "--seed", "1", "--json"),
    "analogy-family": ("analogy", "-m", "w2v", "父 - 男 + 女", "--json"),
    "analogy-capital": ("analogy", "-m", "w2v", "東京 - 日本 + フランス", "--json"),
    "analogy-family-plain": ("analogy", "-m", "w2v", "父 - 男 + 女"),
    "similar-family": ("similar", "-m", "w2v", "家族", "--json"),
}  # fmt: skip


@pytest.fixture
def legacy_workspace(tmp_path: Path) -> Path:
    """A copy of the old workspace (the commands must not touch the fixture in the repository)."""
    copy = tmp_path / "legacy"
    shutil.copytree(FIXTURE, copy, ignore=shutil.ignore_patterns("expected", "README.md"))
    return copy


def test_every_case_has_its_expected_output() -> None:
    assert sorted(p.stem for p in EXPECTED.glob("*.txt")) == sorted(CASES)


def _same(value: Any, expected: Any) -> bool:
    """Equal, numbers within a relative 1e-4 (see the module docstring)."""
    if isinstance(expected, bool) or not isinstance(expected, int | float):
        if isinstance(expected, dict):
            return isinstance(value, dict) and value.keys() == expected.keys() and all(
                _same(value[k], expected[k]) for k in expected)  # fmt: skip
        if isinstance(expected, list):
            return isinstance(value, list) and len(value) == len(expected) and all(
                _same(v, e) for v, e in zip(value, expected, strict=True))  # fmt: skip
        return value == expected
    return isinstance(value, int | float) and math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-9)


def assert_same_output(stdout: str, case: str) -> None:
    expected = (EXPECTED / f"{case}.txt").read_bytes()
    if stdout.encode("utf-8") == expected or (
        "--json" in CASES[case] and _same(json.loads(stdout), json.loads(expected))
    ):
        return
    assert stdout == expected.decode("utf-8")  # shows the difference


@pytest.mark.parametrize("case", sorted(CASES))
def test_old_model_gives_the_same_output(case: str, legacy_workspace: Path) -> None:
    result = run_cli(*CASES[case], "--workspace", str(legacy_workspace), cwd=legacy_workspace)
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert_same_output(result.stdout, case)


# One case per model: what `models import` of that folder must still answer after the round trip.
FIRST_CASE = {name: next(c for c, args in CASES.items() if name in args) for name in MODELS}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_import_round_trips_every_kind(name: str, legacy_workspace: Path, tmp_path: Path) -> None:
    """A model folder taken out of one workspace and imported into another answers exactly as before.
    (A dialogue folder failed here with KeyError: 'dialog' before model kinds had one registry.)"""
    fresh = tmp_path / "fresh"
    shutil.copytree(legacy_workspace / "inputs", fresh / "inputs")
    done = run_cli("models", "import", str(legacy_workspace / "models" / name), "--workspace", str(fresh))
    assert done.returncode == 0, done.stderr
    result = run_cli(*CASES[FIRST_CASE[name]], "--workspace", str(fresh), cwd=fresh)
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert_same_output(result.stdout, FIRST_CASE[name])


def test_old_models_are_listed_with_their_kinds(legacy_workspace: Path) -> None:
    result = run_cli("models", "--workspace", str(legacy_workspace), "--json", cwd=legacy_workspace)
    assert result.returncode == 0, (result.returncode, result.stderr)
    listed = {m["name"]: m["kind"] for m in json.loads(result.stdout)["models"]}
    assert listed == MODELS
