"""`seqtool train KIND` and `seqtool predict`: every model kind through one pair of commands.

Each kind (seqtool.tasks.kinds: lm, mt, dialog, embeddings, and any a plugin registers) says what its
training options are and what a prediction returns; these commands only parse ``--set KEY=VALUE`` and
``--config FILE`` (a YAML or JSON mapping of the same keys; --set wins) and print. The kind-specific commands
(train-lm, train-mt, translate...) stay the convenient way for the built-in kinds.
"""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import (
    DeviceOpt,
    JsonOpt,
    ThreadsOpt,
    WorkspaceOpt,
    console,
    print_json,
    setup_torch,
    training_summary,
)

SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="KEY=VALUE (VALUE read as JSON when it parses, else text).")
]


def parse_settings(items: list[str] | None, config: Path | None) -> dict[str, Any]:
    """``--config FILE`` (a YAML or JSON mapping) with every ``--set KEY=VALUE`` on top."""
    from seqtool.errors import OptionError

    values: dict[str, Any] = {}
    if config is not None:
        from seqtool.cli.runfile import read_run_file

        values.update({key.replace("-", "_"): value for key, (value, _) in read_run_file(config).items()})
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"--set {item!r}: expected KEY=VALUE, e.g. --set layers=2")
        key = key.strip().replace("-", "_")
        try:
            values[key] = jsonlib.loads(raw)
        except ValueError:
            values[key] = raw
    return values


@app.command("train", rich_help_panel=panels.START)
def train_cmd(
    kind: Annotated[str, typer.Argument(help="The model kind: lm, mt, or a plugin's (see docs/extending.md).")],
    settings: SetOpt = None,
    config: Annotated[Path | None, typer.Option(help="A YAML or JSON file of options (--set wins).")] = None,
    name: Annotated[str | None, typer.Option(help="Model name \\[default: chosen by the kind].")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the interrupted run of --name.")] = False,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Train a model of any kind from KEY=VALUE options (train-lm / train-mt option names)."""
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.kinds import get_kind

    options = parse_settings(settings, config)
    model_kind = get_kind(kind, "train")
    setup_torch(threads)
    from seqtool.cli.progress import TrainingProgress

    with TrainingProgress((), json=json) as progress:
        trained, result = model_kind.train(Workspace(workspace), name, options, device=device, resume=resume,
                                           threads=threads or 1, progress=progress)  # fmt: skip
    best = result.best or {}
    if json:
        print_json({**training_summary(trained, result), "kind": model_kind.name})
        return
    console.print(f"[bold green]trained {trained}[/] ({model_kind.title}): best {best.get('metric')} "
                  f"{best.get('value', float('nan')):.4g} (epoch {best.get('epoch')})")  # fmt: skip


@app.command("predict", rich_help_panel=panels.START)
def predict_cmd(
    text: Annotated[str, typer.Argument(help="The input: a sentence, a prompt, a word (what the kind reads).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.")],
    settings: SetOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """What any model says about TEXT, as JSON (a translation, next words, neighbours, a reply...)."""
    from seqtool.store.workspace import Workspace, load_model_config
    from seqtool.tasks.kinds import kind_of

    ws = Workspace(workspace)
    model_kind = kind_of(load_model_config(ws, model))
    setup_torch(threads)
    loaded = model_kind.load(ws, model, device)
    print_json({"model": model, "kind": model_kind.name,
                "output": model_kind.predict(loaded, text, **parse_settings(settings, None))})  # fmt: skip
