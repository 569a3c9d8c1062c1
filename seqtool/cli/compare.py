"""`seqtool models compare`: trained runs side by side (architecture, size, data, speed, best dev metric)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from seqtool.cli.app import models_app
from seqtool.cli.common import JsonOpt, WorkspaceOpt, console, print_json


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
    from seqtool.tasks.summary import model_summary
    from seqtool.viz.curves import check_unique

    ws = Workspace(workspace)
    check_unique(names)
    rows = [model_summary(ws, name, load_model_config(ws, name)) for name in names]
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
