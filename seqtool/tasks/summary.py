"""One model's summary as `seqtool models --json` and `seqtool models compare --json` print it."""

from __future__ import annotations

from typing import Any

from seqtool.store.workspace import Workspace
from seqtool.tasks.kinds import find_kind


def weights_size(ws: Workspace, name: str) -> int | None:
    """Size on disk of a model's weights file (None: no weights yet, or embeddings)."""
    try:
        return ws.model_dir(name).weights_path.stat().st_size
    except OSError:
        return None


def model_summary(ws: Workspace, name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """The documented JSON shape of one model: what it is, its data, training speed and best dev metric."""
    best = cfg.get("best") or {}
    train = cfg.get("train") or {}
    data = cfg.get("data") or {}
    kind = find_kind(cfg.get("kind"))
    return {
        "name": name,
        "kind": cfg.get("kind"),
        "arch": cfg.get("arch"),
        "parameters": cfg.get("parameters"),
        "train_data": data.get("train"),
        "dev_data": data.get("dev"),
        "elapsed_s": train.get("elapsed_s"),
        "tokens_per_s": train.get("tokens_per_s"),
        "best_metric": best.get("metric"),
        "best_value": best.get("value"),
        "best_epoch": best.get("epoch"),
        "status": cfg.get("status"),
        "created": cfg.get("created"),
        "compression": cfg.get("compression"),  # `seqtool compress`: {"quantize", "prune", "from"}
        "weights_bytes": weights_size(ws, name),
        "engines": kind.engines(ws.model_dir(name).path) if kind is not None else [],
    }
