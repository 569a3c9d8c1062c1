"""`seqtool distill`: train a student translator on a teacher's beam-search output.

The command takes every model and training option of `train-mt` (its signature is reused, not
copied), translates the training source with the teacher, then runs `train-mt` on the result.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.cli.app import app
from seqtool.cli.common import err_console, notice
from seqtool.cli.mt import train_mt_cmd

# train-mt's options minus the ones the teacher decides (languages, target text).
_TAKEN_FROM_TEACHER = ("tgt", "src_lang", "tgt_lang")


def distill_cmd(
    teacher: Annotated[str, typer.Option(help="The teacher translator (any mt model, e.g. a compressed one).")],
    teacher_beam: Annotated[int, typer.Option(help="Beam size of the teacher's translations.")] = 5,
    teacher_batch: Annotated[int, typer.Option(help="Sentences per teacher decoding batch.")] = 64,
    limit: Annotated[int, typer.Option(help="Distill on the first N training sentences only (0: all).")] = 0,
    teacher_engine: Annotated[
        str, typer.Option(help="auto (the teacher's CTranslate2 export when it has one), torch or ctranslate2.")
    ] = "auto",
    **train_options: Any,
) -> None:
    """Sequence-level distillation: the teacher translates the training source (beam search), the student
    (any --arch and size) trains on that with train-mt."""
    from seqtool.errors import OptionError
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.distill import finish, prepare

    if train_options.get("name") is None:
        raise OptionError("give the student a --name")
    ws = Workspace(train_options.get("workspace"))
    src = train_options.pop("src")  # None: the teacher's own training source
    with teacher_progress(enabled=err_console.is_terminal and not train_options["json"]) as progress:
        plan = prepare(
            ws, teacher, train_options["name"], src=src, beam=teacher_beam, batch_sentences=teacher_batch,
            limit=limit, resume=train_options["resume"], device=train_options["device"], progress=progress,
            engine=teacher_engine, notify=notice,
        )  # fmt: skip
    dev_src = train_options.pop("dev_src") or plan.dev_src
    dev_tgt = train_options.pop("dev_tgt") or plan.dev_tgt
    train_mt_cmd(src=plan.src, tgt=plan.tgt, dev_src=Path(dev_src), dev_tgt=Path(dev_tgt), src_lang=plan.src_lang,
                 tgt_lang=plan.tgt_lang, **train_options)  # fmt: skip
    finish(ws, train_options["name"], plan)


@contextlib.contextmanager
def teacher_progress(enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar (stderr) for the teacher's translation of the training source."""
    if not enabled:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("teacher translating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("teacher", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _signature() -> inspect.Signature:
    """distill's own options followed by train-mt's (Typer reads the signature and annotations)."""
    own = list(inspect.signature(distill_cmd, eval_str=True).parameters.values())[:-1]
    base = inspect.signature(train_mt_cmd, eval_str=True).parameters.values()
    return inspect.Signature([*own, *(p for p in base if p.name not in _TAKEN_FROM_TEACHER)])


distill_cmd.__signature__ = _signature()  # type: ignore[attr-defined]
distill_cmd.__annotations__ = {p.name: p.annotation for p in distill_cmd.__signature__.parameters.values()}
app.command("distill")(distill_cmd)
