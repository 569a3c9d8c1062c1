"""`seqtool export`: convert a Transformer into a CTranslate2 engine inside its model folder."""

from __future__ import annotations

from typing import Annotated

import typer

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import JsonOpt, WorkspaceOpt, console, print_json


@app.command("export", rich_help_panel=panels.MODELS)
def export_cmd(
    name: Annotated[str, typer.Argument(help="Model to export (a Transformer translator or language model).")],
    engine: Annotated[str, typer.Option(help="Inference engine: ctranslate2.")] = "ctranslate2",
    quantize: Annotated[
        str, typer.Option(help="Weights: int8 (the fast CPU path), int16 or float32 (same results as torch).")
    ] = "int8",
    force: Annotated[bool, typer.Option(help="Replace an existing export of the same quantization.")] = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Export NAME for fast inference (into models/NAME/ct2-QUANTIZE/); `translate` then uses it by default."""
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.export import export_model

    result = export_model(Workspace(workspace), name, engine=engine, quantize=quantize, force=force)
    if json:
        print_json(result)
        return
    ratio = result["bytes"] / max(1, result["weights_bytes"])
    console.print(
        f"[bold green]exported {result['model']}[/] to {result['path']} ({result['engine']} {result['quantization']}, "
        f"{result['bytes']:,} bytes = {ratio:.0%} of model.safetensors)"
    )
    if result["runs_as"] != result["quantization"]:
        console.print(
            f"note: this CPU has no {result['quantization']} kernels in CTranslate2; the engine runs as "
            f"{result['runs_as']} here",
            style="dim",
        )
