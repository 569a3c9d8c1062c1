"""Language-model cells: the settings every cell shares, and the registry of cells.

Each cell (``--cell``) is a ``@dataclass`` subclass of :class:`LMConfig` that adds its own settings
(the VAE's latent size lives with the VAE, the WaveNet's kernel with the WaveNet), validates them,
and builds its model; it registers itself with :func:`register_cell`. A model's ``config.json``
"model" section is such a dataclass (:func:`lm_config` reads it back), and train-lm's options and
their defaults come from the same dataclasses, so no default is written twice.

This module imports no torch: the CLI reads it to check options before anything heavy is loaded.
Adding a cell is one file (docs/extending.md): a config class, a :class:`~seqtool.models.base.SequenceModel`,
``@register_cell("name")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from seqtool.errors import SettingError, check_settings_positive

CELLS: dict[str, type[LMConfig]] = {}  # cell name -> its config class; filled by register_cell


def register_cell(*names: str) -> Callable[[type[LMConfig]], type[LMConfig]]:
    """Class decorator: the config class is the cell(s) ``names`` (one class may serve several)."""

    def register(cls: type[LMConfig]) -> type[LMConfig]:
        for name in names:
            CELLS[name] = cls
        return cls

    return register


@dataclass
class LMConfig:
    """The settings every language model has (a cell's config adds its own)."""

    vocab_size: int = 10000
    cell: str = "lstm"  # the registered cell: rnn | lstm | gru | transformer | wavenet | vae | a plugin's
    layers: int = 2
    emb_dim: int = 256
    hidden: int = 256  # recurrent state size (a Transformer uses emb_dim as its width)
    dropout: float = 0.3
    tie_weights: bool = True  # share the input embedding with the output layer (Press & Wolf 2017)

    # The default training recipe of tasks/lm.py this cell gets: "adam" (sentence batches, Adam, plateau
    # schedule), "adam_linear" (the same, decayed linearly to 0 over the budget) or "stream_sgd".
    recipe: ClassVar[str] = "adam"
    exportable: ClassVar[bool] = False  # CTranslate2 can run it (seqtool export)

    def build(self) -> Any:
        """The untrained model (a :class:`~seqtool.models.base.SequenceModel`)."""
        raise NotImplementedError

    def validate(self) -> None:
        check_settings_positive(self, "layers", "emb_dim", "hidden", "vocab_size")
        if not 0 <= self.dropout < 1:
            raise SettingError(f"`dropout` must be in [0, 1), got {self.dropout}")

    def train_recipe(self, optimizer: str | None) -> str:
        """The recipe name (see ``recipe``); ``optimizer``: the one the user asked for, if any."""
        return self.recipe

    def arch_name(self) -> str:
        """config.json "arch": what `seqtool models` shows."""
        return f"{self.cell}-lm"

    def default_name(self) -> str:
        """The model name when none is given (numbered by the caller if taken)."""
        return f"{self.cell}-lm"


def cell_settings() -> set[str]:
    """Every setting of every registered cell (old config.json files hold all of them)."""
    return {f.name for cls in CELLS.values() for f in fields(cls)}


def lm_config(values: dict[str, Any] | None = None, *, given: bool = False, **settings: Any) -> LMConfig:
    """The config of ``values["cell"]`` (default lstm) from a "model" section or from options, validated.

    ``given``: the values are options the user typed, so a setting of another cell is an error naming
    the option; otherwise (a config.json of an older seqtool, which listed every cell's settings) such
    settings are dropped. A setting no cell has is an error either way. ``settings``: more values
    (``lm_config(cell="gru", layers=1)``)."""
    values = {**(values or {}), **settings}
    cell = values.get("cell") or LMConfig.cell
    cls = CELLS.get(cell)
    if cls is None:
        from seqtool.plugins import load_plugins

        cls = CELLS.get(cell) if load_plugins() else None
    if cls is None:
        raise SettingError(f"`cell` must be one of {', '.join(CELLS)}, got {cell!r}")
    own = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - own - (set() if given else cell_settings()))
    if unknown:
        if given:
            raise SettingError(f"`{unknown[0]}` does not apply to `cell` {cell} (its settings: "
                               f"{', '.join(f'`{k}`' for k in sorted(own - {'vocab_size', 'cell'}))})")  # fmt: skip
        raise SettingError(f"unknown model setting(s) {', '.join(unknown[:5])}")
    cfg = cls(**{k: v for k, v in values.items() if k in own and k != "cell"}, cell=cell)
    cfg.validate()
    return cfg
