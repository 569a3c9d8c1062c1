"""`seqtool compress`: write a compressed copy of a model into the workspace, and measure it.

The new folder is built like ``models import`` builds one: in a temporary folder inside the
workspace, validated by loading it back, then renamed into ``models/<out>``; on any error
nothing is left behind.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtool.errors import OptionError, WorkspaceError, settings_as_options
from seqtool.files import now_iso
from seqtool.models.quantization import Compression, prune_, require_int8
from seqtool.store.weights import compression_of, save_compressed, weights_bytes
from seqtool.store.workspace import ModelDir, Workspace, staged_model, validate_name
from seqtool.tasks.kinds import kind_of


@dataclass
class CompressResult:
    name: str
    source: str
    kind: str
    compression: dict[str, Any]
    zeroed: int
    parameters: int


def _source(ws: Workspace, name: str) -> tuple[ModelDir, dict[str, Any]]:
    from seqtool.store.workspace import load_model_config

    cfg = load_model_config(ws, name)
    md = ws.model_dir(name)
    if not kind_of(cfg).compressible:
        raise OptionError(f"model {name!r} is a {cfg['kind']} model; compress works on lm and mt models")
    if compression_of(cfg, md) is not None:
        raise OptionError(f"model {name!r} is already compressed; compress its original ({cfg['compression']['from']})")
    return md, cfg


def load_any(ws: Workspace, name: str, device: str = "cpu") -> Any:
    """The loaded model ``name`` on seqtool's torch engine (whichever kind it is)."""
    from seqtool.store.workspace import load_model_config

    kind = kind_of(load_model_config(ws, name))
    return kind.load(ws, name, device)


def compress_model(ws: Workspace, name: str, out: str, quantize: str, prune: float) -> CompressResult:
    """Write ``out``: ``name``'s weights pruned by magnitude and stored in ``quantize`` precision."""
    from seqtool.tasks.import_model import carried_files

    comp = Compression(quantize, prune)
    with settings_as_options():
        comp.validate()
        if quantize == "int8":
            require_int8()
    if quantize == "none" and prune == 0:
        raise OptionError("nothing to do: give --quantize int8|bf16 and/or --prune FRACTION")
    md, cfg = _source(ws, name)
    if ws.model_dir(validate_name(out)).path.exists():
        raise WorkspaceError(f"model {out!r} already exists in {ws.root}; choose another --out or remove it first")
    loaded = load_any(ws, name, "cpu")
    model = loaded.model.float()
    zeroed = prune_(model, prune)
    keep = carried_files(md.path, cfg)
    section = {"quantize": quantize, "prune": prune, "from": name, "zeroed_weights": zeroed}
    with staged_model(ws, out, "compress") as staged:
        for file in keep:
            shutil.copyfile(md.file(file), staged.file(file))
        save_compressed(model, staged.weights_path, quantize)
        staged.write_config({**cfg, "name": out, "created": now_iso(), "status": "done", "compression": section})
        load_any(Workspace(staged.path.parents[1]), out, "cpu")  # what was written loads back
    return CompressResult(out, name, cfg["kind"], section, zeroed, int(cfg.get("parameters") or 0))


def measure(
    ws: Workspace, name: str, src: Path | None = None, ref: Path | None = None, *, beam: int = 5, limit: int = 0
) -> dict[str, Any]:
    """Size on disk, parameters, speed and quality of one model on its dev set (or ``src``/``ref``).

    Translators: beam-search translation of the sources (sentences/s) and BLEU; language models:
    scoring the dev text (tokens/s) and perplexity. ``limit`` keeps the first N sentences.
    """
    loaded = load_any(ws, name, "cpu")
    cfg = loaded.config
    nonzero = stored_nonzero(loaded.md.weights_path)
    row: dict[str, Any] = {
        "name": name, "kind": cfg["kind"], "compression": cfg.get("compression"), "weights_bytes": weights_bytes(loaded.md),
        "parameters": cfg.get("parameters"), "nonzero_parameters": nonzero,
    }  # fmt: skip
    row.update(kind_of(cfg).measure(loaded, src, ref, beam, limit))
    return row


def stored_nonzero(path: Path) -> int:
    """Non-zero entries of the stored weights (tied tensors are stored once; int8 scales not counted)."""
    from safetensors.torch import load_file

    from seqtool.models.quantization import SCALE_SUFFIX

    return sum(int((t != 0).sum()) for k, t in load_file(str(path)).items() if not k.endswith(SCALE_SUFFIX))
