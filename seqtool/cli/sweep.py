"""`seqtool sweep`: search a training command's options on a time budget (Optuna; see seqtool.tasks.sweep)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import JsonOpt, WorkspaceOpt, console, err_console, print_json
from seqtool.machine import usable_cores

# What each sweepable command is judged by (its dev metric, and the direction that is better), and the
# options every trial gets. Word vectors have no per-epoch dev metric: a finished model is evaluated.
TARGETS: dict[str, dict[str, Any]] = {
    "train-mt": dict(metric="dev_bleu", maximize=True, fixed={"tune_decoding": False}),
    "train-lm": dict(metric="dev_ppl", maximize=False),
    "train-dialog": dict(metric="dev_ppl", maximize=False),
    "embed": dict(
        metric="accuracy", maximize=True, evaluate=("evaluate", "analogy"), per_epoch=False, budget_option=None
    ),
}
SET_BY_THE_SWEEP = frozenset({"name", "max_minutes", "threads", "workspace"})


def target_command(command: str) -> Any:
    """The click command of a sweepable training command."""
    from seqtool.cli import _register_commands

    _register_commands(command)
    group = typer.main.get_command(app)
    return group.commands[command]  # type: ignore[attr-defined]


def _options(ctx: typer.Context) -> dict[str, Any]:
    """The swept command's options a space may draw: name -> OptionInfo (kind and value check)."""
    from seqtool.cli.runfile import option_names
    from seqtool.tasks.sweep_space import OptionInfo

    def info(param: Any) -> OptionInfo:
        kind = {"integer": "int", "int": "int", "float": "float"}.get(getattr(param.type, "name", ""), "other")

        def check(value: Any) -> Any:
            try:
                return param.type_cast_value(ctx, value)
            except typer.BadParameter as e:
                raise ValueError(e.message) from None

        return OptionInfo(kind, check)

    return {name: info(p) for name, p in option_names(ctx.command).items() if name not in SET_BY_THE_SWEEP}


@app.command("sweep", rich_help_panel=panels.EXP)
def sweep_cmd(
    this: typer.Context,
    command: Annotated[str, typer.Argument(help="The training command: train-mt, train-lm, train-dialog or embed.")],
    name: Annotated[str, typer.Option(help="The sweep's name (its trials are NAME-t000, NAME-t001...).")],
    space: Annotated[
        Path | None,
        typer.Option(
            help="Search space (YAML): option -> {low, high[, log, step]} or a list \\[--resume: kept].",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Base run file: the options every trial starts from \\[--resume: kept].",
            show_default=False,
        ),
    ] = None,
    trials: Annotated[int, typer.Option(help="Trials in all (a resumed sweep counts those it has).")] = 20,
    budget_minutes: Annotated[float, typer.Option(help="Wall-clock budget of the whole sweep.")] = 120.0,
    trial_minutes: Annotated[float, typer.Option(help="Training budget of one trial (--max-minutes).")] = 10.0,
    pruner: Annotated[str, typer.Option(help="median, hyperband or none: stop trials behind the others.")] = "median",
    jobs: Annotated[int, typer.Option(help="Trials at once.")] = 1,
    threads: Annotated[
        int | None, typer.Option(help="torch threads per trial \\[default: the cores / --jobs].", show_default=False)
    ] = None,
    direction: Annotated[
        str | None, typer.Option(help="maximize or minimize \\[default: what the command's dev metric needs].")
    ] = None,
    questions: Annotated[
        Path | None, typer.Option(help="embed: analogy questions scoring each trial \\[default: gensim's English].")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL shared by several machines \\[default: SQLite in the sweep].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampler (TPE).")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue the sweep NAME where it stopped.")] = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Search a training command's options for the best dev metric on a time budget (Optuna, pruning).

    Each trial is an ordinary training run in the workspace; the study, the trials' run files, the best
    run file (best.yaml) and a summary live in WORKSPACE/sweeps/NAME; pictures in the workspace's figures."""
    from seqtool.cli.runfile import file_defaults, read_run_file
    from seqtool.errors import OptionError
    from seqtool.store.workspace import Workspace, validate_name
    from seqtool.tasks.sweep import Sweep, SweepSettings, SweepTarget, summarize, sweep_figures, sweep_folder
    from seqtool.tasks.sweep_space import parse_space

    if command not in TARGETS:
        raise OptionError(f"cannot sweep {command!r}: choose one of {', '.join(TARGETS)}")
    validate_name(name)
    ws = Workspace(workspace)
    folder = sweep_folder(ws, name)
    if folder.exists() and not resume:
        raise OptionError(f"sweep {name!r} exists in {ws.root}; --resume continues it, or choose another --name")
    if resume and not (folder / "space.yaml").exists():
        raise OptionError(f"no sweep {name!r} to resume in {ws.root}")
    if resume:  # the files the sweep started with, unless new ones are given
        space = space or folder / "space.yaml"
        config = config or (folder / "base.yaml" if (folder / "base.yaml").exists() else None)
    if space is None:
        raise OptionError("give the search space: --space FILE (see `seqtool sweep --help`)")
    kept = _kept_settings(this, folder, resume)
    trials, budget_minutes, trial_minutes, pruner = (
        kept[k] for k in ("trials", "budget_minutes", "trial_minutes", "pruner")
    )
    jobs, seed, direction, questions = kept["jobs"], kept["seed"], kept["direction"], kept["questions"]
    questions = None if questions is None else Path(questions)
    settings = SweepSettings(trials=trials, budget_minutes=budget_minutes, trial_minutes=trial_minutes, jobs=jobs,
                             threads=kept["threads"] or max(1, usable_cores() // jobs), pruner=pruner, seed=seed,
                             storage=storage)  # fmt: skip
    settings.validate()
    spec = dict(TARGETS[command])
    if direction is not None:
        if direction not in ("maximize", "minimize"):
            raise OptionError(f"--direction must be maximize or minimize, got {direction!r}")
        spec["maximize"] = direction == "maximize"
    if questions is not None:
        spec["evaluate"] = (*spec.get("evaluate", ()), "--questions", str(questions.resolve()))
    target = SweepTarget(command=command, **spec)
    # Everything is checked against the swept command's own options before anything is written.
    ctx = typer.Context(target_command(command), info_name=command)
    base = file_defaults(ctx, config) if config is not None else {}
    base = {k: str(Path(v).resolve()) if _is_path(ctx, k) else v for k, v in base.items()}
    dims = parse_space(read_run_file(space, "--space"), space, _options(ctx))
    ws.ensure_writable()
    sweep = Sweep(ws, name, target, base, dims, settings)
    if not resume:
        from seqtool.files import atomic_write_json, atomic_write_text
        from seqtool.tasks.sweep import dump_run_file

        folder.mkdir(parents=True)
        atomic_write_json(folder / "settings.json", {k: str(v) if isinstance(v, Path) else v for k, v in kept.items()})
        atomic_write_text(folder / "space.yaml", space.read_text(encoding="utf-8"))
        if config is not None:
            atomic_write_text(folder / "base.yaml", dump_run_file(base))
    if not json:
        console.print(f"sweep [bold]{name}[/]: {command}, {trials} trials, {budget_minutes:g} min budget, "
                      f"{trial_minutes:g} min per trial, {pruner} pruner; study in {sweep.storage_url()}")  # fmt: skip
        for d in dims:
            console.print(f"  {d.flag}: {d.describe()}", style="dim")
    try:
        study = sweep.run(resume, progress=lambda e: None if json else _show(e))
    except KeyboardInterrupt:
        from seqtool.errors import TrainingInterrupted

        raise TrainingInterrupted(f"sweep {name!r} interrupted; `seqtool sweep {command} --name {name} "
                                  f"--resume` continues it") from None  # fmt: skip
    summary = summarize(study, target)  # sweep.run wrote it to summary.json already
    figures = sweep_figures(study, summary, ws.figures_dir)
    if json:
        print_json({**summary, "folder": str(folder), "figures": [str(f) for f in figures]})
        return
    _table(summary)
    if summary["best"] is not None:
        console.print(f"[bold green]best[/]: trial {summary['best']['number']} ({summary['best']['model']}), "
                      f"{summary['metric']} {summary['best']['value']:.4g}; its run file: {folder / 'best.yaml'}")  # fmt: skip
    for f in figures:
        console.print(f"figure: {f}", style="dim")


KEPT = ("trials", "budget_minutes", "trial_minutes", "pruner", "jobs", "threads", "seed", "direction", "questions")


def _kept_settings(this: typer.Context, folder: Path, resume: bool) -> dict[str, Any]:
    """The sweep's settings (KEPT): as given; on --resume, those not given are the ones it started with."""
    import json

    values = {k: this.params[k] for k in KEPT}
    if resume and (folder / "settings.json").exists():
        stored = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
        for k in KEPT:
            source = this.get_parameter_source(k)
            if k in stored and (source is None or source.name == "DEFAULT"):
                values[k] = stored[k]
    return values


def _is_path(ctx: typer.Context, name: str) -> bool:
    param = next((p for p in ctx.command.params if p.name == name), None)
    return param is not None and getattr(param.type, "name", "") == "path"


def _show(event: dict[str, Any]) -> None:
    if event["event"] == "trial":
        params = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in event["params"].items())
        err_console.print(f"trial {event['number']} ({event['model']}): {params}", style="dim")
    elif event["event"] == "trial_done":
        value = "" if event["value"] is None else f" {event['value']:.4g}"
        error = f": {event['error']}" if event.get("error") else ""
        err_console.print(f"trial {event['number']}: {event['state']}{value}{error}")
    elif event["event"] == "status":
        err_console.print(event["message"], style="dim")


def _table(summary: dict[str, Any]) -> None:
    names = sorted({k for t in summary["trials"] for k in t["params"]})
    table = Table(title=f"sweep {summary['study']}: {summary['metric']} ({summary['direction']})")
    for col in ("#", "state", summary["metric"], "epochs", "s", *names):
        table.add_column(col, justify="right")
    best = (summary["best"] or {}).get("number")
    for t in summary["trials"]:
        row = [str(t["number"]) + (" *" if t["number"] == best else ""), t["state"],
               "" if t["value"] is None else f"{t['value']:.4g}", str(t["epochs"] or ""), str(t["seconds"] or "")]  # fmt: skip
        row += [f"{t['params'][n]:.4g}" if isinstance(t["params"].get(n), float) else str(t["params"].get(n, ""))
                for n in names]  # fmt: skip
        table.add_row(*row)
    console.print(table)
