"""Run-time plumbing shared by the tasks: devices, loading a trained model, new model folders."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

import torch

from seqtool.errors import OptionError, WorkspaceError
from seqtool.models.base import SequenceModel
from seqtool.workspace import ModelDir, Workspace


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks a GPU when one is present."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise OptionError(f"--device must be auto, cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError("--device cuda: no CUDA GPU is available here; use --device cpu")
    return torch.device(device)


def unique_name(ws: Workspace, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is free."""
    name, n = base, 1
    while ws.model_dir(name).path.exists():
        n += 1
        name = f"{base}-{n}"
    return name


@contextlib.contextmanager
def new_model_dir(ws: Workspace, name: str, resume: bool) -> Iterator[ModelDir]:
    """The folder to train into, locked for this process.

    A new folder that fails during set-up (bad data, bad options) is removed again, so the
    workspace is left as it was; once training has started, the folder holds a resumable run.
    """
    ws.ensure_writable()
    md = ws.model_dir(name)
    exists = md.config_path.exists()
    if resume and not exists:
        raise WorkspaceError(f"no model {name!r} to resume in {ws.root}; train it first (without --resume)")
    if not resume and md.path.exists():
        raise WorkspaceError(
            f"model {name!r} already exists in {ws.root}; use --resume to continue it, another --name, "
            f"or `seqtool models rm {name}`"
        )
    created = not md.path.exists()
    try:
        with md.lock():
            yield md
    except BaseException as e:
        from seqtool.errors import SeqtoolError
        from seqtool.train import TrainingInterrupted

        started = md.checkpoint_path.exists()
        if created and isinstance(e, SeqtoolError) and not isinstance(e, TrainingInterrupted) and not started:
            shutil.rmtree(md.path, ignore_errors=True)
        raise


def count_parameters(model: SequenceModel) -> int:
    return model.num_parameters()


def load_model_weights(md: ModelDir, model: SequenceModel, device: torch.device) -> SequenceModel:
    from seqtool.train import load_weights

    if not md.weights_path.exists():
        raise WorkspaceError(
            f"model {md.name!r} has no weights yet ({md.weights_path} missing): training has not finished an "
            "evaluation; resume it with --resume"
        )
    load_weights(model, md.weights_path)
    return model.to(device).eval()


def config_section(cfg: dict[str, Any], key: str, md: ModelDir) -> dict[str, Any]:
    section = cfg.get(key)
    if not isinstance(section, dict):
        raise WorkspaceError(f"{md.config_path}: missing the {key!r} section")
    return section
