"""Streaming corpus readers with ``file:line`` errors.

Nothing here loads a whole corpus: readers yield one line at a time, so memory does not grow
with corpus size. CRLF line endings and a UTF-8 byte-order mark are accepted; invalid UTF-8 and NUL bytes (a
binary file, e.g. a model given as ``--train``) are errors that name the file and line.
"""

from __future__ import annotations

import collections
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TypeVar

from seqtool.errors import DataError

MAX_LINE_BYTES = 1_000_000  # a longer "line" is almost certainly not a sentence
T = TypeVar("T")


def check_file(path: str | Path) -> Path:
    """Return ``path`` as a Path if it is a readable, non-empty regular file, else raise DataError."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file")
    if p.is_dir():
        raise DataError(f"{p}: is a directory, expected a text file")
    try:
        size = p.stat().st_size
        with open(p, "rb"):
            pass
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror})") from None
    if size == 0:
        raise DataError(f"{p}: file is empty")
    return p


def read_lines(path: str | Path, *, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line, without the line ending, 1-based line numbers."""
    p = check_file(path)
    with open(p, "rb") as f:
        # Read at most limit+BOM+1 bytes per line, so a huge newline-free file is rejected without loading it.
        chunks = iter(lambda: f.readline(max_line_bytes + 4), b"")
        for number, raw in enumerate(chunks, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if len(raw) > max_line_bytes:
                raise DataError(
                    f"{p}:{number}: line is longer than {max_line_bytes:,} bytes; is this one sentence per line?"
                )
            nul = raw.find(b"\x00")
            if nul >= 0:
                raise DataError(
                    f"{p}:{number}: NUL byte at byte {nul}: this is a binary file, not text; "
                    "give a UTF-8 text file with one sentence per line"
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{p}:{number}: invalid UTF-8 at byte {e.start}; convert the file to UTF-8") from None
            yield number, text.rstrip("\r\n")


def count_lines(path: str | Path) -> int:
    p = check_file(path)
    n = 0
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            n += chunk.count(b"\n")
        # a last line without a newline still counts
        if f.tell() > 0:
            f.seek(-1, 2)
            if f.read(1) != b"\n":
                n += 1
    return n


def check_parallel(src: str | Path, tgt: str | Path) -> int:
    """Raise DataError unless both files exist and have the same number of lines; return that number."""
    n_src, n_tgt = count_lines(src), count_lines(tgt)
    if n_src != n_tgt:
        raise DataError(
            f"parallel files differ in length: {src} has {n_src:,} lines, {tgt} has {n_tgt:,}; "
            "line N of one must translate line N of the other"
        )
    return n_src


def read_parallel(src: str | Path, tgt: str | Path) -> Iterator[tuple[int, str, str]]:
    """Yield ``(line_number, src_line, tgt_line)``; checks line counts first."""
    check_parallel(src, tgt)
    for (number, s), (_, t) in zip(read_lines(src), read_lines(tgt), strict=True):
        yield number, s, t


@dataclass
class CorpusStats:
    """What `seqtool data info` shows for one file."""

    path: str
    sentences: int = 0
    words: int = 0
    empty_lines: int = 0
    vocabulary: int = 0
    max_length: int = 0
    length_histogram: dict[str, int] = field(default_factory=dict)

    @property
    def mean_length(self) -> float:
        return self.words / max(1, self.sentences - self.empty_lines)


def corpus_stats(path: str | Path, bins: tuple[int, ...] = (5, 10, 15, 20, 30, 50)) -> CorpusStats:
    """Sentences, words, vocabulary and a sentence-length histogram, in one streaming pass."""
    stats = CorpusStats(path=str(path))
    vocab: collections.Counter[str] = collections.Counter()
    lengths: collections.Counter[int] = collections.Counter()
    for _, line in read_lines(path):
        words = line.split()
        stats.sentences += 1
        if not words:
            stats.empty_lines += 1
            continue
        stats.words += len(words)
        vocab.update(words)
        lengths[len(words)] += 1
    stats.vocabulary = len(vocab)
    stats.max_length = max(lengths, default=0)
    edges = [1, *[b + 1 for b in bins]]
    for low, high in zip(edges, [*edges[1:], None], strict=True):
        label = f"{low}-{high - 1}" if high is not None else f"{low}+"
        stats.length_histogram[label] = sum(c for n, c in lengths.items() if n >= low and (high is None or n < high))
    return stats


def reservoir_sample(items: Iterable[T], k: int, seed: int = 0) -> list[T]:
    """``k`` of ``items`` drawn uniformly in one pass, holding only the sample; all of them, in order, if
    there are no more than ``k``. Li's algorithm L: the number of items to skip before the next
    replacement is drawn at once and skipped by ``islice``, so the cost per item left out is the
    reader's alone (a tokenizer then prepares only the sample: MeCab costs ~7 µs a line)."""
    it = iter(items)
    sample = list(islice(it, k))
    if len(sample) < k:
        return sample
    rng = random.Random(seed)

    def draw() -> float:
        return math.exp(math.log(1.0 - rng.random()) / k)  # 1 - random() is in (0, 1]: log is defined

    w = draw()
    while w < 1.0:
        skip = math.floor(math.log(1.0 - rng.random()) / math.log1p(-w))
        chosen = next(islice(it, skip, None), _END)
        if chosen is _END:
            break
        sample[rng.randrange(k)] = chosen
        w *= draw()
    return sample


_END = object()
