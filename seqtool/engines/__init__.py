"""Exported inference engines: a model's folder may hold copies of its weights converted for a
faster runtime (today CTranslate2, in ``ct2-<quantization>/`` sub-folders).

This package is torch-free at import time: with an engine present, `seqtool translate` never
imports torch. Listing the engines of a folder imports nothing at all."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CT2_PREFIX = "ct2-"
QUANTIZATIONS = ("int8", "int16", "float32")  # also the order `--engine auto` prefers them in
META_FILE = "seqtool-engine.json"


def engine_dir(model_path: Path, quantization: str) -> Path:
    return model_path / f"{CT2_PREFIX}{quantization}"


def exported_engines(model_path: Path) -> list[str]:
    """Names (``ct2-int8``, ...) of the engine folders in a model folder, preferred first."""
    return [engine_dir(model_path, q).name for q in QUANTIZATIONS if (engine_dir(model_path, q) / META_FILE).is_file()]


def weights_stamp(weights: Path) -> dict[str, Any]:
    """What an engine records of the weights it was converted from (a retrained model makes it stale)."""
    st = weights.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def file_sha256(path: Path) -> str:
    """The engine's weights digest, checked before each use: a damaged model.bin that CTranslate2 would
    still load must not translate silently wrong."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
