"""The `seqtool` command line: a Typer app whose command modules are thin wrappers over the library.

Errors: a :class:`~seqtool.errors.SeqtoolError` becomes ``error: <message>`` on stderr and exit
code 2; usage errors (bad option values) exit 2 as well; anything unexpected is an internal
error, exit 1, with the traceback only under ``--debug`` (or ``SEQTOOL_DEBUG=1``).
"""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import sys

import typer
from rich.markup import escape

from seqtool.cli import app as _app_module
from seqtool.cli import deferred
from seqtool.cli.common import err_console

app = _app_module.app
deferred.defer()  # rich modules Typer's help imports and seqtool never uses (see the module)

# errno values that describe the machine (disk full, quota, permissions, read-only file system).
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


# The modules that define each command or group. Running one command imports only its modules: the
# other dozen and a half cost a one-sentence `translate` tens of milliseconds (docs/benchmarks.md).
# A name missing here still works (every module is imported); tests/test_cli_help.py checks the table.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "demo": ("demo",),
    "train": ("generic",),
    "predict": ("generic",),
    "serve": ("serve",),
    "train-lm": ("lm",),
    "predict-next": ("lm",),
    "generate": ("lm",),
    "train-dialog": ("dialog",),
    "respond": ("dialog",),
    "chat": ("dialog",),
    "vae": ("vae",),
    "train-mt": ("mt",),
    "tune-decoding": ("mt",),
    "translate": ("mt",),
    "distill": ("distill",),
    "embed": ("embed",),
    "similar": ("embed",),
    "analogy": ("embed",),
    "evaluate": ("mt", "lm", "embed", "dialog"),
    "score": ("score",),
    "plot": ("plots_cmd", "embed"),
    "models": ("models", "models_import", "compare"),
    "data": ("data", "data_fetch", "data_prepare"),
    "compress": ("compress",),
    "export": ("export",),
    "experiment": ("experiment",),
    "sweep": ("sweep",),
}


def _register_commands(word: str | None = None) -> None:
    """Import the modules of command ``word`` (COMMAND_MODULES), or every command module for None or
    an unknown name; each module adds its commands to the app or one of its groups."""
    import importlib
    import pkgutil

    names = COMMAND_MODULES.get(word or "")
    if names is None:
        names = tuple(i.name for i in pkgutil.iter_modules(__path__) if i.name not in ("app", "common", "panels"))
    for name in names:
        importlib.import_module(f"seqtool.cli.{name}")


def _command_word(args: list[str]) -> str | None:
    """The command (or group) named on the command line, after the global options; None for none."""
    i = 0
    while i < len(args):
        if args[i] in ("-w", "--workspace"):
            i += 2
        elif args[i].startswith("--workspace="):
            i += 1
        else:
            return None if args[i].startswith("-") else args[i]
    return None


def _only_command(word: str | None) -> typer.Typer:
    """The app with only the command or group ``word``, when one has that name; else the whole app.

    Typer builds every command's parameters from its signature before it runs one: for 36 commands
    that was a third of a one-sentence `translate`'s start-up. Help and unknown names get the whole app."""
    commands = [
        c for c in app.registered_commands if (c.name or typer.main.get_command_name(c.callback.__name__)) == word
    ]
    groups = [g for g in app.registered_groups if g.name == word]
    if not commands and not groups:
        return app
    only = copy.copy(app)  # the module's app stays whole: tests call main() many times in one process
    only.registered_commands, only.registered_groups = commands, groups
    return only


def _in_panel_order(command: typer.core.TyperGroup) -> None:
    """List the commands of `seqtool --help` panel by panel (seqtool.cli.panels.ORDER), keeping each
    panel's commands in registration order; a command without a panel comes first."""
    from seqtool.cli.panels import ORDER

    rank = {panel: i for i, panel in enumerate(ORDER)}
    items = sorted(command.commands.items(), key=lambda kv: rank.get(getattr(kv[1], "rich_help_panel", None), -1))
    command.commands = dict(items)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("SEQTOOL_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    word = _command_word(args)
    _register_commands(word)
    command = typer.main.get_command(_only_command(word))
    _in_panel_order(command)
    from seqtool.errors import SeqtoolError

    try:
        # standalone mode: click itself reports usage errors (exit 2), --help, Ctrl-C (exit 1) and exits
        command.main(args=args, prog_name="seqtool", standalone_mode=True)
    except SeqtoolError as e:
        if debug:
            raise
        # An interruption (exit 130) is not an error: its message says how to resume.
        prefix = "" if e.exit_code == 130 else "[bold red]error:[/] "
        err_console.print(f"{prefix}{escape(str(e))}", markup=True, soft_wrap=True)
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # noqa: BLE001 - the one place that turns surprises into a message
        if debug:
            raise
        if isinstance(e, OSError) and e.errno in _ENVIRONMENT_ERRNOS:
            # A write the atomic helpers did not wrap (a log line, a library's own file): still the
            # user's disk or permissions, not a bug.
            where = f"{e.filename}: " if e.filename else ""
            err_console.print(f"[bold red]error:[/] {where}{e.strerror}", markup=True, soft_wrap=True)
            sys.exit(2)
        err_console.print(
            f"[bold red]internal error:[/] {type(e).__name__}: {e} (run again with --debug for the traceback)",
            markup=True,
            soft_wrap=True,
        )
        sys.exit(1)


# Commands that train (or run trainings): started with tcmalloc preloaded where the machine has it.
TRAINING_COMMANDS = frozenset(
    {"demo", "train", "train-lm", "train-dialog", "vae", "train-mt", "distill", "compress", "experiment"}
)
ALLOCATOR_ENV = "SEQTOOL_ALLOCATOR"  # auto (default): tcmalloc for training when installed; system: never


def _restart_with_tcmalloc(args: list[str]) -> None:
    """Run this same command line again, in this same process (exec), with tcmalloc preloaded.

    The allocator has to be in place before the first malloc, so it cannot be switched on from inside
    Python: like torch's own CPU launcher (``torch.backends.xeon.run_cpu --enable-tcmalloc``), seqtool
    sets ``LD_PRELOAD`` and starts again. Only for the training commands, only where a tcmalloc library is
    installed, once (the restarted process has SEQTOOL_ALLOCATOR=tcmalloc), never on request
    (SEQTOOL_ALLOCATOR=system). The price is one interpreter start-up, about 0.05 s."""
    from seqtool.machine import find_tcmalloc

    choice = os.environ.get(ALLOCATOR_ENV, "auto")
    if choice != "auto" or _command_word(args) not in TRAINING_COMMANDS or not sys.platform.startswith("linux"):
        return
    library = find_tcmalloc()
    if library is None or "tcmalloc" in os.environ.get("LD_PRELOAD", ""):
        return
    preload = " ".join(p for p in (library, os.environ.get("LD_PRELOAD", "")) if p)
    env = {**os.environ, "LD_PRELOAD": preload, ALLOCATOR_ENV: "tcmalloc"}
    with contextlib.suppress(OSError):  # cannot exec: go on with the C library's malloc
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def run() -> None:
    """The `seqtool` executable: :func:`main`, then a quick exit.

    Once torch is imported, the interpreter's normal shutdown (tearing down thousands of modules
    and objects) takes about 0.4 s on a small CPU: a fifth of a one-sentence `translate`. Every
    file seqtool writes is closed (atomically renamed) before main() returns, so the process
    flushes its standard streams and leaves without that teardown. (main() itself exits normally:
    the tests call it in-process.)
    """
    _restart_with_tcmalloc(sys.argv[1:])
    try:
        main()
        code: object = 0
    except SystemExit as e:
        code = e.code
    if "torch" not in sys.modules or not isinstance(code, int | None):
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code or 0)
