"""Typed errors. The CLI turns a :class:`SeqtoolError` into one line on stderr and exit code 2."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager


class SeqtoolError(Exception):
    """A problem with the user's input or environment: shown as one line, exit code 2."""

    exit_code = 2


class DataError(SeqtoolError):
    """A corpus file is missing, empty, not UTF-8, or inconsistent with its partner."""


class ModelNotFoundError(SeqtoolError):
    """No model of that name (or kind) in the workspace."""


class WorkspaceError(SeqtoolError):
    """The workspace cannot be written, is locked by another run, or a model folder is invalid."""


class OptionError(SeqtoolError):
    """An option value is out of range or inconsistent with another option."""


class SettingError(OptionError):
    """A model setting (a key of config.json's "model" section) out of range or inconsistent.

    Model code knows its settings, not the command line, so its messages write each setting's key in
    backticks (``"`emb_dim` must be > 0, got 0"``). The layer that maps keys to options renders them as the
    options the user typed (:func:`settings_as_options`; by default ``emb_dim`` is ``--emb-dim``), so a
    library user reads the key and a command-line user reads the flag."""

    def as_options(self, option: Callable[[str], str] | None = None) -> OptionError:
        name = option or as_option
        return OptionError(re.sub(r"`(\w+)`", lambda m: name(m.group(1)), str(self)))


def check_settings_positive(config: object, *names: str) -> None:
    """Raise :class:`SettingError` for the first of ``config``'s settings ``names`` that is not > 0."""
    for name in names:
        if getattr(config, name) <= 0:
            raise SettingError(f"`{name}` must be > 0, got {getattr(config, name)}")


def as_option(key: str) -> str:
    """The command-line option of a setting that shares its name (``emb_dim`` -> ``--emb-dim``)."""
    return f"--{key.replace('_', '-')}"


@contextmanager
def settings_as_options(option: Callable[[str], str] | None = None) -> Iterator[None]:
    """Re-raise a :class:`SettingError` from the block as an :class:`OptionError` naming options:
    ``option(key)`` gives a key's option (default :func:`as_option`)."""
    try:
        yield
    except SettingError as e:
        raise e.as_options(option) from None


def check_positive(name: str, value: float | int, *, allow_zero: bool = False) -> None:
    """Raise :class:`OptionError` unless ``value`` is > 0 (or >= 0 with ``allow_zero``)."""
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise OptionError(f"{name} must be {bound}, got {value}")


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raise :class:`OptionError` unless ``low <= value <= high``."""
    if not low <= value <= high:
        raise OptionError(f"{name} must be between {low} and {high}, got {value}")


class TrainingInterrupted(SeqtoolError):
    exit_code = 130


def one_line(error: BaseException, limit: int = 200) -> str:
    """The first informative line of a (possibly multi-line) library error, for a one-line message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def nearest(word: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The candidate a misspelt ``word`` most likely meant, for "(nearest: ...)" hints: a candidate that
    begins the word or that it begins (``lrate`` -> ``lr``), else the closest by difflib; None if none is close."""
    import difflib

    prefixed = [c for c in candidates if len(c) >= 2 and (word.startswith(c) or c.startswith(word))]
    if prefixed:
        return max(prefixed, key=len)
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return found[0] if found else None


def nearest_hint(word: str, candidates: Iterable[str]) -> str:
    """`` (nearest: NAME)`` for an error message about the unknown ``word``, the name written as an option
    (``dev_src`` -> ``dev-src``); empty when no candidate is close."""
    near = nearest(word, list(candidates))
    return f" (nearest: {near.replace('_', '-')})" if near else ""
