"""Beam and length penalty tuned on dev (`seqtool tune-decoding`, also run at the end of train-mt): the
grid's best BLEU is stored in config.json, and translate / evaluate mt / the server use it unless told."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seqtool.metrics import bleu_only
from seqtool.store.workspace import Workspace
from seqtool.tasks.decoding_tuning import decoding_defaults, tune_decoding
from seqtool.tasks.mt import read_dev
from seqtool.tasks.translator import load_translator
from tests.conftest import SAMPLE, assert_clean_error, run_main
from tests.serve_models import MT, served_workspace  # noqa: F401 - the fixture

DEV = SAMPLE / "enja" / "dev.en", SAMPLE / "enja" / "dev.ja"


@pytest.fixture
def ws(served_workspace: Path, tmp_path: Path) -> Path:  # noqa: F811 - the fixture
    """A private copy of the served test workspace (tuning writes the model's config)."""
    return Path(shutil.copytree(served_workspace, tmp_path / "ws"))


def test_the_best_of_the_grid_is_stored_and_becomes_the_default(ws: Path) -> None:
    tr = load_translator(Workspace(ws), MT, "cpu", engine="torch")
    sources, refs = read_dev(*DEV)
    assert decoding_defaults(tr.config) == (5, 1.0)  # untuned
    section = tune_decoding(tr, sources, refs, beams=(1, 3), alphas=(0.0, 2.0))
    assert len(section["grid"]) == 4
    best = max(row["bleu"] for row in section["grid"])
    assert section["dev_bleu"] == best
    # The stored score is what that setting really gives.
    found = tr.translate(sources, tokenized=True, beam=section["beam"], alpha=section["length_penalty"])
    assert bleu_only([t[0].text for t in found], refs) == pytest.approx(best, abs=0.01)
    stored = json.loads((ws / "models" / MT / "config.json").read_text(encoding="utf-8"))
    assert decoding_defaults(stored) == (section["beam"], section["length_penalty"])


def test_cli_tunes_and_evaluate_uses_the_tuned_values(ws: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run_main(capsys, "-w", str(ws), "tune-decoding", "--model", MT, "--beams", "2",
                              "--alphas", "0.5,1.5", "--src", str(DEV[0]), "--ref", str(DEV[1]), "--json")  # fmt: skip
    assert code == 0, err
    tuned = json.loads(out)
    assert tuned["beam"] == 2 and tuned["length_penalty"] in (0.5, 1.5)
    code, out, err = run_main(capsys, "-w", str(ws), "evaluate", "mt", "--model", MT, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["beam"], result["length_penalty"]) == (2, tuned["length_penalty"])
    assert result["bleu"] == pytest.approx(tuned["dev_bleu"], abs=0.01)
    # An explicit option wins over the stored value.
    code, out, err = run_main(capsys, "-w", str(ws), "evaluate", "mt", "--model", MT, "--beam", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["beam"] == 1


def test_bad_grids_are_clear_errors_and_change_nothing(ws: Path, capsys: pytest.CaptureFixture) -> None:
    config = (ws / "models" / MT / "config.json").read_bytes()
    for args, needle in ((["--alphas", "x"], "--alphas must be comma-separated numbers"),
                         (["--alphas", "-1"], "--alphas must be numbers in [0, 10]"),
                         (["--beams", "a"], "--beams must be comma-separated integers"),
                         (["--beams", "0"], "--beam must be")):  # fmt: skip
        code, _, err = run_main(capsys, "-w", str(ws), "tune-decoding", "--model", MT, *args)
        assert code == 2 and needle in err and "Traceback" not in err, (args, err)
    assert (ws / "models" / MT / "config.json").read_bytes() == config


def test_nbest_over_a_tuned_beam_is_a_clear_error(ws: Path) -> None:
    from tests.conftest import run_cli

    result = run_cli("-w", str(ws), "translate", "--model", MT, "--beam", "2", "--nbest", "3", "i can't swim")
    assert_clean_error(result, "need 1 <= --nbest <= --beam")
