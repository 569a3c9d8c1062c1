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
kill at any instant leaves either the old or the new version of a file, never a torn one."""

from __future__ import annotations

import contextlib
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
from seqtool.files import atomic_write_json, atomic_write_text, folder_lock, now_iso, resolve_workspace

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def validate_name(name: str) -> str:
    """Model names are folder names: letters, digits, '.', '_' and '-', no path separators."""
    if not _NAME_RE.match(name) or name in (".", ".."):
        raise WorkspaceError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


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
        # Which kinds exist is the registry's business (seqtool.tasks.kinds, plugins included): the
        # store only needs a name to file the model under.
        if not isinstance(cfg, dict) or not isinstance(cfg.get("kind"), str) or not cfg["kind"]:
            raise WorkspaceError(f"{self.config_path}: 'kind' must name a model kind (lm, mt, dialog, embeddings, ...)")
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

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock for training into this folder; a second process gets a clear error."""
        busy = f"model {self.name!r} is being trained by another process; wait for it or choose another --name"
        return folder_lock(self.path, busy)


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
            raise ModelNotFoundError(
                f"model {name!r} is a {cfg['kind']} model, but this command needs a {kind} model; "
                "pass --model with one of those (see `seqtool models`)"
            )
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


@contextlib.contextmanager
def staged_model(ws: Workspace, name: str, purpose: str) -> Iterator[ModelDir]:
    """Build the model folder ``name`` in a temporary workspace inside ``ws`` and rename it into
    ``models/<name>`` when the block ends without an error (validate it inside the block: what is
    checked is what lands). The temporary folder goes in every case, and a failed build leaves the
    workspace as it was (a workspace or models folder created for it is removed again).

    The staged folder's workspace is ``Workspace(md.path.parents[1])``, for loading it back."""
    target = ws.model_dir(name)
    if target.path.exists():
        raise WorkspaceError(f"model {name!r} already exists in {ws.root}; choose another name or remove it first")
    root_existed, models_existed = ws.root.exists(), ws.models_dir.exists()
    ws.ensure_writable()
    staging_root = Path(tempfile.mkdtemp(prefix=f".{purpose}-", dir=ws.root))
    try:
        staged = ModelDir(staging_root / "models" / name)
        staged.path.mkdir(parents=True)
        yield staged
        try:
            os.rename(staged.path, target.path)  # fails (no overwrite) if the name was taken meanwhile
        except OSError as e:
            raise WorkspaceError(f"cannot write {target.path} ({e.strerror or e})") from None
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
        if not target.path.exists():  # failed: leave the workspace as it was
            if not root_existed:
                shutil.rmtree(ws.root, ignore_errors=True)
            elif not models_existed:
                shutil.rmtree(ws.models_dir, ignore_errors=True)


def config_section(cfg: dict[str, Any], key: str, md: ModelDir) -> dict[str, Any]:
    section = cfg.get(key)
    if not isinstance(section, dict):
        raise WorkspaceError(f"{md.config_path}: missing the {key!r} section")
    return section


def load_model_config(ws: Workspace, name: str) -> dict[str, Any]:
    """A model's config.json, or a one-line error naming the models that do exist."""
    md = ws.model_dir(name)
    if not md.config_path.exists():
        known = ", ".join(sorted(m.name for m, _ in ws.list_models())) or "none"
        raise ModelNotFoundError(f"no model named {name!r} in workspace {ws.root} (models: {known})")
    return md.config()
