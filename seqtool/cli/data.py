"""`seqtool data`: corpus statistics (and, with the reliability issue, downloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seqtool.cli.app import data_app
from seqtool.cli.common import JsonOpt, console, print_json


@data_app.command("info")
def info(
    files: Annotated[list[Path], typer.Argument(help="Text files, one sentence per line, words separated by spaces.")],
    json: JsonOpt = False,
) -> None:
    """Sentences, words, vocabulary and sentence-length histogram of each file."""
    from dataclasses import asdict

    from seqtool.data.corpus import corpus_stats

    stats = [corpus_stats(f) for f in files]
    if json:
        print_json({"files": [{**asdict(s), "mean_length": round(s.mean_length, 3)} for s in stats]})
        return
    table = Table(title="corpus statistics")
    for col in ("file", "sentences", "words", "vocabulary", "mean len", "max len", "empty"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for s in stats:
        table.add_row(
            s.path,
            f"{s.sentences:,}",
            f"{s.words:,}",
            f"{s.vocabulary:,}",
            f"{s.mean_length:.1f}",
            str(s.max_length),
            str(s.empty_lines),
        )
    console.print(table)
    hist = Table(title="sentence length (words)")
    hist.add_column("file")
    for label in stats[0].length_histogram:
        hist.add_column(label, justify="right")
    for s in stats:
        hist.add_row(s.path, *(f"{v:,}" for v in s.length_histogram.values()))
    console.print(hist)
