"""The workspace: a directory of named model folders, written atomically.

Layout::

    <workspace>/
        defaults.json            # {"lm": NAME, "mt": NAME, "embeddings": NAME}: what commands use by default
        models/<name>/
            config.json          # kind, architecture, model/tokenizer/training settings, data, best metric
            model.safetensors    # weights (never a pickle)
            checkpoint.pt        # resumable training state, loadable with torch.load(weights_only=True)
            metrics.jsonl        # one JSON object per epoch
            train.log            # human-readable training log
            *.model / vocab.json # tokenizers
            .lock                # present while a process trains into this folder
        figures/                 # PNGs written by plot commands

Every file is written through :func:`atomic_write_bytes` (temporary file, fsync, rename), so a
kill at any instant leaves either the old or the new version of a file, never a torn one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtool.errors import ModelNotFoundError, WorkspaceError

DEFAULT_WORKSPACE = Path("workspace")
KINDS = ("lm", "mt", "embeddings")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def resolve_workspace(path: str | Path | None) -> Path:
    """The workspace path from an option value, ``$SEQTOOL_WORKSPACE``, or ``./workspace``."""
    if path is None:
        path = os.environ.get("SEQTOOL_WORKSPACE") or DEFAULT_WORKSPACE
    return Path(path)


def validate_name(name: str) -> str:
    """Model names are folder names: letters, digits, '.', '_' and '-', no path separators."""
    if not _NAME_RE.match(name) or name in (".", ".."):
        raise WorkspaceError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


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
    tmp = _temporary_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno is not None:  # a file-system error, not e.g. a URLError
            raise write_error(path, e) from None
        raise
    _fsync_dir(path.parent)


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
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class ModelDir:
    """One model folder. ``config`` is the parsed ``config.json``."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def weights_path(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def log_path(self) -> Path:
        return self.path / "train.log"

    def file(self, name: str) -> Path:
        return self.path / name

    def config(self) -> dict[str, Any]:
        try:
            cfg = json.loads(self.config_path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise WorkspaceError(f"{self.config_path}: missing; the model folder is incomplete") from None
        except OSError as e:
            raise WorkspaceError(f"{self.config_path}: cannot read ({e.strerror})") from None
        except (ValueError, RecursionError) as e:
            # ValueError covers JSONDecodeError, UnicodeDecodeError and over-long integers;
            # RecursionError comes from deeply nested arrays.
            raise WorkspaceError(f"{self.config_path}: not valid JSON ({e})") from None
        if not isinstance(cfg, dict) or cfg.get("kind") not in KINDS:
            raise WorkspaceError(f"{self.config_path}: 'kind' must be one of {', '.join(KINDS)}")
        return cfg

    def write_config(self, cfg: dict[str, Any]) -> None:
        atomic_write_json(self.config_path, cfg)

    def update_config(self, **changes: Any) -> dict[str, Any]:
        cfg = self.config()
        cfg.update(changes)
        self.write_config(cfg)
        return cfg

    def metrics(self) -> list[dict[str, Any]]:
        """The rows of metrics.jsonl. A torn last line (no newline after it: a writer killed while
        appending, e.g. a file from another tool) is skipped; any other bad line is an error."""
        try:
            data = self.metrics_path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as e:
            raise WorkspaceError(f"{self.metrics_path}: cannot read ({e.strerror})") from None
        lines = data.split(b"\n")
        rows = []
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError) as e:
                if number == len(lines):  # the last line, and no newline after it: torn
                    break
                raise WorkspaceError(f"{self.metrics_path}:{number}: not valid JSON ({e})") from None
            if not isinstance(row, dict):
                raise WorkspaceError(f"{self.metrics_path}:{number}: expected a JSON object per line")
            rows.append(row)
        return rows

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Metrics are rewritten whole (atomically) so a kill never leaves a torn last line."""
        rows = self.metrics()
        rows.append(row)
        atomic_write_text(self.metrics_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def truncate_metrics(self, epochs: int) -> None:
        """Keep only the rows of the first ``epochs`` epochs (used on resume)."""
        rows = [r for r in self.metrics() if r.get("epoch", 0) <= epochs]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def log(self, line: str) -> None:
        # The log is append-only text for people; a torn last line is harmless.
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(f"{now_iso()} {line}\n")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock for training into this folder; a second process gets a clear error."""
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WorkspaceError(
                f"model {self.name!r} is being trained by another process; wait for it or choose another --name"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class Workspace:
    """A workspace directory. Creating the object touches nothing on disk."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = resolve_workspace(root)

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def figures_dir(self) -> Path:
        return self.root / "figures"

    def ensure_writable(self) -> None:
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise WorkspaceError(
                f"workspace {self.root} is not writable ({e.strerror}); pass --workspace DIR or set SEQTOOL_WORKSPACE"
            ) from None

    def model_dir(self, name: str) -> ModelDir:
        return ModelDir(self.models_dir / validate_name(name))

    def list_models(self, kind: str | None = None) -> list[tuple[ModelDir, dict[str, Any]]]:
        """All readable model folders (optionally of one kind), newest first."""
        found = []
        if not self.models_dir.is_dir():
            return found
        for path in self.models_dir.iterdir():
            md = ModelDir(path)
            if not path.is_dir() or not md.config_path.exists():
                continue
            try:
                cfg = md.config()
            except WorkspaceError:
                continue
            if kind is None or cfg.get("kind") == kind:
                found.append((md, cfg))
        found.sort(key=lambda item: item[1].get("created", ""), reverse=True)
        return found

    def defaults(self) -> dict[str, str]:
        path = self.root / "defaults.json"
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    def set_default(self, kind: str, name: str) -> None:
        data = self.defaults()
        data[kind] = name
        atomic_write_json(self.root / "defaults.json", data)

    def find(self, name: str | None, kind: str, hint: str = "") -> tuple[ModelDir, dict[str, Any]]:
        """The model called ``name`` (checked to be of ``kind``), or the workspace default / latest of ``kind``."""
        if name is None:
            default = self.defaults().get(kind)
            if default and self.model_dir(default).config_path.exists():
                name = default
            else:
                models = [(md, cfg) for md, cfg in self.list_models(kind) if cfg.get("status") == "done"]
                models = models or self.list_models(kind)
                if not models:
                    how = hint or "train one first or run `seqtool demo`"
                    raise ModelNotFoundError(f"no {kind} model in workspace {self.root}; {how}")
                return models[0]
        md = self.model_dir(name)
        if not md.config_path.exists():
            known = ", ".join(m.name for m, _ in self.list_models()) or "none"
            raise ModelNotFoundError(
                f"no model named {name!r} in workspace {self.root} (models: {known}); see `seqtool models`"
            )
        cfg = md.config()
        if cfg["kind"] != kind:
            raise ModelNotFoundError(f"model {name!r} is a {cfg['kind']} model, but this command needs a {kind} model")
        return md, cfg

    def remove(self, name: str) -> None:
        md = self.model_dir(name)
        if not md.path.is_dir():
            raise ModelNotFoundError(f"no model named {name!r} in workspace {self.root}")
        with md.lock():
            # Rename first so a half-removed folder never looks like a model.
            trash = self.root / f".trash-{name}-{os.getpid()}"
            os.replace(md.path, trash)
        shutil.rmtree(trash, ignore_errors=True)
        defaults = self.defaults()
        if any(v == name for v in defaults.values()):
            atomic_write_json(self.root / "defaults.json", {k: v for k, v in defaults.items() if v != name})
