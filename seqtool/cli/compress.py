"""`seqtool compress`: a pruned and/or reduced-precision copy of a model, measured against the original."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import JsonOpt, ThreadsOpt, WorkspaceOpt, console, print_json, setup_torch


def _mb(n: Any) -> str:
    return f"{n / 1e6:.2f} MB" if isinstance(n, int) else "-"


def _ratio(a: Any, b: Any, fmt: str = ".2f") -> str:
    ok = all(isinstance(v, int | float) and v for v in (a, b))
    return f"{format(b / a, fmt)}x" if ok else ""


@app.command("compress", rich_help_panel=panels.MODELS)
def compress_cmd(
    name: Annotated[str, typer.Argument(help="The model to compress (lm or mt).", show_default=False)],
    out: Annotated[str, typer.Option("--out", help="Name of the new, compressed model.", show_default=False)],
    quantize: Annotated[
        str, typer.Option(help="bf16 (recommended: fastest on CPUs with AVX-512 BF16), int8 or none.")
    ] = "bf16",  # the faster of bf16 and int8 in docs/benchmarks.md
    prune: Annotated[float, typer.Option(help="Zero this fraction of each weight matrix (smallest magnitudes).")] = 0.0,
    measure: Annotated[bool, typer.Option(help="Measure size, speed and BLEU/perplexity of both models.")] = True,
    src: Annotated[Path | None, typer.Option(help="Sources to measure on \\[default: the model's dev set].")] = None,
    ref: Annotated[Path | None, typer.Option(help="References for --src.")] = None,
    beam: Annotated[int, typer.Option(help="Beam size for the speed/BLEU measurement.")] = 5,
    limit: Annotated[int, typer.Option(help="Measure on the first N sentences only (0: all).")] = 0,
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Prune by magnitude and/or store weights as int8 or bf16; every command loads the result like any model."""
    from seqtool.errors import OptionError, check_positive
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.compress import compress_model
    from seqtool.tasks.compress import measure as measure_model

    check_positive("--beam", beam)
    check_positive("--limit", limit, allow_zero=True)
    if (src is None) != (ref is None):
        raise OptionError("give both --src and --ref, or neither")
    setup_torch(threads)
    ws = Workspace(workspace)
    result = compress_model(ws, name, out, quantize, prune)
    rows = [measure_model(ws, n, src, ref, beam=beam, limit=limit) for n in (name, out)] if measure else []
    if json:
        print_json({"model": out, "from": name, "compression": result.compression, "measured": rows})
        return
    console.print(
        f"[bold green]wrote {out}[/]: {name} with {quantize} weights"
        + (f", {prune:.0%} of each weight matrix pruned ({result.zeroed:,} weights zeroed)" if prune else "")
    )
    if rows:
        _print_table(rows)
    from seqtool.tasks.export import export_hint

    hint = export_hint(ws, out)
    if hint:
        console.print(hint, style="dim")


def _print_table(rows: list[dict[str, Any]]) -> None:
    original, small = rows
    speed, key = original["speed"], original["quality"]  # what the kind measured (ModelKind.measure)
    table = Table(
        title=f"{original['name']} vs {small['name']} on {original['data']} ({original['sentences']} sentences)"
    )
    for col, justify in (("", "left"), (original["name"], "right"), (small["name"], "right"), ("ratio", "right")):
        table.add_column(col, justify=justify)
    table.add_row("weights on disk", _mb(original["weights_bytes"]), _mb(small["weights_bytes"]),
                  _ratio(original["weights_bytes"], small["weights_bytes"]))  # fmt: skip
    table.add_row("parameters", f"{original['parameters']:,}", f"{small['parameters']:,}", "")
    table.add_row("non-zero weights", f"{original['nonzero_parameters']:,}", f"{small['nonzero_parameters']:,}",
                  _ratio(original["nonzero_parameters"], small["nonzero_parameters"]))  # fmt: skip
    table.add_row(speed, f"{original['sentences_per_s']:.1f}", f"{small['sentences_per_s']:.1f}",
                  _ratio(original["sentences_per_s"], small["sentences_per_s"]))  # fmt: skip
    label = original["quality_label"]
    diff = small[key] - original[key]
    table.add_row(label, f"{original[key]:.2f}", f"{small[key]:.2f}", f"{diff:+.2f}")
    console.print(table)
