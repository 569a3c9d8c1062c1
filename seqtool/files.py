"""Files and paths, below everything else: atomic writes (temporary file, fsync, rename) and where the
workspace is. A kill at any instant leaves either the old or the new version of a file, never a torn one."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqtool.errors import OptionError, WorkspaceError

DEFAULT_WORKSPACE = Path("workspace")


def resolve_workspace(path: str | Path | None) -> Path:
    """The workspace path from an option value, ``$SEQTOOL_WORKSPACE``, or ``./workspace``."""
    if path is None:
        path = os.environ.get("SEQTOOL_WORKSPACE") or DEFAULT_WORKSPACE
    return Path(path)


def write_error(path: Path, error: OSError) -> WorkspaceError:
    """An OSError while saving (disk full, quota, permissions, read-only, a file where a folder
    should be) is the user's environment, not a bug: one line naming the file, exit code 2."""
    reason = error.strerror or str(error)
    return WorkspaceError(f"cannot write {path} ({reason}); the previous version of the file, if any, is unchanged")


def _current_umask() -> int:
    """The process umask. Linux shows it in /proc; elsewhere it can only be read by setting it
    (and restoring it at once)."""
    with contextlib.suppress(OSError, ValueError, StopIteration), open("/proc/self/status", encoding="ascii") as f:
        return int(next(line for line in f if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temporary_beside(path: Path) -> str:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(path, e) from None
    try:
        # mkstemp creates the file 0600; once renamed it is an ordinary file (a config, weights, a
        # figure) and gets the mode open() would give it, 0666 minus the umask.
        os.fchmod(fd, 0o666 & ~_current_umask())
    except OSError as e:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise write_error(path, e) from None
    os.close(fd)
    return tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path for a library that writes files itself (torch.save, sentencepiece, gensim);
    on success it is fsynced and renamed to ``path``, on failure removed."""
    tmp = _temporary_beside(path)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno is not None:  # a file-system error, not e.g. a URLError
            raise write_error(path, e) from None
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def sample_data_dir() -> Path:
    """The project's own sample data (``sample_data/`` beside the package in a source checkout)."""
    return Path(__file__).resolve().parents[1] / "sample_data"


@contextlib.contextmanager
def folder_lock(folder: Path, busy: str) -> Iterator[None]:
    """Hold ``folder/.lock`` exclusively (flock, holding this process's id) for as long as the block runs; a
    second process gets ``WorkspaceError(busy)`` at once instead of waiting. The kernel drops the lock when its
    holder dies, even by SIGKILL, so a killed run never leaves its folder locked."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WorkspaceError(busy) from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_yaml(path: Path, option: str) -> Any:
    """The YAML (or JSON) document of ``path`` as PyYAML's node tree, which keeps each value's line for error
    messages; None for an empty file. ``option``: what errors call the file (``--config``, ``--mix``)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OptionError(f"{option} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise OptionError(f"{option} {path}: cannot read it ({e})") from None
    try:
        return yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise OptionError(f"{where}: not valid YAML/JSON ({getattr(e, 'problem', None) or e})") from None


def yaml_value(node: Any) -> Any:
    """The plain Python value of a node of :func:`read_yaml`'s tree."""
    import yaml

    return yaml.safe_load(yaml.serialize(node))
