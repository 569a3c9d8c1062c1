"""What a model kind is: one object per kind (lm, mt, dialog, embeddings, and any a plugin adds).

A :class:`ModelKind` answers every question the rest of seqtool has about a kind of model folder, so
that no code outside :mod:`seqtool.tasks.kinds` asks "which kind is this?": which files a folder of
it holds, how its network is built from ``config.json`` and loaded, which languages it works in,
whether CTranslate2 can run it, whether it can be compressed, how the server pools its requests and
what a generic ``predict`` returns. A new kind subclasses it, fills in what differs from the
defaults, and registers an instance (:func:`seqtool.tasks.kinds.register_kind`).

Kinds are light objects: whatever needs torch or a model module is imported inside the method that
uses it, so listing models or starting the server costs nothing extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtool.errors import OptionError, WorkspaceError
from seqtool.store.workspace import ModelDir, Workspace

WEIGHTS = "model.safetensors"


def tokenizer_file(where: Path, tok_cfg: Any, label: str) -> str:
    """The file a tokenizer entry of config.json names, checked to be a plain name in the folder."""
    from seqtool.data.tokenizers import TOKENIZER_KINDS

    if not isinstance(tok_cfg, dict) or tok_cfg.get("kind") not in TOKENIZER_KINDS:
        raise WorkspaceError(f"{where}: {label} needs a 'kind' among {', '.join(TOKENIZER_KINDS)}")
    return plain_name(where, tok_cfg.get("file"), f"{label}.file")


def plain_name(where: Path, file: Any, label: str) -> str:
    """A file name inside the model folder: no separators, no '..', not hidden."""
    if not isinstance(file, str) or not file or Path(file).name != file or file.startswith("."):
        raise WorkspaceError(f"{where}: {label} must be a file name inside the model folder, got {file!r}")
    return file


def check_options(options: dict[str, Any], allowed: tuple[str, ...], command: str) -> None:
    """A one-line error for an option ``command`` does not have, naming the nearest one that it has."""
    import difflib

    for key in options:
        if key not in allowed:
            near = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise OptionError(f"{command} has no option {key!r}; {hint}options: {', '.join(allowed)}")


class ModelKind:
    """The defaults describe a neural model with one tokenizer (the "tokenizer" section) and
    ``model.safetensors``; see the module docstring."""

    name: str = ""  # config.json "kind", and the key of the workspace default
    title: str = ""  # what a person calls it: "language model", "translator"
    train_command: str = ""  # how to make one, for "no model" errors
    required_keys: tuple[str, ...] = ("kind", "arch", "model", "tokenizer")  # config.json keys `models import` needs
    tokenizer_sections: tuple[tuple[str, str], ...] = (("tokenizer", "tokenizer"),)  # (config path, label)
    has_weights: bool = True  # model.safetensors holds a torch model built by :meth:`build`
    compressible: bool = False  # `seqtool compress` knows how to measure it
    pools_requests: bool = False  # the server gathers concurrent requests into one batch (translators)
    reads_source: bool = False  # scores and predicts given a source (a translator), not text alone
    has_engines: bool = False  # runs on torch and, once exported, on CTranslate2 (`models` lists the engines)

    # ----- identity
    @property
    def hint(self) -> str:
        return f"train one with `{self.train_command}` or run `seqtool demo`"

    def languages(self, cfg: dict[str, Any]) -> list[str]:
        """The languages the model reads and writes, as `/api/models` reports them."""
        return [str((cfg.get("tokenizer") or {}).get("lang", ""))]

    # ----- the folder
    def tokenizer_configs(self, cfg: dict[str, Any]) -> list[tuple[str, Any]]:
        """(label, config entry) of each tokenizer the folder holds."""
        out = []
        for path, label in self.tokenizer_sections:
            entry: Any = cfg
            for key in path.split("."):
                entry = entry.get(key) if isinstance(entry, dict) else None
            out.append((label, entry))
        return out

    def files(self, folder: Path, cfg: dict[str, Any]) -> list[str]:
        """The files the config names (tokenizers, weights), each checked to be a plain name."""
        where = folder / "config.json"
        named = [tokenizer_file(where, entry, path) for (path, _), (_, entry) in
                 zip(self.tokenizer_sections, self.tokenizer_configs(cfg), strict=True)]  # fmt: skip
        return named + ([WEIGHTS] if self.has_weights else [])

    # ----- training
    def train(self, ws: Workspace, name: str | None, options: dict[str, Any], *, device: str = "auto",
              resume: bool = False, threads: int = 1, progress: Any = None) -> tuple[str, Any]:  # fmt: skip
        """Train a model of this kind from ``options`` (the kind's training options by name, None or absent:
        the default) as `seqtool train KIND` does; returns (model name, TrainResult)."""
        raise OptionError(f"{self.name} models are trained with `{self.train_command}`")

    # ----- the network
    def build(self, cfg: dict[str, Any]) -> Any:
        """The untrained network that ``cfg`` (the whole config.json) describes, its settings validated."""
        raise NotImplementedError(f"the {self.name} kind builds no torch model")

    def vocab_sizes(self, cfg: dict[str, Any], model: Any) -> list[int]:
        """The vocabulary size the model expects of each tokenizer, in :meth:`tokenizer_configs` order."""
        return [int(model.cfg.vocab_size)]

    def load(self, ws: Workspace, name: str | None, device: str = "auto", engine: str = "torch", **options: Any) -> Any:
        """The trained model ``name`` (default: the workspace's) ready for use, on seqtool's torch engine
        unless ``engine`` says otherwise ("auto": an exported CTranslate2 copy where the kind has one)."""
        raise NotImplementedError

    def check_loadable(self, md: ModelDir, cfg: dict[str, Any], staging: Workspace | None) -> None:
        """Extra checks of an imported folder (the weights are checked against :meth:`build` already)."""

    # ----- engines, compression, serving
    def engines(self, folder: Path) -> list[str]:
        """The engines a model folder of this kind runs on (empty for kinds without a choice)."""
        if not self.has_engines:
            return []
        from seqtool.engines import exported_engines

        return ["torch", *exported_engines(folder)]

    def export_problem(self, name: str, cfg: dict[str, Any]) -> str | None:
        """Why CTranslate2 cannot run this model (None: it can)."""
        return (
            f"model {name!r} is a {self.name} model; only Transformer translators and language models can be exported"
        )

    def positions(self, model: Any) -> Any:
        """The sinusoidal position table an export copies (exportable kinds only)."""
        raise OptionError(f"{self.name} models cannot be exported")

    def ct2_spec(self, model: dict[str, Any], weights: dict[str, Any], vocabs: list[list[str]], positions: Any) -> Any:
        """The CTranslate2 model spec of the "model" section, fp32 numpy ``weights`` and vocabularies."""
        raise OptionError(f"{self.name} models cannot be exported")

    def measure(self, loaded: Any, src: Path | None, ref: Path | None, beam: int, limit: int) -> dict[str, Any]:
        """Speed and quality on dev data, for `seqtool compress` (compressible kinds only)."""
        raise OptionError(f"compress works on lm and mt models, not on {self.name} models")

    def check_score_inputs(self, name: str, with_sources: bool) -> None:
        """Before any file is read: a one-line error when `seqtool score` got the wrong inputs for this kind."""
        raise OptionError(f"model {name!r} is a {self.name} model; score works on translators and language models")

    def score(self, loaded: Any, texts: list[str], sources: list[str] | None) -> list[Any]:
        """Forced decoding (`seqtool score`): each text's :class:`~seqtool.tasks.scoring.Scored`, given
        its source where the kind reads one (:attr:`reads_source`)."""
        raise OptionError(f"{self.name} models do not score text")

    def predict(self, loaded: Any, text: str, **options: Any) -> Any:
        """What the model says about one input: a JSON-ready value (`seqtool predict`, `POST /api/predict`)."""
        raise OptionError(f"{self.name} models have no predict")
