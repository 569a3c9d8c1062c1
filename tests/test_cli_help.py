"""Help texts survive rich markup: a literal "[default: ...]" must be escaped, or rich eats it as a tag."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer

from seqtool.cli import _register_commands, app
from tests.conftest import run_cli

UNESCAPED_DEFAULT = re.compile(r"(?<!\\)\[default:")


def _commands(command: Any, path: str = "seqtool") -> Iterator[tuple[str, Any]]:
    """Every command and group under ``command`` (Typer's own click copy: duck-typed, no isinstance)."""
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, f"{path} {name}")


def test_no_help_text_has_an_unescaped_default() -> None:
    _register_commands()
    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) > 20  # the walk reached the subcommands
    unescaped = [
        f"{path} {param.name}"
        for path, command in commands
        for param in command.params
        if UNESCAPED_DEFAULT.search(getattr(param, "help", None) or "")
    ]
    assert unescaped == []


def test_help_shows_the_default_text() -> None:
    r = run_cli("train-lm", "--help")
    assert r.returncode == 0, r.stderr
    assert "[default: sample data]" in r.stdout and "[default: ./workspace]" in r.stdout
    assert "\\[default" not in r.stdout


_ONE_COMMAND = """
import sys, typer
from seqtool.cli import _only_command, _register_commands
word = sys.argv[1]
_register_commands(word)
command = typer.main.get_command(_only_command(word)).commands[word]
print(sorted(getattr(command, "commands", None) or {}), [p.name for p in command.params])
"""


def test_each_command_imports_the_modules_that_define_it() -> None:
    """COMMAND_MODULES names, for every command and group, the modules that register it: built from
    those modules alone (a fresh process each), it has the subcommands and options of the whole app."""
    import subprocess
    import sys

    from seqtool.cli import COMMAND_MODULES

    _register_commands()
    whole = typer.main.get_command(app).commands
    assert sorted(COMMAND_MODULES) == sorted(whole)
    runs = {
        word: subprocess.Popen([sys.executable, "-c", _ONE_COMMAND, word], stdout=subprocess.PIPE, text=True)
        for word in COMMAND_MODULES
    }
    for word, proc in runs.items():
        out, _ = proc.communicate(timeout=120)
        command = whole[word]
        expected = f"{sorted(getattr(command, 'commands', None) or {})} {[p.name for p in command.params]}"
        assert (proc.returncode, out.strip()) == (0, expected), word


# Run in a fresh interpreter: the point is what `seqtool --help` imports, and that the deferred rich modules
# behave as the real ones once something uses them.
DEFERRED_CHECK = """
import contextlib, io, sys
from seqtool.cli import run
sys.argv = ["seqtool", "--help"]
with contextlib.redirect_stdout(io.StringIO()) as help_text, contextlib.suppress(SystemExit):
    run()
assert "translate" in help_text.getvalue()
print(sorted(m for m in ("pygments", "markdown_it") if m in sys.modules))
from rich.console import Console
from rich.markdown import Markdown
from rich.traceback import Traceback
console = Console(record=True, width=60, file=io.StringIO())
console.print(Markdown("# Title\\n\\nsome **bold** text"))
try:
    1 / 0
except ZeroDivisionError as exc:
    console.print(Traceback.from_exception(type(exc), exc, exc.__traceback__))
import rich.markdown
print(isinstance(Markdown("x"), rich.markdown.Markdown), "pygments" in sys.modules)
print(console.export_text())
"""


def test_help_leaves_rich_markdown_and_tracebacks_unimported_until_used() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", DEFERRED_CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[]"  # --help printed without pygments or markdown-it
    assert lines[1] == "True True"  # then the real classes: instances check, pygments loaded on use
    rendered = "\n".join(lines[2:])
    assert "Title" in rendered and "some bold text" in rendered  # markdown rendered, markup gone
    assert "ZeroDivisionError" in rendered and "division by zero" in rendered
