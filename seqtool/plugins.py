"""Plugins: modules that register their own model kinds, LM cells or decoding strategies.

seqtool imports them the first time a registry is asked for a name it does not know, so a plugin
costs nothing until it is used. Two ways to name them:

- ``SEQTOOL_PLUGINS``: module names or ``.py`` files, separated by commas
  (``SEQTOOL_PLUGINS=my_cells,./tests/plugins/reverse_kind.py``);
- the ``seqtool.plugins`` entry-point group of an installed package (``[project.entry-points."seqtool.plugins"]``
  in its pyproject.toml: ``name = "package.module"``).

A plugin that cannot be imported is a one-line error naming it (exit 2), not a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from seqtool.errors import OptionError, one_line

_loaded = False


def plugin_names() -> list[str]:
    """What ``SEQTOOL_PLUGINS`` and the installed entry points name, in that order."""
    names = [n.strip() for n in os.environ.get("SEQTOOL_PLUGINS", "").split(",") if n.strip()]
    from importlib.metadata import entry_points

    names += [ep.value for ep in entry_points(group="seqtool.plugins")]
    return names


def load_plugins() -> bool:
    """Import every plugin once; returns whether any was imported by this call."""
    global _loaded
    if _loaded:
        return False
    _loaded = True
    names = plugin_names()
    for name in names:
        _import(name)
    return bool(names)


def _import(name: str) -> None:
    try:
        if name.endswith(".py"):
            path = Path(name).resolve()
            module_name = f"seqtool_plugin_{path.stem}"
            if module_name in sys.modules:
                return
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None or not path.is_file():
                raise OptionError(f"SEQTOOL_PLUGINS: {name}: no such file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        else:
            importlib.import_module(name)
    except OptionError:
        raise
    except Exception as e:  # a broken plugin must not look like a seqtool bug
        raise OptionError(f"plugin {name}: cannot be imported ({one_line(e)}); fix it or remove it from "
                          "SEQTOOL_PLUGINS") from None  # fmt: skip
