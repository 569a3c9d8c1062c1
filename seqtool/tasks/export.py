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
from seqtool.store.workspace import Workspace

ENGINES = ("ctranslate2",)
POSITIONS = 512  # rows of the exported sinusoidal table: sources up to 511 tokens (5x the training --max-len)


def check_exportable(name: str, cfg: dict[str, Any]) -> None:
    """A one-line error for models CTranslate2 cannot run (recurrent ones: CTranslate2 #796)."""
    kind = cfg.get("kind")
    if kind == "mt" and cfg.get("model_arch") != "transformer":
        raise OptionError(
            f"model {name!r} is a {cfg.get('arch') or cfg.get('model_arch')} translator: CTranslate2 runs only "
            "Transformer models (no GRU/LSTM support); translate it with seqtool's own engine (--engine torch)"
        )
    if kind == "lm":
        model = cfg.get("model") or {}
        if model.get("cell") != "transformer" or model.get("context"):
            raise OptionError(
                f"model {name!r} is a {cfg.get('arch')} language model: CTranslate2 runs only Transformer models "
                "(no recurrent or convolutional ones); use it with seqtool's own commands (predict, generate, evaluate lm)"
            )
    if kind not in ("mt", "lm"):
        raise OptionError(f"model {name!r} is a {kind} model; only translators and language models can be exported")


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

    from seqtool.engines.ct2 import convert, vocabulary

    if cfg["kind"] == "mt":
        from seqtool.tasks.mt import load_translator

        tr = load_translator(ws, md.name, "cpu")
        model, vocabs = tr.model, [vocabulary(tr.src_tok), vocabulary(tr.tgt_tok)]
        table = model.decoder.positions
    else:
        from seqtool.tasks.lm import load_lm

        lm = load_lm(ws, md.name, "cpu")
        model, vocabs = lm.model, [vocabulary(lm.tokenizer)]
        table = model.stack.positions
    positions = table.table if table.table.shape[0] >= POSITIONS else type(table)(table.table.shape[1], POSITIONS).table
    positions = positions[:POSITIONS].numpy().astype("float32" if quantize == "float32" else "float16")
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=md.path))
    try:
        convert(cfg["kind"], cfg["model"], _numpy_weights(model), vocabs, positions, stage / "m", quantize)
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
            "weights_bytes": md.weights_path.stat().st_size}  # fmt: skip
