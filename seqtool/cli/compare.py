"""`seqtool models compare`: trained runs side by side (architecture, size, data, speed, best dev metric)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from seqtool.cli.app import models_app
from seqtool.cli.common import JsonOpt, WorkspaceOpt, console, print_json


def weights_size(ws: Any, name: str) -> int | None:
    """Size on disk of a model's weights file (None: no weights yet, or embeddings)."""
    try:
        return ws.model_dir(name).weights_path.stat().st_size
    except OSError:
        return None


def comparison_row(name: str, cfg: dict[str, Any], ws: Any = None) -> dict[str, Any]:
    """The documented JSON shape of one model in `seqtool models compare --json`."""
    best = cfg.get("best") or {}
    train = cfg.get("train") or {}
    data = cfg.get("data") or {}
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
        "compression": cfg.get("compression"),  # `seqtool compress`: {"quantize", "prune", "from"}
        "weights_bytes": weights_size(ws, name) if ws is not None else None,
    }


def _number(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _compression(section: Any) -> str:
    if not isinstance(section, dict):
        return "-"
    prune = f" pruned {section.get('prune', 0):.0%}" if section.get("prune") else ""
    return f"{section.get('quantize')}{prune} of {section.get('from')}"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s")


@models_app.command("compare")
def compare(
    names: Annotated[list[str], typer.Argument(help="Model names (see `seqtool models`).", show_default=False)],
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Models side by side: kind, architecture, parameters, data, training time, tokens/s, best dev metric."""
    from seqtool.store.workspace import Workspace, load_model_config
    from seqtool.viz.curves import check_unique

    ws = Workspace(workspace)
    check_unique(names)
    rows = [comparison_row(name, load_model_config(ws, name), ws) for name in names]
    if json:
        print_json({"workspace": str(ws.root), "models": rows})
        return
    table = Table(title=f"models in {ws.root}")
    table.add_column("", style="bold")
    for row in rows:
        table.add_column(row["name"], justify="right")
    best = [
        f"{r['best_metric']} {_number(r['best_value'], '.4g')}"
        + (f" (ep {r['best_epoch']})" if r["best_epoch"] else "")
        if r["best_metric"]
        else "-"
        for r in rows
    ]
    lines = [
        ("kind", [r["kind"] or "-" for r in rows]),
        ("architecture", [r["arch"] or "-" for r in rows]),
        ("parameters", [_number(r["parameters"], ",") for r in rows]),
        (
            "weights on disk",
            [_number(r["weights_bytes"] / 1e6, ".2f") + " MB" if r["weights_bytes"] else "-" for r in rows],
        ),
        ("compression", [_compression(r["compression"]) for r in rows]),
        ("train data", [str(r["train_data"] or "-") for r in rows]),
        ("dev data", [str(r["dev_data"] or "-") for r in rows]),
        ("training time", [_duration(r["elapsed_s"]) for r in rows]),
        ("tokens/s", [_number(r["tokens_per_s"], ",.0f") for r in rows]),
        ("best dev", best),
        ("status", [r["status"] or "-" for r in rows]),
    ]
    for label, values in lines:
        table.add_row(label, *values)
    console.print(table)
