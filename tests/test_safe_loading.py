"""No code path unpickles untrusted data: planted pickles are refused without running them.

The payload is a real one (``__reduce__`` -> ``os.system("touch MARKER")``); a control load with
``weights_only=False`` proves it would run, and the marker file must stay absent when seqtool
meets the same file where it expects a checkpoint or weights.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from seqtool.errors import SeqtoolError, TrainingInterrupted
from seqtool.models.lm import lm_config
from seqtool.store.weights import safe_load_checkpoint
from seqtool.store.workspace import Workspace
from seqtool.tasks.lm import TokenizerConfig, lm_train_config, train_lm
from seqtool.training.knobs import CHECKPOINT_STEPS_ENV
from tests.conftest import SAMPLE, assert_clean_error, make_lm_folder, make_mt_folder, run_cli, run_main, snapshot

TINY = ["--cell", "gru", "--layers", "1", "--emb-dim", "32", "--hidden", "32", "--dropout", "0"]


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant(path: Path, marker: Path, how: str) -> None:
    if how == "torch.save":  # looks like a real checkpoint: a zip with data.pkl inside
        torch.save({"model": Payload(marker), "step": 1}, path)
    else:  # a bare pickle, newest protocol
        path.write_bytes(pickle.dumps({"model": Payload(marker)}, protocol=pickle.HIGHEST_PROTOCOL))


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with an LM whose training was interrupted (status "training", checkpoint.pt)."""
    ws = Workspace(tmp_path_factory.mktemp("interrupted") / "ws")
    os.environ[CHECKPOINT_STEPS_ENV] = "2"

    def stop_at_step_5(event: dict) -> None:
        if event.get("event") == "step" and event["batch"] == 5:
            raise KeyboardInterrupt

    try:
        with pytest.raises(TrainingInterrupted):
            train_lm(
                ws, "victim", SAMPLE / "enja/train.en", SAMPLE / "enja/dev.en",
                lm_config(cell="gru", layers=1, emb_dim=32, hidden=32, dropout=0.0),
                lm_train_config(epochs=1, batch_tokens=300), TokenizerConfig(), device="cpu", progress=stop_at_step_5,
            )  # fmt: skip
    finally:
        del os.environ[CHECKPOINT_STEPS_ENV]
    assert (ws.models_dir / "victim" / "checkpoint.pt").exists()
    return ws.root


def without_lock(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if not k.endswith(".lock")}  # the lock file holds the last pid


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_resume_refuses_a_malicious_checkpoint_without_running_it(tmp_path, interrupted_run, how):
    ws = tmp_path / "ws"
    shutil.copytree(interrupted_run, ws)
    checkpoint = ws / "models" / "victim" / "checkpoint.pt"
    marker, control = tmp_path / "pwned", tmp_path / "control-pwned"
    plant(checkpoint, marker, how)
    # Control: the payload is live; an unrestricted load of the same file (other marker) runs it.
    plant(tmp_path / "copy.pt", control, how)
    if how == "torch.save":
        torch.load(tmp_path / "copy.pt", weights_only=False)
    else:
        pickle.loads((tmp_path / "copy.pt").read_bytes())
    assert control.exists()

    before = without_lock(snapshot(ws))
    result = run_cli("train-lm", "-w", str(ws), "--name", "victim", "--resume", *TINY, "--epochs", "1")
    assert_clean_error(result, "checkpoint.pt: refusing to load", "Delete it to restart the run")
    assert result.stderr.count("\n") == 1
    assert not marker.exists()
    assert without_lock(snapshot(ws)) == before  # the planted file is still there, nothing else changed


def test_checkpoint_loader_refuses_pickles_and_non_checkpoints(tmp_path):
    marker = tmp_path / "pwned"
    plant(tmp_path / "evil.pt", marker, "torch.save")
    with pytest.raises(SeqtoolError, match="refusing to load.*GLOBAL posix.system"):
        safe_load_checkpoint(tmp_path / "evil.pt", torch.device("cpu"))
    torch.save({"just": torch.zeros(2)}, tmp_path / "tensors.pt")  # safe but not ours
    with pytest.raises(SeqtoolError, match="not a seqtool checkpoint"):
        safe_load_checkpoint(tmp_path / "tensors.pt", torch.device("cpu"))
    (tmp_path / "torn.pt").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(SeqtoolError, match="not a readable checkpoint"):
        safe_load_checkpoint(tmp_path / "torn.pt", torch.device("cpu"))
    assert not marker.exists()


@pytest.mark.parametrize("content", ["garbage", "pickle"])
def test_broken_weights_give_a_clear_error_on_predict_and_translate(tmp_path, capsys, content):
    ws = tmp_path / "ws"
    make_lm_folder(ws / "models" / "lm")
    make_mt_folder(ws / "models" / "mt")
    marker = tmp_path / "pwned"
    for kind in ("lm", "mt"):
        weights = ws / "models" / kind / "model.safetensors"
        if content == "garbage":
            weights.write_bytes(os.urandom(4096))
        else:
            plant(weights, marker, "torch.save")
    before = snapshot(ws)
    for argv in (["predict-next", "my father", "-m", "lm"], ["translate", "my father", "-m", "mt"]):
        code, _, err = run_main(capsys, *argv, "-w", str(ws), "--device", "cpu")
        assert code == 2, err
        assert "model.safetensors: not a readable safetensors file" in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not marker.exists()
    assert snapshot(ws) == before


def test_weights_of_another_shape_name_the_tensor(tmp_path, capsys):
    ws = tmp_path / "ws"
    make_lm_folder(ws / "models" / "a")
    other = make_lm_folder(tmp_path / "other")
    cfg = (
        (other / "config.json")
        .read_text()
        .replace('"emb_dim": 16', '"emb_dim": 24')
        .replace('"hidden": 16', '"hidden": 24')
    )
    (ws / "models" / "a" / "config.json").write_text(cfg)  # config and weights disagree
    code, _, err = run_main(capsys, "predict-next", "my father", "-m", "a", "-w", str(ws), "--device", "cpu")
    assert code == 2 and "has shape" in err and err.count("\n") == 1, err
