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
