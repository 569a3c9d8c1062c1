"""`seqtool distill`: train a student translator on a teacher's beam-search output.

The command takes every model and training option of `train-mt` (its signature is reused, not
copied); the pipeline itself is :func:`seqtool.tasks.distill.distill`.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import console, notice, report_training, setup_torch
from seqtool.cli.mt import print_tuned, train_mt_cmd, tune_after_training
from seqtool.cli.runfile import recorded_run

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
    from seqtool.cli.progress import TrainingProgress
    from seqtool.errors import OptionError
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.distill import distill
    from seqtool.tasks.mt import mt_recipe

    o = train_options
    name = o["name"]
    if name is None:
        raise OptionError("give the student a --name")
    recipe = mt_recipe(o)
    setup_torch(o["threads"])
    ws = Workspace(o["workspace"])
    resolved = {"seed": recipe.train_cfg.seed}
    with (
        TrainingProgress(("dev_bleu",), json=o["json"]) as progress,
        recorded_run(o["ctx"], ws, name, o["resume"], resolved),
    ):
        result = distill(
            ws, teacher, name, recipe, src=o["src"], dev_src=o["dev_src"], dev_tgt=o["dev_tgt"], beam=teacher_beam,
            batch_sentences=teacher_batch, limit=limit, resume=o["resume"], device=o["device"],
            threads=o["threads"] or 1, teacher_engine=teacher_engine, progress=progress, notify=notice,
        )  # fmt: skip
    decoding = tune_after_training(ws, name, o["device"]) if o["tune_decoding"] else None
    if report_training(name, result, o["json"], extra={"decoding": decoding} if decoding else None):
        console.print(
            f"[bold green]distilled {name}[/] from {teacher}: best dev BLEU {result.best['value']:.2f} (greedy, "
            f"epoch {result.best['epoch']}), {result.epochs} epochs, {result.elapsed_s:.0f}s; "
            f"stopped: {result.stopped_because}"
        )
        print_tuned(decoding)


def _signature() -> inspect.Signature:
    """distill's own options followed by train-mt's (Typer reads the signature and annotations)."""
    own = list(inspect.signature(distill_cmd, eval_str=True).parameters.values())[:-1]
    base = [p for p in inspect.signature(train_mt_cmd, eval_str=True).parameters.values()
            if p.name not in _TAKEN_FROM_TEACHER]  # fmt: skip
    first = [p for p in base if p.default is p.empty]  # the click context: before the options with defaults
    return inspect.Signature([*first, *own, *(p for p in base if p.default is not p.empty)])


distill_cmd.__signature__ = _signature()  # type: ignore[attr-defined]
distill_cmd.__annotations__ = {p.name: p.annotation for p in distill_cmd.__signature__.parameters.values()}
app.command("distill", rich_help_panel=panels.MT)(distill_cmd)
