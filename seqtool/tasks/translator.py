"""The one place that picks a translator's engine: an exported CTranslate2 copy or seqtool's torch model.

:func:`load_translator` returns an object with the interface of
:class:`seqtool.tasks.mt.LoadedTranslator` (``md``, ``config``, ``src_tok``, ``tgt_tok``,
``joins_output``, ``translate(texts, tokenized=..., beam=..., alpha=..., nbest=..., ...)``) plus
``engine`` ("torch" or "ctranslate2"). This module imports no torch: with an engine present, a
translation never loads it.

``engine="auto"`` uses the preferred export (int8, then int16, then float32) when the folder has
one that matches the current weights, and otherwise the torch model; an export that cannot be used
(stale, corrupt) is reported through ``notify`` in one line and torch translates instead.
Sources longer than the exported position table go to the torch model in auto mode (loaded then).
``engine="ctranslate2"`` turns the same problems into errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seqtool.data.search import Translation
from seqtool.engines import QUANTIZATIONS, engine_dir, file_sha256, read_meta, weights_stamp
from seqtool.errors import OptionError, SeqtoolError, WorkspaceError
from seqtool.files import now_iso
from seqtool.store.workspace import ModelDir, Workspace, config_section

ENGINES = ("auto", "torch", "ctranslate2")


def load_translator(
    ws: Workspace,
    name: str | None,
    device: str = "auto",
    *,
    engine: str = "auto",
    threads: int | None = None,
    workers: int | None = None,
    notify: Callable[[str], None] = lambda message: None,
) -> Any:
    """The translator ``name`` (default: the workspace's) on the engine chosen as described above;
    ``workers``: CTranslate2's parallel batches (default: one per thread)."""
    if engine not in ENGINES:
        raise OptionError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if name is not None and "," in name:
        return load_ensemble(ws, name, device, engine)
    md, cfg = ws.find(name, "mt", hint="train one with `seqtool train-mt` or run `seqtool demo`")
    if engine != "torch":
        tr = _ctranslate2(md, cfg, device, threads, workers, strict=engine == "ctranslate2", notify=notify)
        if tr is not None:
            if engine == "auto":
                tr.fallback = _torch_once(ws, md.name, device)
            return tr
    from seqtool.tasks.mt import load_translator as load_torch_translator

    tr = load_torch_translator(ws, md.name, device)
    tr.engine = "torch"
    return tr


def load_ensemble(ws: Workspace, names: str, device: str = "auto", engine: str = "auto") -> Any:
    """``a,b[,c]``: the translators as one (seqtool.models.ensemble), on torch: their source and target
    vocabularies must be the same (the same tokenizers), since they read one source and agree on each next
    token. A checkpoint ensemble is the same thing: copies of one run's epochs as models of their own."""
    if engine == "ctranslate2":
        raise OptionError("an ensemble runs on seqtool's torch engine (CTranslate2 has no ensembles): use "
                          "--engine torch or auto")  # fmt: skip
    parts = [n.strip() for n in names.split(",")]
    if len(parts) < 2 or not all(parts) or len(set(parts)) != len(parts):
        raise OptionError(f"--model {names!r}: an ensemble is two or more different model names, e.g. a,b")
    from seqtool.models.ensemble import Ensemble
    from seqtool.tasks.mt import load_translator as load_torch_translator

    members = [load_torch_translator(ws, n, device) for n in parts]
    first = members[0]
    for other in members[1:]:
        for side in ("src_tok", "tgt_tok"):
            mine, theirs = getattr(first, side), getattr(other, side)
            same = mine.vocab_size == theirs.vocab_size and all(
                mine.id_to_piece(i) == theirs.id_to_piece(i) for i in range(mine.vocab_size))  # fmt: skip
            if not same:
                which = "source" if side == "src_tok" else "target"
                raise OptionError(f"--model {names}: {other.md.name!r} has another {which} vocabulary than "
                                  f"{first.md.name!r}; an ensemble needs models trained with the same tokenizers")  # fmt: skip
    first.model = Ensemble([m.model for m in members]).eval()
    first.engine = "torch"
    first.members = parts
    return first


def translator_name(tr: Any) -> str:
    """What outputs call a loaded translator: its model's name, or an ensemble's ``a,b``."""
    return ",".join(getattr(tr, "members", None) or [tr.md.name])


def _torch_once(ws: Workspace, name: str, device: str) -> Callable[[], Any]:
    """The torch translator of ``name``, loaded on the first call only."""
    loaded: list[Any] = []

    def get() -> Any:
        if not loaded:
            from seqtool.tasks.mt import load_translator as load_torch_translator

            loaded.append(load_torch_translator(ws, name, device))
        return loaded[0]

    return get


def _ctranslate2(md: ModelDir, cfg: dict[str, Any], device: str, threads: int | None, workers: int | None, *,
                 strict: bool, notify: Callable[[str], None]) -> Any:  # fmt: skip
    """The CTranslate2 translator of ``md``, or None (auto mode) when there is none to use."""

    def unusable(message: str) -> None:
        if strict:
            raise WorkspaceError(message)
        notify(f"{message}; translating with torch instead")

    if device not in ("auto", "cpu"):
        if strict:
            raise OptionError(
                f"the ctranslate2 engine runs on the CPU: use --device cpu, or --engine torch for {device}"
            )
        return None
    folders = [engine_dir(md.path, q) for q in QUANTIZATIONS if engine_dir(md.path, q).is_dir()]
    if not folders:
        if strict:
            raise WorkspaceError(
                f"model {md.name!r} has no CTranslate2 engine; create one with `seqtool export {md.name}`"
            )
        return None
    folder = folders[0]
    meta = read_meta(folder)
    export_again = f"`seqtool export {md.name} --quantize {folder.name.split('-', 1)[1]} --force`"
    if meta is None or meta.get("kind") != cfg.get("kind"):  # an export of this model's kind
        return unusable(f"{folder}: not a complete seqtool export; export again with {export_again}")
    try:
        current = weights_stamp(md.weights_path)
    except OSError:
        current = None
    if meta.get("weights") != current:
        return unusable(
            f"{folder.name} of {md.name!r} was exported from other weights; export again with {export_again}"
        )
    try:
        intact = file_sha256(folder / "model.bin") == meta.get("model_bin_sha256")
    except OSError:
        intact = False
    if not intact:
        return unusable(f"{folder / 'model.bin'} is missing or damaged; export again with {export_again}")
    from seqtool.data.tokenizers import load_tokenizer
    from seqtool.engines.ct2 import open_translator

    toks = config_section(cfg, "tokenizers", md)
    src_tok, tgt_tok = load_tokenizer(md.path, toks["src"]), load_tokenizer(md.path, toks["tgt"])
    try:
        return open_translator(md, cfg, folder, src_tok, tgt_tok, threads, int(meta.get("positions", 512)), workers)
    except SeqtoolError as e:
        return unusable(str(e))


def attention_figures(tr: Any, figures_dir: Path, texts: Sequence[str], found: list[list[Translation]]) -> list[Path]:
    """One attention heatmap per translated sentence (its best translation), named
    ``attention-<model>-<time>-<n>.png`` in ``figures_dir``; returns the files written. ``tr``: a
    translator of either engine (:func:`seqtool.tasks.translator.load_translator`)."""
    from seqtool.viz.figures import attention_heatmap

    if getattr(tr, "engine", "torch") == "torch" and tr.config.get("model", {}).get("attention", "none") == "none":
        raise OptionError(
            f"model {tr.md.name!r} has no attention to show on torch (train with --attention bahdanau|luong, "
            "or export a Transformer with `seqtool export` and use --engine ctranslate2)"
        )
    stamp = now_iso().replace(":", "").replace("+", "_")[:17]
    paths = []
    for n, (source, translations) in enumerate(zip(texts, found, strict=True)):
        hyp = translations[0].hypothesis
        if not hyp.attention:
            continue
        out_pieces = [tr.tgt_tok.id_to_piece(i) for i in hyp.ids] + ["</s>"]
        path = figures_dir / f"attention-{tr.md.name}-{stamp}-{n + 1}.png"
        paths.append(attention_heatmap(tr.src_tok.pieces(source), out_pieces, hyp.attention, path,
                                       f"{tr.md.name}: {source[:60]}"))  # fmt: skip
    return paths
