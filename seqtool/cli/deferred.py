"""Stand-ins for two rich modules that Typer's help formatter imports but seqtool never uses.

``typer.rich_utils`` (imported to print any ``--help``) imports ``rich.markdown`` and ``rich.traceback`` at
module level, and behind them markdown-it and pygments: about a third of the time `seqtool --help` takes
(``python -X importtime``; docs/benchmarks.md). seqtool needs neither: its markup mode is ``"rich"``, not
``"markdown"``, and Typer's pretty tracebacks are off (errors are one line, see :mod:`seqtool.cli`).

:func:`defer` puts a small module in ``sys.modules`` in place of each. Whatever touches it for real
(constructing the class, a class attribute such as ``Traceback.from_exception``, any other name of the module)
imports the real module then and there and gets the real object, so nothing behaves differently: it is only
later. A module already imported is left alone.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def _stand_in(module: str, name: str) -> types.ModuleType:
    stub = types.ModuleType(module)

    def load() -> types.ModuleType:
        if sys.modules.get(module) is stub:
            del sys.modules[module]
        return importlib.import_module(module)

    class Deferred(type):
        """The class's stand-in: calls, attributes and isinstance go to the real class."""

        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            return getattr(load(), name)(*args, **kwargs)

        def __getattr__(cls, attr: str) -> Any:
            return getattr(getattr(load(), name), attr)

        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, getattr(load(), name))

    def other_name(attr: str) -> Any:  # PEP 562: any other name of the module loads it
        if attr.startswith("__"):  # what the import system asks a module (``__path__``...): not the real one
            raise AttributeError(attr)
        return getattr(load(), attr)

    setattr(stub, name, Deferred(name, (), {"__module__": module}))
    stub.__getattr__ = other_name  # type: ignore[method-assign]
    return stub


def defer() -> None:
    """Install the stand-ins for the modules of :data:`DEFERRED` not imported yet."""
    import rich

    for module, name in DEFERRED.items():
        if module not in sys.modules:
            stub = _stand_in(module, name)
            sys.modules[module] = stub
            setattr(rich, module.rpartition(".")[2], stub)
