"""Setting a training run up: the model folder (new, resumed, or a killed set-up started again), rank 0's
role under torchrun (see :mod:`seqtool.training.distributed`), and marking a finished run done."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqtool.errors import WorkspaceError
from seqtool.store.workspace import ModelDir, Workspace
from seqtool.training.distributed import DistContext, process_group


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
            from seqtool.errors import SeqtoolError, TrainingInterrupted

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


@contextlib.contextmanager
def shared_model_dir(ws: Workspace, name: str, resume: bool, dist: DistContext) -> Iterator[ModelDir]:
    """Rank 0 takes the folder as a single process would (lock, checks, clean-up on failure);
    the other ranks only read it, after rank 0's set-up (see the module docstring)."""
    if dist.is_main:
        from seqtool.training.run import new_model_dir

        with new_model_dir(ws, name, resume) as md:
            yield md
    else:
        yield ws.model_dir(name)


def quiet(_: dict[str, Any]) -> None:
    """The progress callback of ranks other than 0: only rank 0 reports."""


@dataclass
class SharedRun:
    """One training run's folder as this rank sees it (see the module docstring for the roles)."""

    dist: DistContext
    md: ModelDir
    device: torch.device
    progress: Callable[[dict[str, Any]], None]  # rank 0's callback; a no-op on the other ranks
    resume: bool  # continue the folder's run (false also when a killed set-up left no config)

    @property
    def reads_folder(self) -> bool:
        """Config, tokenizers and encoded corpus come from the folder (a resume, or a rank other than 0)."""
        return self.resume or not self.dist.is_main

    def load_encoded(self, cache: Path, sides: int) -> Any:
        """The encoded corpus rank 0 left in ``cache`` (None: rank 0 must encode it now)."""
        from seqtool.data.batching import load_encoded

        encoded = load_encoded(cache, sides) if self.reads_folder else None
        if encoded is None and not self.dist.is_main:
            raise WorkspaceError(f"rank {self.dist.rank}: rank 0's encoded corpus in {cache} is missing or stale")
        return encoded

    def publish(self, cfg: dict[str, Any]) -> None:
        """Rank 0 writes the config, then lets the other ranks read the folder."""
        if self.dist.is_main:
            self.md.write_config(cfg)
            self.dist.share(None)


@contextlib.contextmanager
def shared_run(
    ws: Workspace, name: str, resume: bool, device: torch.device, progress: Callable[[dict[str, Any]], None]
) -> Iterator[SharedRun]:
    """Set up a training run under torchrun or alone: rank 0 sets the folder up, the other ranks
    wait (until :meth:`SharedRun.publish`) and then read it."""
    with process_group(device) as dist, shared_model_dir(ws, name, resume, dist) as md:
        run = SharedRun(dist, md, dist.device(device), progress if dist.is_main else quiet, False)
        run.resume = dist.share(resume and md.config_path.exists())  # no config: a killed set-up, start again
        if not dist.is_main:
            dist.share(None)  # wait until rank 0 has written the config, tokenizers and encoded corpus
        yield run
