"""The registry of model kinds: the one place that knows which kinds exist.

Everything that depends on a model's kind asks its :class:`~seqtool.tasks.kinds.base.ModelKind`
(``kind_of(cfg)`` or ``get_kind(name)``); a plugin adds a kind with :func:`register_kind`
(see :mod:`seqtool.plugins` and docs/extending.md).
"""

from __future__ import annotations

from typing import Any

from seqtool.errors import WorkspaceError
from seqtool.tasks.kinds.base import ModelKind
from seqtool.tasks.kinds.dialog import DialogKind
from seqtool.tasks.kinds.embeddings import EmbeddingsKind
from seqtool.tasks.kinds.lm import LMKind
from seqtool.tasks.kinds.mt import MTKind

_KINDS: dict[str, ModelKind] = {k.name: k for k in (LMKind(), MTKind(), EmbeddingsKind(), DialogKind())}
_BUILT_IN = frozenset(_KINDS)


def register_kind(kind: ModelKind) -> ModelKind:
    """Make ``kind`` known (a plugin's; registering a name again replaces it, a built-in's is refused)."""
    if kind.name in _BUILT_IN:
        raise WorkspaceError(f"model kind {kind.name!r} is built in; give the new kind another name")
    _KINDS[kind.name] = kind
    return kind


def find_kind(name: Any) -> ModelKind | None:
    """The kind called ``name``, or None (plugins are loaded before giving up)."""
    if not isinstance(name, str):
        return None
    if name not in _KINDS:
        from seqtool.plugins import load_plugins

        load_plugins()
    return _KINDS.get(name)


def get_kind(name: Any, where: str = "") -> ModelKind:
    """The kind called ``name``, or a one-line error listing the known ones."""
    kind = find_kind(name)
    if kind is None:
        prefix = f"{where}: " if where else ""
        raise WorkspaceError(f"{prefix}'kind' must be one of {', '.join(sorted(_KINDS))}, got {name!r} (a plugin's "
                             "kind needs its plugin: SEQTOOL_PLUGINS, see docs/extending.md)")  # fmt: skip
    return kind


def kind_of(cfg: dict[str, Any], where: str = "") -> ModelKind:
    """The kind of a model's config.json."""
    return get_kind(cfg.get("kind"), where)


def all_kinds() -> list[ModelKind]:
    find_kind("")  # loads the plugins
    return list(_KINDS.values())


__all__ = ["ModelKind", "all_kinds", "find_kind", "get_kind", "kind_of", "register_kind"]
