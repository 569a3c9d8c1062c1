"""`seqtool models`: list, show and remove workspace models."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from seqtool.cli.app import models_app
from seqtool.cli.common import JsonOpt, WorkspaceOpt, console, print_json


def _file_names(paths: str | None) -> str:
    """'dir/train.en dir/train.ja' -> 'train.en train.ja': the table has no room for full paths."""
    from pathlib import Path

    return " ".join(Path(p).name for p in paths.split()) if paths else "-"


@models_app.callback(invoke_without_command=True)
def list_models(ctx: typer.Context, workspace: WorkspaceOpt = None, json: JsonOpt = False) -> None:
    """List the models in the workspace (name, kind, architecture, parameters, data, best dev metric)."""
    if ctx.invoked_subcommand is not None:
        return
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.summary import model_summary

    ws = Workspace(workspace)
    rows = [model_summary(ws, md.name, cfg) for md, cfg in ws.list_models()]
    defaults = ws.defaults()
    if json:
        print_json({"workspace": str(ws.root), "models": rows, "defaults": defaults})
        return
    if not rows:
        console.print(f"no models in {ws.root}; train one (`seqtool train-lm`) or run `seqtool demo`")
        return
    table = Table(title=f"models in {ws.root}")
    for col in ("name", "kind", "arch", "parameters", "train data", "best dev", "status", "engines", "created"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    for r in rows:
        star = " *" if defaults.get(r["kind"]) == r["name"] else ""
        best = f"{r['best_metric']} {r['best_value']:.4g}" if isinstance(r["best_value"], int | float) else "-"
        params = f"{r['parameters']:,}" if isinstance(r["parameters"], int) else "-"
        table.add_row(
            r["name"] + star,
            r["kind"] or "-",
            r["arch"] or "-",
            params,
            _file_names(r["train_data"]),
            best,
            r["status"] or "-",
            " ".join(r["engines"]) or "-",
            (r["created"] or "-")[:19],
        )
    console.print(table)
    console.print("* = default model of its kind")


@models_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Model name.")],
    as_config: Annotated[
        bool, typer.Option("--as-config", help="Print the run file (YAML) that trains this model again.")
    ] = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show a model's full configuration, files and metrics history."""
    from seqtool.store.workspace import Workspace

    ws = Workspace(workspace)
    md = ws.model_dir(name)
    if not md.config_path.exists():
        from seqtool.errors import ModelNotFoundError

        raise ModelNotFoundError(f"no model named {name!r} in workspace {ws.root}; see `seqtool models`")
    cfg = md.config()
    if as_config:
        from seqtool.cli.runfile import as_run_file

        sys.stdout.write(as_run_file(cfg))
        return
    files = {p.name: p.stat().st_size for p in sorted(md.path.iterdir()) if p.is_file() and not p.name.startswith(".")}
    metrics = md.metrics()
    from seqtool.tasks.kinds import find_kind

    kind = find_kind(cfg.get("kind"))
    engines = kind.engines(md.path) if kind is not None else []
    if json:
        print_json({"name": name, "config": cfg, "files": files, "metrics": metrics, "engines": engines})
        return
    import json as _json

    console.print(f"[bold]{name}[/] ({cfg.get('kind')}, {cfg.get('arch')}) in {md.path}")
    console.print(f"engines: {', '.join(engines)} (`seqtool export {name}` adds a CTranslate2 copy)", style="dim")
    console.print_json(_json.dumps(cfg, ensure_ascii=False))
    table = Table(title="files")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for fname, size in files.items():
        table.add_row(fname, f"{size:,}")
    console.print(table)
    if metrics:
        keys = [k for k in metrics[0] if isinstance(metrics[0][k], int | float)]
        mt = Table(title="metrics per epoch")
        for k in keys:
            mt.add_column(k, justify="right")
        for row in metrics:
            mt.add_row(*(f"{row.get(k):.4g}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys))
        console.print(mt)


@models_app.command("epochs")
def epochs(
    name: Annotated[
        str, typer.Argument(help="A model trained with --average-last N (the Transformer recipe keeps 5).")
    ],
    last: Annotated[int | None, typer.Option(help="Only the last N epochs \\[default: every epoch kept].")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write the last epochs a run kept as models NAME-eK: a checkpoint ensemble (translate --model a,b,c)."""
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.epochs import split_epochs

    names = split_epochs(Workspace(workspace), name, last)
    if json:
        print_json({"model": name, "written": names})
        return
    console.print(f"wrote {', '.join(names)}")
    console.print(f"an ensemble of them: seqtool translate --model {','.join(names)} TEXT", style="dim")


@models_app.command("rm")
def remove(
    names: Annotated[list[str], typer.Argument(help="Model name(s) to delete.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete models from the workspace."""
    from seqtool.store.workspace import Workspace

    ws = Workspace(workspace)
    for name in names:
        ws.remove(name)
        console.print(f"removed {name}")
