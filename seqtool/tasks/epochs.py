"""A checkpoint ensemble: one run's last epochs as models of their own.

A run trained with ``--average-last N`` (the Transformer recipe: 5) keeps the weights of its last N
epochs in its checkpoint, to average them at the end. :func:`split_epochs` writes each of them as a model
``NAME-eK`` (same config and tokenizers, that epoch's weights), so that they can be translated with
separately, compared with ``models compare``, or joined as an ensemble (``translate --model NAME-e8,NAME-e9``):
an ensemble of one run's epochs averages their predictions step by step, where ``--average-last`` averaged
their weights.
"""

from __future__ import annotations

import shutil

import torch

from seqtool.errors import OptionError, WorkspaceError
from seqtool.files import now_iso
from seqtool.store.weights import safe_load_checkpoint, save_weights
from seqtool.store.workspace import Workspace, load_model_config, staged_model, validate_name
from seqtool.tasks.kinds import kind_of


def split_epochs(ws: Workspace, name: str, last: int | None = None) -> list[str]:
    """Write the last ``last`` (default: all kept) epochs of ``name``'s checkpoint as models; their names."""
    from seqtool.tasks.import_model import carried_files

    cfg = load_model_config(ws, name)
    md = ws.model_dir(name)
    if last is not None and last < 1:
        raise OptionError(f"--last must be >= 1, got {last}")
    if not md.checkpoint_path.exists():
        raise WorkspaceError(f"model {name!r} has no checkpoint (imported, compressed or cleaned): nothing to split")
    recent = safe_load_checkpoint(md.checkpoint_path, torch.device("cpu")).get("recent_weights") or []
    if not recent:
        raise OptionError(f"model {name!r} kept no epochs' weights: train it with --average-last N (N > 1)")
    rows = md.metrics()
    labels = [row.get("epoch") for row in rows][-len(recent) :]
    pairs = list(zip(labels, recent, strict=True))[-(last or len(recent)) :]
    names = [validate_name(f"{name}-e{label}") for label, _ in pairs]
    taken = [n for n in names if ws.model_dir(n).path.exists()]
    if taken:
        raise WorkspaceError(f"model {taken[0]!r} already exists in {ws.root}; remove it first (`seqtool models rm`)")
    kind = kind_of(cfg)
    model = kind.build(cfg)
    keep = carried_files(md.path, cfg)
    for out, (label, weights) in zip(names, pairs, strict=True):
        model.load_state_dict(weights)
        with staged_model(ws, out, "epoch copy") as staged:
            for file in keep:
                shutil.copyfile(md.file(file), staged.file(file))
            save_weights(model, staged.weights_path)
            staged.write_config({**cfg, "name": out, "created": now_iso(), "status": "done",
                                 "best": epoch_best(cfg, rows, label), "epoch_of": {"from": name, "epoch": label}})  # fmt: skip
    return names


def epoch_best(cfg: dict, rows: list[dict], label: object) -> dict | None:
    """The copy's "best": its own epoch's dev metric (the run's "best" was another epoch's, or the average's)."""
    metric = (cfg.get("best") or {}).get("metric")
    row = next((r for r in rows if r.get("epoch") == label), {})
    if metric is None or metric not in row:
        return None
    return {"metric": metric, "value": row[metric], "epoch": label}
