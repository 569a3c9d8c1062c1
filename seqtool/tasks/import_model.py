"""`seqtool models import`: bring a model folder from elsewhere into the workspace, validated.

A folder from a stranger is data, never code. Before anything in it is used:

- ``config.json`` must parse, name a known kind and architecture, and hold every section that
  kind needs, with values the model classes accept;
- every file the config names must be a plain file name inside the folder (no ``../``);
- tokenizers load with their own parsers (JSON, sentencepiece protobuf) and their vocabulary
  sizes match the model's;
- ``model.safetensors`` holds exactly the tensors, with exactly the shapes, of the model the
  config describes. The model is built on the ``meta`` device (shapes, no memory) and compared
  with the safetensors *header*; no tensor data is read and nothing is unpickled;
- whatever else the kind checks (:meth:`~seqtool.tasks.kinds.base.ModelKind.check_loadable`; embeddings:
  gensim's word2vec reader accepts the vectors file).

Only the files seqtool knows are copied (``checkpoint.pt`` deliberately not: an imported model is
for use, not for resuming someone else's training). The copy goes to a temporary folder inside the
workspace, is validated there (what is checked is what is used), and is renamed into
``models/<name>`` only if everything passes; on any error nothing is left behind."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtool.errors import SeqtoolError, WorkspaceError
from seqtool.files import now_iso
from seqtool.store.weights import check_weights
from seqtool.store.workspace import ModelDir, Workspace, staged_model, validate_name
from seqtool.tasks.kinds import kind_of

OPTIONAL_FILES = ("metrics.jsonl", "train.log", "counts.json")


@dataclass
class ImportResult:
    name: str
    kind: str
    arch: str
    parameters: int | None
    path: Path
    files: list[str]
    skipped: list[str] = field(default_factory=list)  # files in the source that were not copied


def import_model(ws: Workspace, source: str | Path, name: str | None = None) -> ImportResult:
    """Validate the model folder ``source`` and copy it into ``ws`` as ``name`` (default: its config name)."""
    source = Path(source)
    if not source.exists():
        raise WorkspaceError(f"{source}: no such folder")
    if not source.is_dir():
        raise WorkspaceError(f"{source}: not a folder; give the model folder that holds config.json")
    cfg = ModelDir(source).config()  # parse errors and unknown kinds are one-line WorkspaceErrors
    name = validate_name(name or str(cfg.get("name") or source.name))
    target = ws.model_dir(name)
    if target.path.exists():
        raise WorkspaceError(f"model {name!r} already exists in {ws.root}; pass --name NEW or remove it first")
    files = model_files(source, cfg)  # checks the config before anything is written
    skipped = sorted(p.name for p in source.iterdir() if p.name not in files)

    try:
        with staged_model(ws, name, "import") as staged:
            for file in files:
                _copy(source / file, staged.file(file))
            staged_cfg = {**staged.config(), "name": name, "imported": {"from": str(source.resolve()), "at": now_iso()}}
            try:
                parameters = validate_model_dir(staged, staged_cfg, staging_workspace=Workspace(staged.path.parents[1]))
            except SeqtoolError as e:  # name the user's folder, not the temporary copy
                raise type(e)(str(e).replace(str(staged.path), str(source))) from None
            staged_cfg.setdefault("parameters", parameters)
            staged.write_config(staged_cfg)
    except OSError as e:
        raise WorkspaceError(f"cannot import into {ws.root} ({e.strerror or e})") from None
    return ImportResult(name, cfg["kind"], str(cfg.get("arch")), parameters, target.path, files, skipped)


def model_files(folder: Path, cfg: dict[str, Any]) -> list[str]:
    """The files of a model folder that seqtool uses, after checking the config's shape."""
    where = folder / "config.json"
    kind = kind_of(cfg, str(where))
    missing = [key for key in kind.required_keys if key not in cfg]
    if missing:
        raise WorkspaceError(f"{where}: missing {', '.join(repr(k) for k in missing)} (a {kind.name} model needs them)")
    for key in ("model", "tokenizer", "tokenizers", "vectors"):
        if key in cfg and not isinstance(cfg[key], dict):
            raise WorkspaceError(f"{where}: {key!r} must be a JSON object")
    named = kind.files(folder, cfg)
    for file in named:
        if not (folder / file).is_file():
            raise WorkspaceError(f"{folder}: {file} is missing (config.json names it)")
    optional = [f for f in OPTIONAL_FILES if (folder / f).is_file()]
    return ["config.json", *dict.fromkeys(named), *optional]


def carried_files(folder: Path, cfg: dict[str, Any]) -> list[str]:
    """The files a model derived from this one copies unchanged (tokenizers and the like): not its config
    or weights, which the new model writes itself, nor the original's training history."""
    drop = ("config.json", "model.safetensors", "metrics.jsonl", "train.log")
    return [f for f in model_files(folder, cfg) if f not in drop]


def validate_model_dir(md: ModelDir, cfg: dict[str, Any], staging_workspace: Workspace | None = None) -> int | None:
    """Check that ``md`` holds a usable model of ``cfg``; returns its parameter count (None: no torch model)."""
    model_files(md.path, cfg)
    md.metrics()  # a broken history is an error too (a torn last line is tolerated)
    kind = kind_of(cfg)
    kind.check_loadable(md, cfg, staging_workspace)
    if not kind.has_weights:
        return None
    model = _build_on_meta(md, cfg)
    from seqtool.data.tokenizers import load_tokenizer

    for (label, tokenizer_cfg), expected in zip(kind.tokenizer_configs(cfg), kind.vocab_sizes(cfg, model), strict=True):
        size = load_tokenizer(md.path, tokenizer_cfg).vocab_size
        if size != expected:
            raise WorkspaceError(f"{md.config_path}: the {label} has {size} entries but the model expects {expected}")
    from seqtool.store.weights import check_compressed, compression_of

    compression = compression_of(cfg, md)  # `seqtool compress`ed: int8/bf16 tensors in the recorded layout
    if compression is not None:
        check_compressed(md.weights_path, model, compression)
    else:
        check_weights(md.weights_path, model)
    return model.num_parameters()


def _build_on_meta(md: ModelDir, cfg: dict[str, Any]) -> Any:
    """The model the config describes, with shapes but no memory."""
    import torch

    try:
        with torch.device("meta"):
            return kind_of(cfg).build(cfg)
    except SeqtoolError as e:
        if isinstance(e, WorkspaceError):
            raise
        raise WorkspaceError(f"{md.config_path}: {e}") from None
    except (TypeError, ValueError, KeyError) as e:  # wrong value types, e.g. "layers": "two"
        raise WorkspaceError(f"{md.config_path}: the model section does not describe a model ({e})") from None


def _copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)  # contents only: no permissions, owners or links come along
