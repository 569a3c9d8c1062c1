"""`seqtool experiment ...`: the course's experiments, each printing a table and writing a figure."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from seqtool.cli.app import experiment_app
from seqtool.cli.common import DeviceOpt, JsonOpt, ThreadsOpt, WorkspaceOpt, console, err_console, print_json
from seqtool.tasks.experiments.settings import BinaryAdditionConfig, NextWordConfig

if TYPE_CHECKING:
    from seqtool.tasks.experiments.binary_addition import BinaryAdditionResult
    from seqtool.tasks.experiments.next_word import NextWordResult

STOP_NOTES = {"time budget": " (time)", "no improvement": " (early stop)"}  # why a cell stopped before --epochs
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


# Option defaults are the library's (one place each: seqtool/tasks/experiments/settings.py).
BA, NW = BinaryAdditionConfig(), NextWordConfig()


@experiment_app.command("binary-addition")
def binary_addition(
    activation: Annotated[
        str, typer.Option("--activation", "-a", help="Hidden activation of the recurrent cell: sigmoid, tanh or relu.")
    ] = BA.activation,
    compare: Annotated[
        str | None,
        typer.Option(
            "--compare",
            help="Comma-separated activations to train with the same seed and budget and draw on one chart, "
            "e.g. sigmoid,relu,tanh (overrides --activation).",
            show_default=False,
        ),
    ] = None,
    hidden: Annotated[int, typer.Option("--hidden", help="Hidden units.")] = BA.hidden,
    bits: Annotated[int, typer.Option("--bits", help="Bits of the sum (operands are below 2^(bits-1)).")] = BA.bits,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of plain SGD.")] = BA.lr,
    steps: Annotated[int, typer.Option("--steps", help="Training steps (mini-batches).")] = BA.steps,
    batch: Annotated[int, typer.Option("--batch", help="Additions per training step.")] = BA.batch,
    init: Annotated[
        str, typer.Option("--init", help="Weight initialisation: xavier, he or normal (std 0.1).")
    ] = BA.init,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (weights, held-out split, batches).")] = BA.seed,
    eval_every: Annotated[
        int, typer.Option("--eval-every", help="Steps between held-out evaluations.")
    ] = BA.eval_every,
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
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.experiments.binary_addition import BinaryAdditionConfig, parse_activations, run_comparison
    from seqtool.viz.curves import default_figure_name, plot_binary_addition, png_size

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


def _next_word_table(result: NextWordResult) -> Table:
    from seqtool.cli.compare import _duration

    sample = f"{result.train_sample:,} of {result.train_lines:,}" if result.train_sample < result.train_lines else "all"
    table = Table(
        title=f"next word from {result.config.context} previous words (eval mode, best weights; "
        f"train: {sample} lines, dev: {result.dev_lines:,} lines)",
        caption="epochs: passes over the training data ((time): cut by --max-minutes); time includes evaluation;\n"
        "loss: mean cross-entropy per token; gap = dev loss - train loss",
    )
    headers = ("model", "params", "epochs", "time", "top-1 train", "top-1 dev", "loss train", "loss dev", "gap")
    for col in (*headers, "ppl dev"):
        table.add_column(col, justify="left" if col == "model" else "right")
    best_dev = max(c.dev.top1 for c in result.cells)
    for c in result.cells:
        dev_top1 = f"{c.dev.top1:.1%}"
        table.add_row(
            c.name,
            f"{c.parameters:,}",
            f"{c.epochs_trained:g}" + STOP_NOTES.get(c.stopped.split(" for ")[0], ""),
            _duration(c.elapsed_s),
            f"{c.train.top1:.1%}",
            f"[bold green]{dev_top1}[/]" if c.dev.top1 == best_dev else dev_top1,
            f"{c.train.loss:.3f}",
            f"{c.dev.loss:.3f}",
            f"{c.gap:+.3f}",
            f"{c.dev.ppl:.1f}",
        )
    baseline = result.baseline
    table.add_row(
        f"[dim]unigram ({baseline.word!r})[/]", "", "", "", "", f"[dim]{baseline.dev_top1:.1%}[/]", *[""] * 3,
        f"[dim]{baseline.dev_ppl:.1f}[/]",
    )  # fmt: skip
    return table


def _predictions_table(result: NextWordResult) -> Table:
    table = Table(title=f'next word after "{result.config.prompt}"')
    table.add_column("#", justify="right")
    for c in result.cells:
        table.add_column(c.name)
    for rank in range(result.config.top):
        cells = [
            f"{c.predictions[rank][0]} ({c.predictions[rank][1]:.3f})" if rank < len(c.predictions) else ""
            for c in result.cells
        ]
        table.add_row(str(rank + 1), *cells)
    return table


@experiment_app.command("next-word")
def next_word(
    cells: Annotated[
        str,
        typer.Option("--cells", help="Comma-separated cells: rnn, lstm, gru, or bi+cell (bigru: bidirectional GRU)."),
    ] = ",".join(NW.cells),
    context: Annotated[int, typer.Option("--context", help="Previous words each model reads.")] = NW.context,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Training text, one sentence per line \\[default: sample data].", show_default=False
        ),
    ] = None,
    dev: Annotated[
        Path | None,
        typer.Option("--dev", help="Dev text \\[default: the sample dev set].", show_default=False),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Maximum epochs per cell.")] = NW.epochs,
    max_minutes: Annotated[
        float | None,
        typer.Option("--max-minutes", help="Wall-clock budget per cell \\[default: none].", show_default=False),
    ] = None,
    emb_dim: Annotated[int, typer.Option("--emb-dim", help="Word embedding size.")] = NW.emb_dim,
    hidden: Annotated[int, typer.Option("--hidden", help="Recurrent state size (per direction).")] = NW.hidden,
    layers: Annotated[int, typer.Option("--layers", help="Recurrent layers.")] = NW.layers,
    dropout: Annotated[float, typer.Option("--dropout", help="Dropout probability.")] = NW.dropout,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Tokens per batch (padding included).")
    ] = NW.batch_tokens,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate (Adam).")] = NW.lr,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (weights, batches, training sample).")] = NW.seed,
    precision: Annotated[
        str, typer.Option("--precision", help="Training arithmetic: auto (bf16 where it is fast), fp32 or bf16.")
    ] = NW.precision,
    prompt: Annotated[str, typer.Option("--prompt", help="Text whose next word each model predicts.")] = NW.prompt,
    top: Annotated[int, typer.Option("--top", help="Predictions shown per model.")] = NW.top,
    train_sample: Annotated[
        int, typer.Option("--train-sample", help="Training lines scored for train accuracy and loss.")
    ] = NW.train_sample,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="PNG path \\[default: <workspace>/figures/next-word-CELLS-contextN.png].",
            show_default=False,
        ),
    ] = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Window models (LSTM, GRU, bidirectional GRU...) predict the next word from the previous N, side by side.

    Each cell is trained with the same data, seed, sizes and budget into the workspace as a normal
    model (nextword-CELL), then scored on training and dev lines. Prints a table (parameters, time,
    train/dev top-1 accuracy and loss, overfitting gap), writes loss and accuracy curves of all
    cells on one chart, and shows each model's top predictions for --prompt.
    """
    from seqtool.cli.common import sample_data_dir, setup_torch
    from seqtool.cli.progress import TrainingProgress
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.experiments.next_word import NextWordConfig, run_next_word
    from seqtool.tasks.experiments.settings import parse_cells
    from seqtool.viz.curves import default_figure_name, plot_next_word, png_size

    cfg = NextWordConfig(
        cells=parse_cells(cells), context=context, emb_dim=emb_dim, hidden=hidden, layers=layers, dropout=dropout,
        epochs=epochs, max_minutes=max_minutes, batch_tokens=batch_size, lr=lr, seed=seed, precision=precision,
        prompt=prompt, top=top, train_sample=train_sample,
    )  # fmt: skip
    cfg.validate()
    setup_torch(threads)
    ws = Workspace(workspace)
    sample = sample_data_dir() / "enja"
    figure = (
        output
        if output is not None
        else ws.figures_dir / default_figure_name("next-word", [*cfg.cells, f"context{context}"])
    )
    bar = None if json else TrainingProgress(("dev_ppl", "top1"))  # with --json, stdout carries only the JSON
    started: list[str] = []

    def progress(cell: str, event: dict[str, Any]) -> None:
        if bar is None:
            return
        if not started or started[-1] != cell:
            started.append(cell)
            console.rule(f"{cell} ({len(started)}/{len(cfg.cells)})")
        bar(event)

    with bar or contextlib.nullcontext():
        result = run_next_word(
            ws, data or sample / "train.en", dev or sample / "dev.en", cfg, device=device, threads=threads or 1,
            progress=progress,
        )  # fmt: skip
    plot_next_word(result, figure)
    if json:
        print_json({"figure": str(figure), **result.to_dict()})
        return
    console.print(_next_word_table(result))
    console.print(_predictions_table(result))
    width, height = png_size(figure)
    load = f"load average {result.load_before} before, {result.load_after} after"
    console.print(f"figure: {figure} ({width}x{height} pixels); {load}")
