"""The word-embeddings kind: gensim vectors in word2vec's binary format, no torch model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtool.store.workspace import ModelDir, Workspace
from seqtool.tasks.kinds.base import ModelKind, plain_name

VECTORS = "vectors.bin"  # the default of seqtool.embeddings (config "vectors": {"file": ...})


class EmbeddingsKind(ModelKind):
    name = "embeddings"
    title = "word embeddings"
    train_command = "seqtool embed CORPUS"
    required_keys = ("kind", "arch")
    tokenizer_sections = ()
    has_weights = False

    def languages(self, cfg: dict[str, Any]) -> list[str]:
        return [str(cfg.get("language", ""))]

    def files(self, folder: Path, cfg: dict[str, Any]) -> list[str]:
        return [plain_name(folder / "config.json", (cfg.get("vectors") or {}).get("file", VECTORS), "vectors.file")]

    def load(self, ws: Workspace, name: str | None, device: str = "auto", engine: str = "torch", **options: Any) -> Any:
        from seqtool.embeddings import load_embeddings

        return load_embeddings(ws, name)

    def check_loadable(self, md: ModelDir, cfg: dict[str, Any], staging: Workspace | None) -> None:
        """Vectors through the embeddings module's own loader (gensim's word2vec reader, no pickle)."""
        if staging is not None:
            self.load(staging, md.name)

    def predict(self, loaded: Any, text: str, **options: Any) -> Any:
        from seqtool.embeddings import neighbours

        return [
            {"word": n.word, "score": n.score} for n in neighbours(loaded, text.strip(), int(options.get("top", 10)))
        ]
