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
    A folder without config.json is a set-up that was killed before anything was trained: both
    a fresh run and ``--resume`` start it again (callers check ``md.config_path`` for that).
    """
    ws.ensure_writable()
    md = ws.model_dir(name)
    if md.path.exists():
        with md.lock():  # another process training this name: a clear error before any other check
            pass
    exists = md.config_path.exists()
    killed_setup = md.path.is_dir() and not exists
    if resume and not exists and not killed_setup:
        raise WorkspaceError(f"no model {name!r} to resume in {ws.root}; train it first (without --resume)")
    if not resume and md.path.exists() and not killed_setup:
        raise WorkspaceError(
            f"model {name!r} already exists in {ws.root}; use --resume to continue it, another --name, "
            f"or `seqtool models rm {name}`"
        )
    created = not md.path.exists()
    # Only the process holding the lock may clean up: a second trainer that fails to get it
    # must not touch the first one's folder.
    with md.lock():
        if killed_setup:
            _clear_folder(md)
        _remove_stale_temporaries(md)
        try:
            yield md
        except BaseException as e:
            from seqtool.errors import SeqtoolError
            from seqtool.train import TrainingInterrupted

            started = md.checkpoint_path.exists()
            if created and isinstance(e, SeqtoolError) and not isinstance(e, TrainingInterrupted) and not started:
                shutil.rmtree(md.path, ignore_errors=True)
            raise


def _clear_folder(md: ModelDir) -> None:
    """Empty a folder left by a killed set-up (tokenizer, partial cache), keeping the held lock file."""
    for path in md.path.iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.name != ".lock":
            path.unlink(missing_ok=True)


def _remove_stale_temporaries(md: ModelDir) -> None:
    """Temporary files of atomic writes that a kill interrupted (``.NAME.XXXX.tmp``, ``*.tmp``).

    Safe under the lock: no other process writes into this folder.
    """
    for path in md.path.rglob("*.tmp"):
        path.unlink(missing_ok=True)


def count_parameters(model: SequenceModel) -> int:
    return model.num_parameters()


def load_model_weights(md: ModelDir, model: SequenceModel, device: torch.device) -> SequenceModel:
    from seqtool.train import load_weights

    if not md.weights_path.exists():
        raise WorkspaceError(
            f"model {md.name!r} has no weights yet ({md.weights_path} missing): training has not finished an "
            "evaluation; resume it with --resume"
        )
    # A `seqtool compress`ed folder stores int8/bf16 weights and runs reduced-precision kernels.
    from seqtool.compress import compression_of, load_compressed

    compression = compression_of(md.config(), md)
    if compression is not None:
        load_compressed(model, md.weights_path, compression)
    else:
        load_weights(model, md.weights_path)
    return model.to(device).eval()


def config_section(cfg: dict[str, Any], key: str, md: ModelDir) -> dict[str, Any]:
    section = cfg.get(key)
    if not isinstance(section, dict):
        raise WorkspaceError(f"{md.config_path}: missing the {key!r} section")
    return section


def finish_run(md: ModelDir, result: Any, **extra: Any) -> None:
    """Mark a finished training run as done in its config (best metric, training summary, ``extra``
    keys) and drop the encoded-corpus cache, which only a resumed run needs."""
    import shutil

    cfg = md.config()
    cfg.update(
        status="done", best=result.best, **extra,
        train={"elapsed_s": round(result.elapsed_s, 1), "tokens_per_s": round(result.tokens_per_s, 1),
               "epochs": result.epochs, "steps": result.steps, "stopped": result.stopped_because},
    )  # fmt: skip
    md.write_config(cfg)
    shutil.rmtree(md.file("cache"), ignore_errors=True)
