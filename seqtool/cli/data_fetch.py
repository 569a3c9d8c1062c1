"""`seqtool data fetch` and `seqtool data list`: download known corpora and show which are present."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from seqtool.cli.app import data_app
from seqtool.cli.common import JsonOpt, WorkspaceOpt, console, err_console, print_json

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from seqtool.data.download import FetchProgress


class ProgressBars:
    """Renders :class:`~seqtool.data.download.FetchProgress` reports as rich progress bars on stderr.

    Bars are drawn only on a terminal: in logs and pipes they would be noise, and the summary
    printed after the fetch says what happened.
    """

    def __init__(self, enabled: bool) -> None:
        self.bars: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        if enabled:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.bars = Progress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err_console,
            )

    def __enter__(self) -> ProgressBars:
        if self.bars is not None:
            self.bars.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.bars is not None:
            self.bars.stop()

    def __call__(self, event: FetchProgress) -> None:
        if self.bars is None:
            return
        if event.stage == "redownload":
            self.bars.console.print(f"{event.file}: {event.detail}; downloading it again")
        elif event.stage == "retry":
            self.bars.console.print(f"{event.file}: transfer interrupted ({event.detail}); resuming")
        elif event.stage in ("start", "advance", "present"):
            if event.file not in self.tasks:
                self.tasks[event.file] = self.bars.add_task(event.file, total=event.total)
            self.bars.update(self.tasks[event.file], completed=event.done, total=event.total)


@data_app.command("fetch")
def fetch_corpus(
    corpus: Annotated[str, typer.Argument(help="Corpus name; `seqtool data list` shows the known ones.")],
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Directory for the files \\[default: <workspace>/data/<corpus>].", show_default=False
        ),
    ] = None,
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror",
            metavar="URL|DIR",
            help="Take the files from this base URL or local directory instead of the corpus's own source.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Download a corpus with SHA-256 verification; resumes partial downloads, skips files that verify."""
    from seqtool.data.download import fetch
    from seqtool.data.registry import default_directory

    target = directory or default_directory(workspace, corpus)
    with ProgressBars(enabled=err_console.is_terminal and not json) as bars:
        result = fetch(corpus, target, mirror=mirror, progress=bars)
    if json:
        print_json(result.to_dict())
        return
    for f in result.files:
        console.print(f"{f.name:<10} {f.action:<10} {f.size:>12,} bytes  sha256 ok")
    fetched = sum(f.action != "present" for f in result.files)
    what = "all present already" if fetched == 0 else f"{fetched} fetched"
    console.print(f"{result.corpus}: {len(result.files)} files verified in {result.directory} ({what})")


@data_app.command("list")
def list_corpora(workspace: WorkspaceOpt = None, json: JsonOpt = False) -> None:
    """The known corpora and which of their files are in the workspace (checked by SHA-256)."""
    from seqtool.data.registry import status

    corpora = status(workspace)
    if json:
        print_json({"corpora": [c.to_dict() for c in corpora]})
        return
    table = Table(title="known corpora")
    table.add_column("corpus", no_wrap=True)
    for col in ("state", "files", "directory", "description"):
        table.add_column(col, overflow="fold")
    for c in corpora:
        ok = sum(bool(f.verified) for f in c.files)
        notes = [f"{f.name} does not verify" for f in c.files if f.present and f.verified is False]
        notes += [f"{f.name}: {f.partial_bytes:,} bytes partial" for f in c.files if f.partial_bytes]
        state = c.state + (f" ({'; '.join(notes)})" if notes else "")
        table.add_row(c.name, state, f"{ok}/{len(c.files)}", c.directory, c.description)
    console.print(table)
    if any(c.state != "present" for c in corpora):
        console.print("fetch one with `seqtool data fetch NAME` (add --mirror URL|DIR without network access)")
