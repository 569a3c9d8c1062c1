"""Training word2vec with gensim into a workspace model folder (see :mod:`seqtool.embeddings`)."""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gensim.models.callbacks import CallbackAny2Vec  # library code may import gensim; CLI modules may not

from seqtool.data.corpus import check_file, read_lines
from seqtool.embeddings.vectors import COUNTS_FILE, KIND, VECTORS_FILE, save_vectors
from seqtool.errors import DataError, OptionError, WorkspaceError, check_positive, check_range
from seqtool.files import atomic_write_json, now_iso
from seqtool.machine import usable_cores
from seqtool.store.workspace import ModelDir, Workspace

DEFAULT_NAME = "w2v"
METHODS = ("skipgram", "cbow")


@dataclass
class EmbeddingSettings:
    """Training settings. The defaults were tuned on small_parallel_enja train.ja (50k segmented
    sentences) with benchmarks/analogy_ja.txt, against gensim's defaults (CBOW, 100 dims, 5 negatives,
    5 epochs, alpha 0.025): a small corpus needs more passes (20), more negative samples (10) and the
    larger CBOW learning rate of the original word2vec tool (0.05). docs/benchmarks.md has the numbers."""

    method: str = "cbow"
    dim: int = 100
    window: int = 5
    min_count: int = 5
    negative: int = 10
    epochs: int = 20
    sample: float = 1e-3
    alpha: float = 0.05
    seed: int = 1
    workers: int | None = None  # None: all cores

    def validate(self) -> None:
        if self.method not in METHODS:
            raise OptionError(f"--method must be skipgram or cbow, got {self.method!r}")
        for option, value in (("--dim", self.dim), ("--window", self.window), ("--epochs", self.epochs)):
            check_positive(option, value)
        check_positive("--min-count", self.min_count)
        check_positive("--negative", self.negative)
        check_range("--sample", self.sample, 0.0, 1.0)
        check_positive("--alpha", self.alpha)
        if self.workers is not None:
            check_positive("--threads", self.workers)

    def word2vec_kwargs(self, workers: int) -> dict[str, Any]:
        """Keyword arguments for ``gensim.models.Word2Vec`` (the benchmark passes the same to gensim)."""
        return {
            "sg": 1 if self.method == "skipgram" else 0,
            "vector_size": self.dim,
            "window": self.window,
            "min_count": self.min_count,
            "negative": self.negative,
            "hs": 0,
            "epochs": self.epochs,
            "sample": self.sample,
            "alpha": self.alpha,
            "seed": self.seed,
            "workers": workers,
            "compute_loss": True,
        }


@dataclass
class EpochReport:
    """What the progress callback receives after each epoch."""

    epoch: int
    epochs: int
    loss: float
    words_per_s: float
    elapsed_s: float


@dataclass
class TrainResult:
    name: str
    path: Path
    vocab_size: int
    dim: int
    seconds: float
    corpus: dict[str, Any] = field(default_factory=dict)
    frequent_words: list[str] = field(default_factory=list)  # the most frequent words, for hints
    language: str = "other"


def check_corpus(path: str | Path) -> tuple[Path, bool]:
    """Validate a corpus in one fast binary pass; return it and whether gensim may read it directly.

    Invalid UTF-8 is a DataError naming ``file:line``. ``corpus_file`` mode splits raw bytes on
    spaces and ``\\n``, so a byte-order mark or CRLF line ends send the file through the slower
    iterator instead (which strips them) rather than into the vocabulary.
    """
    p = check_file(path)
    if p.suffix.lower() in (".gz", ".bz2", ".xz", ".zip"):
        raise DataError(f"{p}: compressed corpora are not read directly; decompress it first")
    decoder = codecs.getincrementaldecoder("utf-8")()
    direct, line, offset = True, 1, 0
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            if offset == 0 and chunk.startswith(b"\xef\xbb\xbf"):
                direct = False
            if b"\r" in chunk:
                direct = False
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                bad_line = line + chunk.count(b"\n", 0, max(0, e.start))
                raise DataError(f"{p}:{bad_line}: invalid UTF-8; convert the file to UTF-8") from None
            line += chunk.count(b"\n")
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise DataError(f"{p}:{line}: invalid UTF-8 (truncated character at the end of the file)") from None
    return p, direct


class _Sentences:
    """A restartable stream of tokenised lines (gensim iterates once per epoch, plus the vocabulary scan)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[list[str]]:
        for _, line in read_lines(self.path):
            yield line.split()


def guess_language(words: list[str]) -> str:
    """'en' for mostly ASCII-letter words, 'ja' when kana appear, else 'other' (picks default test sets)."""
    sample = [w for w in words[:500] if any(ch.isalpha() for ch in w)]
    if not sample:
        return "other"
    if any("\u3040" <= ch <= "\u30ff" for w in sample for ch in w):
        return "ja"
    ascii_share = sum(w.isascii() for w in sample) / len(sample)
    return "en" if ascii_share >= 0.8 else "other"


def train_embeddings(
    corpus: str | Path,
    workspace: str | Path | Workspace | None = None,
    name: str = DEFAULT_NAME,
    settings: EmbeddingSettings | None = None,
    progress: Callable[[EpochReport], None] | None = None,
) -> TrainResult:
    """Train word2vec on ``corpus`` into ``models/<name>`` and make it the default embeddings model.

    All checks (settings, name, corpus, vocabulary) run before anything is written to the workspace.
    """
    from gensim.models import Word2Vec

    settings = settings or EmbeddingSettings()
    settings.validate()
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    _check_replaceable(ws.model_dir(name))
    path, direct = check_corpus(corpus)
    workers = settings.workers or usable_cores()
    model = Word2Vec(**settings.word2vec_kwargs(workers))
    source: dict[str, Any] = {"corpus_file": str(path)} if direct else {"corpus_iterable": _Sentences(path)}
    model.build_vocab(**source, keep_raw_vocab=True)
    if len(model.wv) == 0:
        raise DataError(f"{path}: no word occurs at least {settings.min_count} times; lower --min-count")
    words = list(model.wv.index_to_key)
    # The raw counts are the kept words' counts; gensim keeps them only when asked, and we free them now.
    word_types, counts = len(model.raw_vocab), [int(model.raw_vocab[w]) for w in words]
    model.raw_vocab = {}
    corpus_stats = {
        "sentences": int(model.corpus_count),
        "words": int(model.corpus_total_words),
        "word_types": word_types,
        "vocab_size": len(words),
        "kept_words": sum(counts),
    }
    ws.ensure_writable()
    md = ws.model_dir(name)
    with md.lock():
        config = _initial_config(md.name, path, settings, workers, corpus_stats, words, direct)
        md.write_config(config)
        md.metrics_path.unlink(missing_ok=True)
        md.log(f"training {settings.method} embeddings on {path}: {json.dumps(asdict(settings))}")
        reporter = _EpochReporter(md, settings.epochs, corpus_stats["words"], progress)
        start = time.perf_counter()
        model.train(
            **source,
            total_examples=model.corpus_count,
            total_words=model.corpus_total_words,
            epochs=settings.epochs,
            compute_loss=True,
            callbacks=[reporter],
        )
        seconds = time.perf_counter() - start
        save_vectors(model.wv, md.file(VECTORS_FILE), "word2vec-bin")
        atomic_write_json(md.file(COUNTS_FILE), [[w, c] for w, c in zip(words, counts, strict=True)])
        config["status"] = "done"
        config["training"] = {
            "seconds": round(seconds, 3),
            "words_per_s": round(corpus_stats["words"] * settings.epochs / seconds),
        }
        config["best"] = {"metric": "train_loss", "value": reporter.last_loss, "epoch": settings.epochs}
        md.write_config(config)
        md.log(f"done in {seconds:.1f}s, {len(words):,} words x {settings.dim} dimensions")
    ws.set_default(KIND, md.name)
    return TrainResult(
        md.name, md.path, len(words), settings.dim, seconds, corpus_stats, words[:200], config["language"]
    )


def _check_replaceable(md: ModelDir) -> None:
    """Retraining replaces an embeddings model of the same name, never a model of another kind."""
    if md.config_path.exists():
        kind = md.config().get("kind")
        if kind != KIND:
            raise WorkspaceError(f"model {md.name!r} is a {kind} model; choose another --name for the embeddings")


def _initial_config(
    name: str,
    path: Path,
    settings: EmbeddingSettings,
    workers: int,
    corpus_stats: dict[str, Any],
    words: list[str],
    direct: bool,
) -> dict[str, Any]:
    import gensim

    return {
        "name": name,
        "kind": KIND,
        "arch": settings.method,
        "parameters": len(words) * settings.dim,
        "created": now_iso(),
        "status": "training",
        "data": {"train": str(path), "dev": None},
        "best": {"metric": "train_loss", "value": None, "epoch": 0},
        "settings": {**asdict(settings), "workers": workers},
        "corpus": {**corpus_stats, "reader": "corpus_file" if direct else "iterator"},
        "language": guess_language(words),
        "vectors": {"file": VECTORS_FILE, "format": "word2vec-bin", "counts": COUNTS_FILE},
        "gensim": gensim.__version__,
    }


class _EpochReporter(CallbackAny2Vec):
    """Turns gensim's epoch callbacks into metrics rows and progress reports.

    gensim accumulates the loss over a ``train`` call, so the per-epoch loss is a difference.
    """

    def __init__(
        self, md: ModelDir, epochs: int, words_per_epoch: int, progress: Callable[[EpochReport], None] | None
    ) -> None:
        self.md, self.epochs, self.words_per_epoch, self.progress = md, epochs, words_per_epoch, progress
        self.epoch, self.total_loss, self.last_loss = 0, 0.0, None
        self.start = self.epoch_start = time.perf_counter()

    def on_epoch_begin(self, model: Any) -> None:
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, model: Any) -> None:
        self.epoch_done(float(model.get_latest_training_loss()))

    def epoch_done(self, cumulative_loss: float) -> None:
        now = time.perf_counter()
        self.epoch += 1
        loss = max(0.0, cumulative_loss - self.total_loss) / max(1, self.words_per_epoch)
        self.total_loss, self.last_loss = cumulative_loss, round(loss, 6)
        report = EpochReport(
            self.epoch, self.epochs, loss, self.words_per_epoch / max(now - self.epoch_start, 1e-9), now - self.start
        )
        self.md.append_metrics(
            {
                "epoch": report.epoch,
                "step": report.epoch * self.words_per_epoch,
                "train_loss": round(loss, 6),
                "tokens_per_s": round(report.words_per_s),
                "elapsed_s": round(report.elapsed_s, 3),
            }
        )
        if self.progress is not None:
            self.progress(report)
