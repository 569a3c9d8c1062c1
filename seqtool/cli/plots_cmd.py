"""`seqtool plot curves`: learning curves of trained models from their metrics history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqtool.cli.app import plot_app
from seqtool.cli.common import JsonOpt, WorkspaceOpt, console, print_json


@plot_app.command("curves")
def curves(
    names: Annotated[list[str], typer.Argument(help="Model names (see `seqtool models`).", show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="PNG path \\[default: <workspace>/figures/curves-NAMES.png].", show_default=False
        ),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Figure title.", show_default=False)] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Loss and dev metric per epoch of one or more trained models, on one figure (two panels)."""
    from seqtool.store.workspace import Workspace
    from seqtool.viz.curves import default_figure_name, load_histories, plot_learning_curves, png_size

    ws = Workspace(workspace)
    histories = load_histories(ws, names)  # every name checked before anything is written
    figure = output if output is not None else ws.figures_dir / default_figure_name("curves", names)
    plot_learning_curves(histories, figure, title)
    if json:
        print_json(
            {
                "figure": str(figure),
                "models": [{"name": h.name, "epochs": len(h.rows), "dev_metric": h.dev_metric} for h in histories],
            }
        )
        return
    for h in histories:
        console.print(f"{h.name}: {len(h.rows)} epochs, dev metric {h.dev_metric or '-'}")
    width, height = png_size(figure)
    console.print(f"figure: {figure} ({width}x{height} pixels)")
