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
