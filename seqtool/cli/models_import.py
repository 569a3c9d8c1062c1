"""`seqtool models import PATH [--name NAME]`: copy a validated model folder into the workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqtool.cli.app import models_app
from seqtool.cli.common import JsonOpt, WorkspaceOpt, console, print_json


@models_app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="A model folder (config.json, weights, tokenizers) from elsewhere.")],
    name: Annotated[
        str | None, typer.Option(help="Name in the workspace \\[default: the name in its config.json].")
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Import a model folder after checking its config, tokenizers and tensor names/shapes (nothing is unpickled)."""
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.import_model import import_model

    result = import_model(Workspace(workspace), path, name)
    summary = {
        "name": result.name,
        "kind": result.kind,
        "arch": result.arch,
        "parameters": result.parameters,
        "path": str(result.path),
        "files": result.files,
        "skipped": result.skipped,
    }
    if json:
        print_json(summary)
        return
    params = f", {result.parameters:,} parameters" if result.parameters is not None else ""
    console.print(f"[bold green]imported {result.name}[/] ({result.kind}, {result.arch}{params}) from {path}")
    if result.skipped:
        console.print(f"[dim]not copied: {', '.join(result.skipped)}[/]")
