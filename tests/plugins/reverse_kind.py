"""A new task kind in one file: learn to write a sentence's words in reverse order.

Everything a kind is lives here: its training task (data, tokenizer, model, dev metric) plugged into the
shared driver and Trainer, and its :class:`~seqtool.tasks.kinds.base.ModelKind` (build, load, train,
predict), registered under the name ``reverse``. Then ``seqtool train reverse``, ``seqtool predict``,
``seqtool models``, ``models import`` and the server's ``/api/predict`` work for it, and nothing under
seqtool/ was edited. docs/extending.md walks through this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtool.data.batch import Batch
from seqtool.data.batching import EncodedCorpus, collate
from seqtool.data.corpus import check_file, read_lines
from seqtool.data.search import SearchOptions
from seqtool.data.tokenizers import Tokenizer, load_tokenizer, train_tokenizer
from seqtool.errors import DataError
from seqtool.models.seq2seq import build_translator, translator_config
from seqtool.store.workspace import ModelDir, Workspace, config_section
from seqtool.tasks.driver import Progress, Task, load_model, train_task
from seqtool.tasks.kinds import ModelKind, register_kind
from seqtool.tasks.kinds.base import check_options
from seqtool.tasks.mt import translate_texts
from seqtool.training.config import Objective, TrainConfig, describe

ARCH = "gru"  # a GRU encoder-decoder with attention: seqtool.models.seq2seq's, reused as it is
OPTIONS = ("train", "dev", "emb_dim", "hidden", "epochs", "lr", "batch_size", "seed")


def _encoded(rows: list[list[int]]) -> EncodedCorpus:
    offsets = np.cumsum([0, *(len(r) for r in rows)]).astype(np.int64)
    ids = np.array([i for r in rows for i in r], dtype=np.int32)
    return EncodedCorpus(ids, offsets)


class ReverseTask(Task):
    kind = "reverse"
    objective = Objective("dev_accuracy", True)  # exact-match accuracy of greedy outputs on dev
    sides = 0  # the (small) corpus is encoded in memory, not into the folder's cache

    def __init__(self, train: Path, dev: Path, model_values: dict[str, Any]) -> None:
        self.train, self.dev, self.model_values = train, dev, model_values
        self.tokenizer: Tokenizer | None = None
        self.model_cfg: Any = None

    def check(self) -> None:
        check_file(self.train)
        check_file(self.dev)

    def setup(self, md: ModelDir, progress: Progress, threads: int) -> dict[str, Any]:
        self.tokenizer = train_tokenizer((line for _, line in read_lines(self.train)), "word", lang="other")
        size = self.tokenizer.vocab_size
        self.model_cfg = translator_config(ARCH, {**self.model_values, "src_vocab": size, "tgt_vocab": size})
        return {"arch": "reverse-gru", "model": describe(self.model_cfg),
                "tokenizer": {**self.tokenizer.save(md.path, "tokenizer"), "lang": "other"},
                "data": {"train": str(self.train), "dev": str(self.dev)}}  # fmt: skip

    def restore(self, md: ModelDir, cfg: dict[str, Any]) -> None:
        self.model_cfg = translator_config(ARCH, config_section(cfg, "model", md))
        self.tokenizer = load_tokenizer(md.path, config_section(cfg, "tokenizer", md))

    def encode(self, cache: Path, progress: Progress) -> tuple[Any, int]:
        assert self.tokenizer is not None
        rows = [ids for ids in self.tokenizer.encode_batch([line for _, line in read_lines(self.train)]) if ids]
        return (_encoded(rows), _encoded([r[::-1] for r in rows])), len(rows)

    def data_entries(self, stats: int, progress: Progress) -> dict[str, Any]:
        if not stats:
            raise DataError(f"{self.train}: no non-empty lines to train on")
        return {"sentences": stats}

    def build_model(self) -> Any:
        return build_translator(self.model_cfg)

    def lengths(self, corpus: Any) -> np.ndarray:
        return corpus[0].lengths() + 1

    def make_batch(self, corpus: Any, indices: np.ndarray) -> Batch:
        return collate(indices, corpus[1], corpus[0])

    def evaluate(self, model: Any, device: torch.device) -> dict[str, float]:
        assert self.tokenizer is not None
        lines = [line for _, line in read_lines(self.dev) if line.strip()]
        found = translate_texts(model, self.tokenizer, self.tokenizer, lines, device,
                                search=SearchOptions(strategy="greedy"))  # fmt: skip
        right = sum(t[0].text.split() == line.split()[::-1] for t, line in zip(found, lines, strict=True))
        return {"dev_accuracy": right / len(lines)}


class ReverseKind(ModelKind):
    name = "reverse"
    title = "word reverser"
    train_command = "seqtool train reverse"

    def build(self, cfg: dict[str, Any]) -> Any:
        return build_translator(translator_config(ARCH, cfg["model"]))

    def vocab_sizes(self, cfg: dict[str, Any], model: Any) -> list[int]:
        return [int(model.cfg.src_vocab)]

    def load(self, ws: Workspace, name: str | None, device: str = "auto", engine: str = "torch", **options: Any) -> Any:
        return load_model(ws, name, self.name, self.hint,
                          lambda section: build_translator(translator_config(ARCH, section)), device)  # fmt: skip

    def train(self, ws: Workspace, name: str | None, options: dict[str, Any], *, device: str = "auto",
              resume: bool = False, threads: int = 1, progress: Any = None) -> tuple[str, Any]:  # fmt: skip
        check_options(options, OPTIONS, "train reverse")
        model = {k: options[k] for k in ("emb_dim", "hidden") if k in options}
        task = ReverseTask(Path(options.get("train", "")), Path(options.get("dev", "")),
                           {"attention": "luong", "dropout": 0.0, **model})  # fmt: skip
        cfg = TrainConfig(epochs=int(options.get("epochs", 10)), lr=float(options.get("lr", 3e-3)),
                          batch_tokens=int(options.get("batch_size", 1000)), seed=int(options.get("seed", 1)),
                          schedule="constant", patience=100)  # fmt: skip
        name = name or "reverse"
        return name, train_task(task, ws, name, cfg, device=device, resume=resume, threads=threads,
                                progress=progress or (lambda _: None))  # fmt: skip

    def predict(self, loaded: Any, text: str, **options: Any) -> Any:
        found = translate_texts(loaded.model, loaded.tokenizer, loaded.tokenizer, [text], loaded.device,
                                search=SearchOptions(strategy="greedy"))  # fmt: skip
        return found[0][0].text


register_kind(ReverseKind())
