"""`seqtool export`: convert a trained Transformer (translator or LM) into a CTranslate2 engine
inside its own model folder (``models/NAME/ct2-<quantization>/``).

The folder is written beside the final one and renamed into place, with a small
``seqtool-engine.json`` recording the quantization and the weights it was converted from, so a
retrained model's stale engine is noticed instead of used.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from seqtool.engines import META_FILE, QUANTIZATIONS, engine_dir, file_sha256, weights_stamp
from seqtool.errors import OptionError, WorkspaceError
from seqtool.files import atomic_write_json, now_iso
from seqtool.store.workspace import ModelDir, Workspace
from seqtool.tasks.kinds import kind_of

ENGINES = ("ctranslate2",)
POSITIONS = 512  # rows of the exported sinusoidal table: sources up to 511 tokens (5x the training --max-len)


def check_exportable(name: str, cfg: dict[str, Any]) -> None:
    """A one-line error for models CTranslate2 cannot run (its kind says why: recurrent ones, CTranslate2 #796)."""
    problem = kind_of(cfg).export_problem(name, cfg)
    if problem is not None:
        raise OptionError(problem)


def export_hint(ws: Workspace, name: str) -> str | None:
    """What `compress` suggests for a model CTranslate2 can run (None for the others)."""
    try:
        check_exportable(name, ws.model_dir(name).config())
    except (OptionError, WorkspaceError):
        return None
    return (
        f"tip: for fast CPU inference, `seqtool export {name} --quantize int8` converts this Transformer to "
        "CTranslate2 (real int8 kernels, no torch start-up); translate then uses it by default"
    )


def _fp32_model(md: ModelDir, cfg: dict[str, Any]) -> tuple[Any, list[list[str]]]:
    """The model with plain fp32 weights (a compressed folder's dequantized), and its vocabularies."""
    import torch

    from seqtool.data.tokenizers import load_tokenizer
    from seqtool.engines.ct2 import vocabulary
    from seqtool.store.weights import load_model_weights

    kind = kind_of(cfg)
    model = kind.build(cfg)
    vocabs = [vocabulary(load_tokenizer(md.path, entry)) for _, entry in kind.tokenizer_configs(cfg)]
    return load_model_weights(md, model, torch.device("cpu"), fp32=True), vocabs


def _numpy_weights(model: Any) -> dict[str, Any]:
    return {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}


def export_model(
    ws: Workspace, name: str | None, *, engine: str = "ctranslate2", quantize: str = "int8", force: bool = False
) -> dict[str, Any]:
    """Export ``name`` (default: the workspace's default translator); returns what was written."""
    if engine not in ENGINES:
        raise OptionError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if quantize not in QUANTIZATIONS:
        raise OptionError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if name is None:
        md, cfg = ws.find(None, "mt", hint="train one with `seqtool train-mt` or give a model name")
    else:
        md = ws.model_dir(name)
        if not md.config_path.exists():
            ws.find(name, "mt")  # the usual "no model named ..." error
        cfg = md.config()
    check_exportable(md.name, cfg)
    if cfg.get("status") == "training":
        raise WorkspaceError(f"model {md.name!r} is still training; export it when training has finished")
    out = engine_dir(md.path, quantize)
    if out.exists() and not force:
        raise WorkspaceError(f"{out} already exists; pass --force to export again")
    import ctranslate2

    from seqtool.engines.ct2 import convert, runs_as

    model, vocabs = _fp32_model(md, cfg)
    kind = kind_of(cfg)
    table = kind.positions(model)
    positions = table.table if table.table.shape[0] >= POSITIONS else type(table)(table.table.shape[1], POSITIONS).table
    positions = positions[:POSITIONS].numpy().astype("float32" if quantize == "float32" else "float16")
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=md.path))
    try:
        weights = _numpy_weights(model)
        convert(lambda: kind.ct2_spec(cfg["model"], weights, vocabs, positions), stage / "m", quantize)
        meta = {"engine": engine, "quantization": quantize, "kind": cfg["kind"], "positions": POSITIONS,
                "ctranslate2": ctranslate2.__version__, "weights": weights_stamp(md.weights_path),
                "model_bin_sha256": file_sha256(stage / "m" / "model.bin"),
                "created": now_iso()}  # fmt: skip
        atomic_write_json(stage / "m" / META_FILE, meta)
        if out.exists():
            os.replace(out, stage / "old")
        os.replace(stage / "m", out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    size = (out / "model.bin").stat().st_size
    return {"model": md.name, "engine": engine, "quantization": quantize, "path": str(out), "bytes": size,
            "weights_bytes": md.weights_path.stat().st_size, "runs_as": runs_as(quantize)}  # fmt: skip
