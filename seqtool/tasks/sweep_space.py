"""The search space of a sweep: which options a trial draws, and from what.

A space file (YAML or JSON) names options of the swept command, each with a range or a list of choices::

    lr: {low: 5.0e-4, high: 5.0e-3, log: true}   # a rate: drawn on a log scale
    warmup: {low: 100, high: 800, step: 100}     # an integer option: integers
    dropout: {low: 0.0, high: 0.3}
    label-smoothing: [0.0, 0.1, 0.2]             # a list: one of these
    layers: {choices: [2, 3, 4]}                 # the same, spelled out

Whether a range gives integers or floats follows the option's own type (``--warmup`` takes an integer),
so a space cannot ask for 2.5 layers. Everything is checked before a sweep starts, against the command's
options (their names and types): an unknown option (with the nearest one), an empty range, a log range
with a bound <= 0, an empty list, a value the option would refuse.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtool.errors import OptionError, nearest_hint

RANGE_KEYS = frozenset({"low", "high", "log", "step"})


@dataclass(frozen=True)
class OptionInfo:
    """What the space needs to know of one option of the swept command."""

    kind: str  # "int", "float" or "other" (text, flags: choices only)
    check: Callable[[Any], Any]  # converts a value as the command would, raising ValueError when it refuses it


@dataclass(frozen=True)
class Dimension:
    """One option a trial draws: a range (``low``..``high``, ``log``, ``step``) or ``choices``."""

    name: str  # the option's parameter name (dev_src)
    kind: str  # "int", "float" or "categorical"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    @property
    def flag(self) -> str:
        return self.name.replace("_", "-")

    def suggest(self, trial: Any) -> Any:
        """The value of this option for an Optuna trial."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.flag, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.flag, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.flag, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> str:
        if self.kind == "categorical":
            return " | ".join(map(str, self.choices))
        scale = ", log" if self.log else ""
        step = f", step {self.step:g}" if self.step else ""
        return f"{self.low:g} .. {self.high:g}{scale}{step}"


def parse_space(entries: dict[str, tuple[Any, int]], where: Path, options: dict[str, OptionInfo]) -> list[Dimension]:
    """The dimensions of a space file (``entries``: key -> (value, line), as read by the run-file reader)."""
    dims = []
    for key, (spec, line) in entries.items():
        at = f"{where}:{line}: {key}"
        name = key.replace("-", "_")
        if name not in options:
            hint = nearest_hint(name, options)
            raise OptionError(f"{at}: the swept command has no such option, or a sweep sets it itself{hint}")
        dims.append(_dimension(name, spec, options[name], at))
    if not dims:
        raise OptionError(f"{where}: the space names no option to search over")
    return dims


def _dimension(name: str, spec: Any, info: OptionInfo, at: str) -> Dimension:
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict):
        raise OptionError(f"{at}: give a range {{low: A, high: B}} or a list of choices, got {spec!r}")
    if "choices" in spec:
        extra = set(spec) - {"choices"}
        if extra:
            raise OptionError(f"{at}: choices take no {', '.join(sorted(extra))}")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise OptionError(f"{at}: choices must be a non-empty list")
        for value in choices:
            _check_value(info, value, at)
        return Dimension(name, "categorical", choices=tuple(choices))
    unknown = set(spec) - RANGE_KEYS
    if unknown:
        raise OptionError(f"{at}: unknown key {sorted(unknown)[0]!r} (a range has low, high, log, step)")
    if "low" not in spec or "high" not in spec:
        raise OptionError(f"{at}: a range needs both low and high")
    if info.kind not in ("int", "float"):
        raise OptionError(f"{at}: this option is not a number; give a list of choices")
    low, high = _number(spec["low"], at, "low"), _number(spec["high"], at, "high")
    log, step = bool(spec.get("log", False)), spec.get("step")
    if not low < high:
        raise OptionError(f"{at}: empty range: low ({low:g}) must be below high ({high:g})")
    if log and low <= 0:
        raise OptionError(f"{at}: a log range needs low > 0, got {low:g}")
    if step is not None:
        step = _number(step, at, "step")
        if step <= 0 or log:
            raise OptionError(f"{at}: step must be > 0, and a log range takes no step")
    if info.kind == "int" and not all(float(v).is_integer() for v in (low, high, step or 1)):
        raise OptionError(f"{at}: this option takes whole numbers; give whole low, high and step")
    for value in (low, high):
        _check_value(info, int(value) if info.kind == "int" else value, at)
    return Dimension(name, info.kind, low=low, high=high, log=log, step=step)


def _number(value: Any, at: str, what: str) -> float:
    try:
        number = float(value)  # YAML reads 1e-3 (no dot) as text: accept it as the command line would
    except (TypeError, ValueError):
        raise OptionError(f"{at}: {what} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise OptionError(f"{at}: {what} must be a finite number, got {value!r}")
    return number


def _check_value(info: OptionInfo, value: Any, at: str) -> None:
    try:
        info.check(value)
    except ValueError as e:
        raise OptionError(f"{at}: {value!r}: {e}") from None
