"""Runs as files: ``--config FILE`` for every training command, and the record ``models show --as-config``
prints.

A run file is YAML (or JSON) whose keys are the command's option names, ``dev-src`` or ``dev_src``::

    # enja.yaml: seqtool train-mt --config enja.yaml [--lr 1e-3 ...]
    src: data/train.en
    tgt: data/train.ja
    arch: transformer
    lr: 2.0e-3

Options given on the command line override the file: the file's values become the command's defaults
(click's ``default_map``), so a value is converted and checked exactly as if it had been typed. The
file is read first (``is_eager``), before any other option, so that its errors come first and name the
file, line and key: an unknown key also names the nearest valid one. Relative paths in the file are
taken from the current directory, as on the command line.

A trained model keeps the options it was trained with (config.json "run"): the given ones, plus the
resolved data files and seed. ``seqtool models show NAME --as-config`` writes them back as a run file,
and training from that file repeats the run (same machine, same seed: the same dev metric).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.errors import OptionError, nearest_hint
from seqtool.files import read_yaml, yaml_value

# Options that describe one invocation, not a run: never read from a file.
NOT_IN_FILES = frozenset({"config", "json", "resume"})
# Never recorded in a model's "run" section: re-creating a model gives it a new name (or workspace).
NOT_RECORDED = NOT_IN_FILES | {"name", "workspace"}


def read_run_file(path: Path, option: str = "--config") -> dict[str, tuple[Any, int]]:
    """``{key: (value, line)}`` from a YAML/JSON mapping; keys as written (``option``: what errors call the file)."""
    import yaml

    root = read_yaml(path, option)
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise OptionError(f"{path}: a run file is a mapping of option names to values (key: value lines)")
    out: dict[str, tuple[Any, int]] = {}
    for key_node, value_node in root.value:
        out[str(yaml_value(key_node))] = (yaml_value(value_node), key_node.start_mark.line + 1)
    return out


def option_names(command: Any) -> dict[str, Any]:
    """The options a run file may set, by parameter name (``dev_src``)."""
    return {p.name: p for p in command.params if p.name and p.name not in NOT_IN_FILES}


def file_defaults(ctx: typer.Context, path: Path) -> dict[str, Any]:
    """The run file's values by parameter name, each converted by its option's type (errors name the line)."""
    params = option_names(ctx.command)
    values: dict[str, Any] = {}
    for key, (value, line) in read_run_file(path).items():
        name = key.replace("-", "_")
        where = f"{path}:{line}"
        if name not in params:
            flag = key.replace("_", "-")
            if name in NOT_IN_FILES:
                raise OptionError(f"{where}: {flag} belongs on the command line, not in a run file")
            raise OptionError(f"{where}: {ctx.info_name} has no option {flag!r}{nearest_hint(name, params)}")
        if value is None:
            continue  # "key: null" or "key:" means the default
        if isinstance(value, list | dict):
            raise OptionError(f"{where}: {key} takes one value, got a {type(value).__name__}")
        try:
            params[name].type_cast_value(ctx, value)
        except typer.BadParameter as e:
            raise OptionError(f"{where}: {key}: {e.message}") from None
        values[name] = value
    return values


def _load(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> Path | None:
    if value is not None and not ctx.resilient_parsing:
        ctx.default_map = {**(ctx.default_map or {}), **file_defaults(ctx, value)}
    return value


ConfigFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Run file (YAML or JSON) whose keys are this command's option names; options given on the "
        "command line override it. `seqtool models show NAME --as-config` writes one.",
        is_eager=True,
        callback=_load,
        show_default=False,
    ),
]


def given_options(ctx: typer.Context, resolved: dict[str, Any] | None = None) -> dict[str, Any]:
    """The options of the running command that the user set (command line, run file or environment),
    JSON-ready, with ``resolved`` (data files, seed: what the defaults turned into) on top."""
    out: dict[str, Any] = {}
    for name in option_names(ctx.command):
        if name in NOT_RECORDED:
            continue
        source = ctx.get_parameter_source(name)
        value = ctx.params.get(name)
        if value is None or source is None or source.name == "DEFAULT":
            continue
        out[name] = str(value) if isinstance(value, Path) else value
    for name, value in (resolved or {}).items():
        if value is not None:
            out[name] = str(Path(value).resolve()) if isinstance(value, Path) else value
    return out


@contextlib.contextmanager
def recorded_run(
    ctx: typer.Context, ws: Any, name: str, resume: bool, resolved: dict[str, Any] | None = None
) -> Iterator[None]:
    """Around a new training run: keep the command's options in the model's config.json ("run") when it
    ends, finished or interrupted (a resumed run keeps the record of the run it continues). Rank 0 only."""
    from seqtool import __version__
    from seqtool.cli.common import is_main_process
    from seqtool.errors import TrainingInterrupted

    record = {"command": ctx.info_name, "options": given_options(ctx, resolved), "seqtool": __version__}

    def keep() -> None:
        md = ws.model_dir(name)
        if not resume and is_main_process() and md.config_path.exists() and "run" not in md.config():
            md.update_config(run=record)

    try:
        yield
    except TrainingInterrupted:
        keep()
        raise
    keep()


def as_run_file(cfg: dict[str, Any]) -> str:
    """The YAML that re-creates a model, from its config.json "run" section."""
    from seqtool.tasks.sweep import dump_run_file

    run = cfg.get("run")
    if not isinstance(run, dict) or not isinstance(run.get("options"), dict):
        raise OptionError(
            f"model {cfg.get('name')!r} has no record of its training options (trained before run records, "
            "imported or compressed); only models trained by train-mt, train-lm, train-dialog, embed, vae "
            "or distill have one"
        )
    head = (
        f"# seqtool {run.get('command')} --config FILE  (re-creates model {cfg.get('name')!r};"
        f" written by seqtool {run.get('seqtool', '?')})\n"
    )
    return head + dump_run_file(run["options"])
