"""Rich rendering of training progress: a bar with loss, tokens/s and ETA, and one line per epoch.

The library reports progress as plain dicts through a callback (see seqtool.training.trainer); this module
is the only place that turns them into terminal output.
"""

from __future__ import annotations

import math
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from seqtool.cli.common import console


class TrainingProgress:
    """Use as ``with TrainingProgress() as p: train(..., progress=p)``."""

    def __init__(self, metric_names: tuple[str, ...] = ("dev_ppl",)) -> None:
        self.metric_names = metric_names
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TextColumn("{task.fields[rate]:,.0f} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task: Any = None
        self.epoch = None

    def __enter__(self) -> TrainingProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "status":
            console.print(f"[dim]{event['message']}[/]")
        elif kind == "step":
            if self.task is None or self.epoch != event["epoch"]:
                if self.task is not None:
                    self.progress.remove_task(self.task)
                self.epoch = event["epoch"]
                self.task = self.progress.add_task(
                    "train",
                    total=event["batches"],
                    epoch=f"{event['epoch']}/{event['epochs']}",
                    loss=math.nan,
                    rate=0.0,
                )
            self.progress.update(self.task, completed=event["batch"], loss=event["loss"], rate=event["tokens_per_s"])
        elif kind == "epoch":
            metrics = "  ".join(f"{k} {event[k]:.3f}" for k in self.metric_names if k in event)
            star = " [green]*best[/]" if event.get("improved") else ""
            console.print(
                f"epoch {event['epoch']}: train loss {event['train_loss']:.3f}  {metrics}  "
                f"{event['tokens_per_s']:,.0f} tok/s  {event['elapsed_s']:.0f}s{star}"
            )
