"""Rich rendering of training progress: a bar with loss, tokens/s and ETA, and one line per epoch.

The library reports progress as plain dicts through a callback (see seqtool.training.trainer); this module
is the only place that turns them into terminal output.
"""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from seqtool.cli.common import console, err_console


class TrainingProgress:
    """Use as ``with TrainingProgress() as p: train(..., progress=p)``."""

    def __init__(self, metric_names: tuple[str, ...] = ("dev_ppl",), *, json: bool = False) -> None:
        self.metric_names = metric_names
        # With --json, stdout carries only the JSON document: the progress goes to stderr.
        self.console = err_console if json else console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.task: Any = None
        self.epoch = None
        self.teacher: Any = None

    def __enter__(self) -> TrainingProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "status":
            self.console.print(f"[dim]{event['message']}[/]")
        elif kind == "translate":  # a teacher translating the training source (distill)
            if self.teacher is None:
                self.teacher = self.progress.add_task(event["what"], total=event["total"], info="")
            self.progress.update(self.teacher, completed=event["done"])
            if event["done"] >= event["total"]:
                self.progress.remove_task(self.teacher)
                self.teacher = None
        elif kind == "step":
            if self.task is None or self.epoch != event["epoch"]:
                if self.task is not None:
                    self.progress.remove_task(self.task)
                self.epoch = event["epoch"]
                self.task = self.progress.add_task(
                    f"epoch {event['epoch']}/{event['epochs']}", total=event["batches"], info=""
                )
            info = f"loss {event['loss']:.3f}  {event['tokens_per_s']:,.0f} tok/s"
            self.progress.update(self.task, completed=event["batch"], info=info)
        elif kind == "epoch":
            metrics = "  ".join(f"{k} {event[k]:.3f}" for k in self.metric_names if k in event)
            star = " [green]*best[/]" if event.get("improved") else ""
            self.console.print(
                f"epoch {event['epoch']}: train loss {event['train_loss']:.3f}  {metrics}  "
                f"{event['tokens_per_s']:,.0f} tok/s  {event['elapsed_s']:.0f}s{star}"
            )
