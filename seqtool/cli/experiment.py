"""`seqtool experiment ...`: the course's experiments, each printing a table and writing a figure."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from seqtool.cli.app import experiment_app
from seqtool.cli.common import JsonOpt, WorkspaceOpt, console, err_console, print_json

if TYPE_CHECKING:
    from seqtool.experiments.binary_addition import BinaryAdditionResult

TABLE_ROWS = 12  # checkpoints shown in the accuracy-over-time table (the figure has them all)


def _shown_steps(results: list[BinaryAdditionResult]) -> list[int]:
    """About TABLE_ROWS evenly spaced checkpoint steps, plus each run's first 100% step and last step."""
    all_steps = sorted({c.step for r in results for c in r.history})
    stride = max(1, round(len(all_steps) / TABLE_ROWS))
    shown = set(all_steps[::stride]) | {all_steps[-1]}
    for r in results:
        shown.add(r.history[-1].step)
        if r.solved_step is not None:
            shown.add(r.solved_step)
    return sorted(shown)


def _accuracy_table(results: list[BinaryAdditionResult]) -> Table:
    table = Table(title="held-out accuracy: whole sum (per bit)")
    table.add_column("step", justify="right")
    for r in results:
        table.add_column(r.config.activation, justify="right")
    by_step = [{c.step: c for c in r.history} for r in results]
    for step in _shown_steps(results):
        cells = []
        for r, points in zip(results, by_step, strict=True):
            point = points.get(step)
            if point is not None:
                text = f"{point.accuracy:.1%} ({point.bit_accuracy:.1%})"
                cells.append(f"[bold green]{text}[/]" if point.accuracy == 1.0 else text)
            else:
                cells.append("diverged" if r.diverged and step > r.history[-1].step else "")
        table.add_row(str(step), *cells)
    return table


def _summary_table(results: list[BinaryAdditionResult]) -> Table:
    table = Table(title="summary (acc, loss: at the last step; dead: ReLU units stuck at 0)")
    # Short headers: the table must fit an 80-column terminal with three runs.
    for col in ("activation", "params", "100% from", "acc", "bit acc", "loss", "dead", "time"):
        table.add_column(col, justify="left" if col == "activation" else "right", no_wrap=True)
    for r in results:
        final = r.final
        table.add_row(
            r.config.activation,
            f"{r.parameters:,}",
            str(r.solved_step) if r.solved_step is not None else ("diverged" if r.diverged else "never"),
            f"{final.accuracy:.1%}",
            f"{final.bit_accuracy:.1%}",
            f"{final.loss:.4f}",
            f"{r.dead_units}/{r.config.hidden}",
            f"{r.elapsed_s:.1f}s",
        )
    return table


@experiment_app.command("binary-addition")
def binary_addition(
    activation: Annotated[
        str, typer.Option("--activation", "-a", help="Hidden activation of the recurrent cell: sigmoid, tanh or relu.")
    ] = "sigmoid",
    compare: Annotated[
        str | None,
        typer.Option(
            "--compare",
            help="Comma-separated activations to train with the same seed and budget and draw on one chart, "
            "e.g. sigmoid,relu,tanh (overrides --activation).",
            show_default=False,
        ),
    ] = None,
    hidden: Annotated[int, typer.Option("--hidden", help="Hidden units.")] = 16,
    bits: Annotated[int, typer.Option("--bits", help="Bits of the sum (operands are below 2^(bits-1)).")] = 8,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of plain SGD.")] = 1.0,
    steps: Annotated[int, typer.Option("--steps", help="Training steps (mini-batches).")] = 3000,
    batch: Annotated[int, typer.Option("--batch", help="Additions per training step.")] = 32,
    init: Annotated[
        str, typer.Option("--init", help="Weight initialisation: xavier, he or normal (std 0.1).")
    ] = "xavier",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (weights, held-out split, batches).")] = 0,
    eval_every: Annotated[int, typer.Option("--eval-every", help="Steps between held-out evaluations.")] = 50,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="PNG path \\[default: <workspace>/figures/binary-addition-ACTIVATIONS-seedN.png].",
            show_default=False,
        ),
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="CPU threads for torch \\[default: 1; the network is tiny].")
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """An RNN learns to add two binary numbers bit by bit, least-significant bit first.

    Prints held-out accuracy over training and writes a learning-curve PNG. The defaults are the
    course's setting (16 hidden units, 8-bit sums, plain SGD), in which sigmoid and tanh reach 100%.
    """
    from seqtool.cli.common import setup_torch
    from seqtool.curves import default_figure_name, plot_binary_addition, png_size
    from seqtool.experiments.binary_addition import BinaryAdditionConfig, parse_activations, run_comparison
    from seqtool.workspace import Workspace

    activations = parse_activations(compare) if compare is not None else [activation]
    base = BinaryAdditionConfig(
        activation=activations[0],
        hidden=hidden,
        bits=bits,
        lr=lr,
        steps=steps,
        batch=batch,
        init=init,
        seed=seed,
        eval_every=eval_every,
    )
    setup_torch(threads if threads is not None else 1)
    ws = Workspace(workspace)
    name = default_figure_name("binary-addition", [*activations, f"seed{seed}"])
    figure = output if output is not None else ws.figures_dir / name

    def progress(activation_name: str, checkpoint: Any) -> None:
        status.update(f"{activation_name}: step {checkpoint.step}/{steps}, held-out accuracy {checkpoint.accuracy:.1%}")

    with err_console.status("training...") as status:
        results = run_comparison(activations, base, None if json else progress)
    plot_binary_addition(results, figure)

    if json:
        print_json({"figure": str(figure), "runs": [r.to_dict() for r in results]})
        return
    first = results[0]
    console.print(
        f"binary addition: {first.config.bits}-bit sums, {first.heldout_size} held-out additions, "
        f"hidden {hidden}, lr {lr:g}, batch {batch}, init {init}, seed {seed}"
    )
    console.print(_accuracy_table(results))
    console.print(_summary_table(results))
    width, height = png_size(figure)
    console.print(f"figure: {figure} ({width}x{height} pixels)")
