"""Loading embeddings (without pickle), exporting them, neighbours and analogies."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtool.embeddings.analogy import Expression, parse_expression, score_candidates, top_indices
from seqtool.errors import OptionError, SeqtoolError, WorkspaceError, check_positive
from seqtool.files import atomic_path
from seqtool.store.workspace import ModelDir, Workspace

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

KIND = "embeddings"
VECTORS_FILE = "vectors.bin"
COUNTS_FILE = "counts.json"
EXPORT_FORMATS = ("word2vec-text", "word2vec-bin")


class OutOfVocabularyError(SeqtoolError):
    """A query word the model has no vector for."""


def save_vectors(kv: KeyedVectors, path: str | Path, fmt: str) -> Path:
    """Write vectors in the original word2vec text or binary format (atomically)."""
    if fmt not in EXPORT_FORMATS:
        raise OptionError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    path = Path(path)
    if path.is_dir():
        raise OptionError(f"{path}: is a directory; give a file name to export to")
    try:
        with atomic_path(path) as tmp:
            kv.save_word2vec_format(str(tmp), binary=fmt == "word2vec-bin")
    except OSError as e:
        raise WorkspaceError(f"{path}: cannot write ({e.strerror})") from None
    return path


@dataclass
class Embeddings:
    """A loaded embeddings model: the gensim KeyedVectors plus its folder and config."""

    name: str
    config: dict[str, Any]
    kv: KeyedVectors
    model_dir: ModelDir

    @property
    def vocab_size(self) -> int:
        return len(self.kv.index_to_key)

    def index(self, word: str) -> int:
        """The row of ``word``; an OutOfVocabularyError naming it and the closest spellings otherwise."""
        return self.indices([word])[0]

    def indices(self, words: list[str]) -> list[int]:
        """Rows of ``words``; one OutOfVocabularyError naming every missing word, with suggestions."""
        found = [self.kv.key_to_index.get(w) for w in words]
        missing = list(dict.fromkeys(w for w, i in zip(words, found, strict=True) if i is None))
        if len(missing) == 1:
            word = missing[0]
            raise OutOfVocabularyError(
                f"{word!r} is not in the vocabulary of model {self.name!r}; {suggest(self, word)}"
            )
        if missing:
            details = "; ".join(f"{w!r}: {suggest(self, w)}" for w in missing)
            raise OutOfVocabularyError(f"not in the vocabulary of model {self.name!r}: {details}")
        return [int(i) for i in found if i is not None]

    def counts(self) -> dict[str, int]:
        path = self.model_dir.file(COUNTS_FILE)
        try:
            return {w: int(c) for w, c in json.loads(path.read_text(encoding="utf-8"))}
        except (OSError, ValueError, TypeError) as e:
            raise WorkspaceError(f"{path}: cannot read the word counts ({e})") from None


def suggest(emb: Embeddings, word: str, n: int = 5) -> str:
    """'did you mean: ...' from the vocabulary by spelling (difflib), the 50k most frequent words."""
    vocabulary = emb.kv.index_to_key[:50_000]
    close = difflib.get_close_matches(word, vocabulary, n=n, cutoff=0.5)
    if not close:
        close = [w for w in vocabulary if word in w or w in word][:n]
    if not close:
        return f"no similar spelling among its {emb.vocab_size:,} words"
    return "nearest spellings: " + ", ".join(close)


def load_embeddings(workspace: str | Path | Workspace | None = None, name: str | None = None) -> Embeddings:
    """The model ``name`` (or the workspace default embeddings) with its vectors, loaded without pickle."""
    from gensim.models import KeyedVectors

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    md, config = ws.find(name, KIND, hint="train one with `seqtool embed CORPUS` or run `seqtool demo`")
    path = md.file((config.get("vectors") or {}).get("file", VECTORS_FILE))
    if config.get("status") != "done" or not path.exists():
        raise WorkspaceError(f"model {md.name!r} has no vectors yet (status {config.get('status')!r}); train it again")
    try:
        kv = KeyedVectors.load_word2vec_format(str(path), binary=True)
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as e:
        raise WorkspaceError(f"{path}: cannot read the vectors ({e})") from None
    return Embeddings(md.name, config, kv, md)


@dataclass
class Neighbour:
    word: str
    score: float


def _ranked(
    emb: Embeddings, positive: list[str], negative: list[str], method: str, restrict: int | None, top: int
) -> list[Neighbour]:
    check_positive("--top", top)
    rows = emb.indices(positive + negative)
    pos, neg = rows[: len(positive)], rows[len(positive) :]
    scores = score_candidates(emb.kv.get_normed_vectors(), pos, neg, method=method, restrict=restrict)
    return [Neighbour(emb.kv.index_to_key[i], float(scores[i])) for i in top_indices(scores, top)]


def neighbours(emb: Embeddings, word: str, top: int = 10, restrict: int | None = None) -> list[Neighbour]:
    """The ``top`` words with the highest cosine similarity to ``word`` (itself excluded)."""
    return _ranked(emb, [word], [], "add", restrict, top)


def analogy(
    emb: Embeddings,
    expression: str | list[str] | Expression,
    top: int = 5,
    method: str = "add",
    restrict: int | None = None,
) -> tuple[Expression, list[Neighbour]]:
    """Answers to ``父 - 男 + 女`` (3CosAdd or 3CosMul); the query words are never returned."""
    expr = expression if isinstance(expression, Expression) else parse_expression(expression)
    return expr, _ranked(emb, expr.positive, expr.negative, method, restrict, top)
