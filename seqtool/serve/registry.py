"""The served models: which ones, loading them (at start or on first use) and reloading the workspace.

Every served model has one :class:`~seqtool.serve.batching.ModelWorker`; the model is loaded and used
only on that worker's thread (or before the server answers, when loading eagerly), so requests to
one model never race each other and requests to different models never wait for each other.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seqtool.data.search import SearchOptions, output_length_cap
from seqtool.errors import SeqtoolError
from seqtool.serve.batching import ModelWorker
from seqtool.serve.limits import ApiError
from seqtool.store.workspace import ModelDir, Workspace
from seqtool.tasks.kinds import find_kind, get_kind


@dataclass
class Served:
    """One served model. ``loaded`` is a LoadedTranslator, LoadedLM or Embeddings once loaded."""

    md: ModelDir
    config: dict[str, Any]
    stamp: tuple[float, ...]
    device: str
    loaded: Any = None
    error: str | None = None
    worker: ModelWorker | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.md.name

    @property
    def kind(self) -> str:
        return str(self.config["kind"])

    def load(self) -> Any:
        """The loaded model (loading it the first time); a model that cannot load answers 503."""
        with self._lock:
            if self.loaded is None and self.error is None:
                try:
                    self.loaded = self._open()
                except SeqtoolError as e:
                    self.error = str(e)
            if self.error is not None:
                raise self._unavailable()
            return self.loaded

    def _open(self) -> Any:
        return _load(self.md, self.kind, self.device)

    def _unavailable(self) -> ApiError:
        return ApiError(503, f"model {self.name!r} cannot be loaded: {self.error}")

    def translate(self, texts: Sequence[str], search: SearchOptions) -> list[list[Any]]:
        """The nbest :class:`~seqtool.data.search.Translation`\\ s of every text, all decoded as one batch."""
        tr = self.load()
        return tr.translate(list(texts), search=search, batch_sentences=max(1, len(texts)))

    def fits_alone(self, texts: Sequence[str], results: list[list[Any]]) -> bool:
        """Whether every output of a request ended within the output cap the request has alone."""
        tok = self.load().src_tok
        cap = output_length_cap(max((len(ids) for ids in tok.encode_batch(list(texts))), default=0))
        return all(len(t.hypothesis.ids) + 1 <= cap for translations in results for t in translations)


@dataclass
class EnsembleServed(Served):
    """Served translators answering as one (``"model": "a,b"``): their log-probabilities averaged step by
    step (seqtool.models.ensemble; torch only). Made on first request, dropped when any model reloads."""

    members: str = ""

    @property
    def name(self) -> str:
        return self.members

    def _open(self) -> Any:
        from seqtool.tasks.translator import load_ensemble

        return load_ensemble(Workspace(self.md.path.parent.parent), self.members, self.device, engine="torch")

    def _unavailable(self) -> ApiError:  # a bad combination of models is the request's fault: 422
        return ApiError(422, f"ensemble {self.members!r}: {self.error}")


def _load(md: ModelDir, kind: str, device: str) -> Any:
    # engine auto: an exported CTranslate2 copy where the kind has one and it is usable, else torch.
    return get_kind(kind).load(Workspace(md.path.parent.parent), md.name, device, engine="auto")


def _stamp(md: ModelDir) -> tuple[float, ...]:
    """What changes when a model is trained again: its config's and weights' modification times."""
    out = []
    for path in (md.config_path, md.weights_path, md.file("vectors.bin")):
        try:
            out.append(path.stat().st_mtime)
        except OSError:
            out.append(0.0)
    return tuple(out)


class Registry:
    """The models of a workspace that the server answers for (all finished ones, or ``names``)."""

    def __init__(
        self,
        ws: Workspace,
        names: Sequence[str] | None = None,
        *,
        lazy: bool = False,
        device: str = "auto",
        max_wait_s: float = 0.005,
        max_tokens: int = 2048,
    ) -> None:
        self.ws = ws
        self.names = list(names) if names else None
        self.lazy = lazy
        self.device = device
        self.max_wait_s = max_wait_s
        self.max_tokens = max_tokens
        self.models: dict[str, Served] = {}
        self.ensembles: dict[str, EnsembleServed] = {}
        self._lock = threading.Lock()
        if self.names:
            known = {md.name for md, _ in ws.list_models()}
            missing = [n for n in self.names if n not in known]
            if missing:
                from seqtool.errors import ModelNotFoundError

                have = ", ".join(sorted(known)) or "none"
                raise ModelNotFoundError(f"--models: no model named {', '.join(missing)} in {ws.root} (models: {have})")

    def reload(self) -> dict[str, list[str]]:
        """Pick up models trained, retrained or removed since the last scan."""
        with self._lock:
            found = {
                md.name: (md, cfg)
                for md, cfg in self.ws.list_models()
                if cfg.get("status") == "done"
                and find_kind(cfg.get("kind")) is not None
                and (self.names is None or md.name in self.names)
            }
            changes: dict[str, list[str]] = {"added": [], "reloaded": [], "removed": []}
            for name in [n for n in self.models if n not in found]:
                self._drop(name)
                changes["removed"].append(name)
            for name, (md, cfg) in found.items():
                old = self.models.get(name)
                if old is not None and old.stamp == _stamp(md):
                    continue
                if old is not None:
                    self._drop(name)
                changes["reloaded" if old is not None else "added"].append(name)
                self.models[name] = self._serve(md, cfg)
            if changes["reloaded"] or changes["removed"]:  # an ensemble holds its members' old weights
                for entry in self.ensembles.values():
                    threading.Thread(target=entry.worker.stop, daemon=True).start()  # type: ignore[union-attr]
                self.ensembles.clear()
            return changes

    def _serve(self, md: ModelDir, cfg: dict[str, Any]) -> Served:
        entry = Served(md, cfg, _stamp(md), self.device)
        pools = get_kind(cfg.get("kind")).pools_requests  # translators: concurrent requests decoded as one batch
        entry.worker = ModelWorker(
            md.name,
            entry.translate if pools else None,
            entry.fits_alone if pools else None,
            max_wait_s=self.max_wait_s,
            max_tokens=self.max_tokens,
        )
        if not self.lazy:
            # A model that cannot load is kept: its requests answer 503 with the reason, the others are served.
            with contextlib.suppress(ApiError):
                entry.load()
        return entry

    def _drop(self, name: str) -> None:
        entry = self.models.pop(name)
        if entry.worker is not None:
            threading.Thread(target=entry.worker.stop, daemon=True).start()  # finishes its queued jobs

    def get_any(self, name: str) -> Served:
        """The served model ``name`` of any kind (404 if unknown)."""
        with self._lock:
            entry = self.models.get(name)
        if entry is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise ApiError(404, f"no model named {name!r} is served (models: {known})")
        return entry

    def get(self, name: str | None, kind: str) -> Served:
        """The served model ``name`` (404 if unknown, 422 if of another kind), or the default of ``kind``."""
        with self._lock:
            if name is None:
                default = self.ws.defaults().get(kind)
                entry = self.models.get(default or "")
                if entry is None or entry.kind != kind:
                    entry = next((e for e in self.models.values() if e.kind == kind), None)
                if entry is None:
                    raise ApiError(
                        404, f"no {kind} model is served from {self.ws.root}; train one or run `seqtool demo`"
                    )
                return entry
        if "," in name:
            return self._ensemble(name, kind)
        entry = self.get_any(name)
        if entry.kind != kind:
            raise ApiError(422, f"model {name!r} is a {entry.kind} model, but this endpoint needs a {kind} model")
        return entry

    def _ensemble(self, name: str, kind: str) -> EnsembleServed:
        """The served ensemble of the models ``a,b[,c]`` (each must be a served model of ``kind``)."""
        parts = [p.strip() for p in name.split(",")]
        members = [self.get_any(p) for p in parts if p]
        if not get_kind(kind).pools_requests or any(m.kind != kind for m in members):
            raise ApiError(422, f"model {name!r}: an ensemble is two or more translators (mt models)")
        key = ",".join(parts)
        with self._lock:
            entry = self.ensembles.get(key)
            if entry is None:
                first = members[0]
                entry = EnsembleServed(first.md, first.config, first.stamp, self.device, members=key)
                entry.worker = ModelWorker(key, entry.translate, entry.fits_alone, max_wait_s=self.max_wait_s,
                                           max_tokens=self.max_tokens)  # fmt: skip
                self.ensembles[key] = entry
            return entry

    def close(self) -> None:
        with self._lock:
            for entry in [*self.models.values(), *self.ensembles.values()]:
                if entry.worker is not None:
                    entry.worker.stop()
            self.models.clear()
            self.ensembles.clear()
