"""`seqtool data prepare`: a downloaded raw parallel corpus to clean train/dev/test files and a report
(the library is seqtool.data.prepare; docs/data-prepare.md has the layouts, filters and reasons)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seqtool.cli.app import data_app
from seqtool.cli.common import JsonOpt, console, err_console, print_json

_FILTERS = "Filters"
_LAYOUT = "Corpus (one of)"


def _columns(text: str) -> tuple[int, int]:
    from seqtool.errors import OptionError

    try:
        a, b = (int(x) for x in text.split(","))
    except ValueError:
        raise OptionError(f"--columns must be two 1-based column numbers like 2,3; got {text!r}") from None
    return a, b


@data_app.command("prepare")
def prepare_corpus(
    out: Annotated[Path, typer.Option("--out", help="Output folder (train/dev/test files, report.json).")],
    corpus: Annotated[Path | None, typer.Argument(help="A corpus whose layout is detected: a TSV, a KFTT folder or tarball, a Tatoeba folder.")] = None,
    src: Annotated[Path | None, typer.Option(help="Source side, one sentence per line.", rich_help_panel=_LAYOUT)] = None,
    tgt: Annotated[Path | None, typer.Option(help="Target side, line-aligned with --src.", rich_help_panel=_LAYOUT)] = None,
    tsv: Annotated[Path | None, typer.Option(help="Tab-separated pairs (.gz/.bz2/.xz read as is).", rich_help_panel=_LAYOUT)] = None,
    columns: Annotated[str, typer.Option(help="--tsv: the source and target columns, 1-based.", rich_help_panel=_LAYOUT)] = "1,2",
    score_column: Annotated[int | None, typer.Option(help="--tsv: the column holding a pair score.", rich_help_panel=_LAYOUT)] = None,
    kftt: Annotated[Path | None, typer.Option(help="KFTT's kftt-data-1.0 folder or tarball (its split is kept).", rich_help_panel=_LAYOUT)] = None,
    tatoeba: Annotated[Path | None, typer.Option(help="Folder with Tatoeba's sentences.csv and links.csv.", rich_help_panel=_LAYOUT)] = None,
    src_lang: Annotated[str | None, typer.Option(help="Source language (en, ja; eng, jpn) \\[default: the --src file's suffix].", show_default=False)] = None,
    tgt_lang: Annotated[str | None, typer.Option(help="Target language \\[default: the --tgt file's suffix].", show_default=False)] = None,
    min_score: Annotated[float | None, typer.Option(help="Remove pairs scoring below this (needs --score-column).", rich_help_panel=_FILTERS)] = None,
    max_words: Annotated[int, typer.Option(help="Longest side, in words (languages with spaces).", rich_help_panel=_FILTERS)] = 250,
    max_chars: Annotated[int, typer.Option(help="Longest side, in characters (ja, zh, th, ...).", rich_help_panel=_FILTERS)] = 500,
    max_ratio: Annotated[float, typer.Option(help="Largest (longer+1)/(shorter+1) length ratio; 0: no check.", rich_help_panel=_FILTERS)] = 3.0,
    dedup: Annotated[str, typer.Option(help="near (exact and near duplicates), exact, or off.", rich_help_panel=_FILTERS)] = "near",
    markup: Annotated[bool, typer.Option("--drop-markup/--keep-markup", help="Remove pairs with HTML tags or entities.", rich_help_panel=_FILTERS)] = True,
    same: Annotated[bool, typer.Option("--drop-same/--keep-same", help="Remove pairs whose sides are the same text.", rich_help_panel=_FILTERS)] = True,
    langid: Annotated[bool, typer.Option("--langid/--no-langid", help="Check each side's language with py3langid.", rich_help_panel=_FILTERS)] = True,
    langid_min_chars: Annotated[int, typer.Option(help="Shortest line language ID judges.", rich_help_panel=_FILTERS)] = 20,
    langid_min_prob: Annotated[float, typer.Option(help="Remove a side whose language gets a lower probability.", rich_help_panel=_FILTERS)] = 0.05,
    dev: Annotated[int, typer.Option(help="Pairs carved out as dev (0: none).")] = 0,
    test: Annotated[int, typer.Option(help="Pairs carved out as test (0: none).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the dev/test choice.")] = 1,
    write_removed: Annotated[bool, typer.Option("--write-removed", help="Also write removed.tsv: reason, line, source, target.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty --out folder.")] = False,
    json: JsonOpt = False,
) -> None:  # fmt: skip
    """Clean a downloaded parallel corpus into train/dev/test files, counting each removed pair by reason.

    Reads two line-aligned files, a TSV (WikiMatrix, JParaCrawl, JESC), KFTT's folder or Tatoeba's exports.
    Removes duplicates, empty, over-long, badly proportioned, markup and wrong-language pairs (docs/data-prepare.md).
    """
    from seqtool.data.prepare import REASONS, PrepareOptions, prepare
    from seqtool.data.readers import open_source

    source = open_source(corpus=corpus, src=src, tgt=tgt, tsv=tsv, kftt=kftt, tatoeba=tatoeba, columns=_columns(columns),
                         score_column=score_column, src_lang=src_lang, tgt_lang=tgt_lang)  # fmt: skip
    options = PrepareOptions(max_words=max_words, max_chars=max_chars, max_ratio=max_ratio, dedup=dedup,
                             drop_markup=markup, drop_same=same, langid=langid, langid_min_chars=langid_min_chars,
                             langid_min_prob=langid_min_prob,
                             min_score=min_score, dev=dev, test=test, seed=seed, write_removed=write_removed)  # fmt: skip
    show = err_console.is_terminal and not json
    with err_console.status("reading", spinner="dots") if show else contextlib.nullcontext() as status:

        def progress(read: int, kept: int) -> None:
            if status is not None:
                status.update(f"{read:,} pairs read, {kept:,} kept")

        report = prepare(source, out, options, force=force, progress=progress)
    summary = report.to_dict()
    if json:
        print_json(summary)
        return
    table = Table(title=f"data prepare: {out}")
    table.add_column("pairs")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    rows = [("read", report.read), *((f"removed: {r}", report.removed[r]) for r in REASONS if report.removed[r])]
    rows += [("kept", report.kept), *((f"  {s}", n) for s, n in report.splits.items() if n)]
    for label, n in rows:
        table.add_row(label, f"{n:,}", f"{100 * n / max(1, report.read):.1f}%")
    console.print(table)
    checked = ", ".join(f"{side} {lang or '?'} by {how}" for (side, lang), how in
                        zip(report.languages.items(), report.checks.values(), strict=True))  # fmt: skip
    console.print(f"{report.read:,} pairs in {report.seconds:.1f}s ({summary['pairs_per_s'] or 0:,} pairs/s); "
                  f"languages: {checked}; wrote {', '.join(f for fs in report.files.values() for f in fs)} and "
                  f"report.json to {out}")  # fmt: skip
