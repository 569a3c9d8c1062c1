"""From text files to padded batches, without holding the corpus in memory.

1. :func:`encode_corpus` streams the training file(s) once through the tokenizer(s) and writes the
   ids as flat binary files (``int32``) plus one offset per sentence (``int64``), both as they come.
   Epochs then read them through memory maps: the operating system pages them in (and out again
   under memory pressure), so no copy of the corpus lives in the process, and no epoch pays for
   tokenization again. What does grow with the corpus is small: 4 bytes a sentence for its length
   and 4 for its place in an epoch's batches (a raw pair of text is ~80 bytes).
2. :func:`token_batches` groups sentences of similar length into batches of at most ``max_tokens``
   tokens *including padding* (padding is what a CPU wastes time on), shuffled with a seed that
   depends only on the epoch: the order is reproducible, which is what makes a resumed run
   continue exactly where it stopped.
3. :func:`collate` turns one group of sentence indices into a :class:`~seqtool.models.base.Batch`.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from seqtool.data.batch import Batch
from seqtool.data.corpus import read_lines
from seqtool.data.specials import BOS, EOS
from seqtool.data.tokenizers import Tokenizer
from seqtool.files import atomic_write_json

ENCODE_CHUNK = 8192  # lines per tokenizer call (sentencepiece encodes a list with several threads)


@dataclass
class EncodedCorpus:
    """One side of a corpus: ``ids[offsets[i]:offsets[i+1]]`` are the ids of sentence ``i``."""

    ids: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        """Tokens in each sentence, ``int32`` (half of ``int64``: it stays in memory for the whole run)."""
        with sequential_reads(self.offsets):  # one pass from start to end, unlike the epochs' reads
            return np.diff(self.offsets).astype(np.int32)

    def sentence(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    @classmethod
    def load(cls, prefix: Path) -> EncodedCorpus:
        offsets = map_for_random_reads(Path(f"{prefix}.offsets"), np.int64)
        ids = map_for_random_reads(Path(f"{prefix}.ids"), np.int32) if offsets[-1] else np.zeros(0, np.int32)
        return cls(ids, offsets)


def map_for_random_reads(path: Path, dtype: type) -> np.ndarray:
    """``path`` as a read-only array whose pages the operating system reads when they are touched,
    marked for random access (``MADV_RANDOM``, where the platform has it).

    An epoch reads its sentences in shuffled order. By default each page fault also reads the ~128 KB
    around it, ~30 times what a sentence needs; in a corpus larger than the memory that read-around
    evicts the pages the next sentences need: 28M pairs in 2 GiB built a batch in 0.77 s instead of 0.027 s
    (benchmarks/cache_reads.py; docs/benchmarks.md, issue 28). A corpus in the page cache is not affected.
    """
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # the map outlives the file object
    if hasattr(mmap, "MADV_RANDOM"):  # Linux and macOS
        mapped.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapped, dtype=dtype)


def mapping_of(array: np.ndarray) -> mmap.mmap | None:
    """The memory map an array from :func:`map_for_random_reads` views (through a memoryview), else None."""
    view = array.base
    return view.obj if isinstance(view, memoryview) and isinstance(view.obj, mmap.mmap) else None


@contextlib.contextmanager
def sequential_reads(array: np.ndarray) -> Iterator[None]:
    """For one pass over a map from :func:`map_for_random_reads`, in order: the kernel reads ahead
    (``MADV_SEQUENTIAL``) instead of 4 KB a fault, then the map is marked for random reads again.
    Other arrays (a corpus in memory) are left as they are."""
    mapped = mapping_of(array)
    if mapped is None or not hasattr(mmap, "MADV_SEQUENTIAL"):
        yield
        return
    mapped.madvise(mmap.MADV_SEQUENTIAL)
    try:
        yield
    finally:
        mapped.madvise(mmap.MADV_RANDOM)


@dataclass
class EncodeStats:
    kept: int = 0
    empty: int = 0  # pairs/lines with an empty side: skipped
    too_long: int = 0  # longer than max_len tokens on either side: skipped
    parts: list[int] = field(default_factory=list)  # pairs/lines kept from each input part, in order


def encode_corpus(
    parts: Sequence[Sequence[Path]],
    tokenizers: Sequence[Tokenizer],
    prefix: Path,
    max_len: int | None = None,
) -> tuple[list[EncodedCorpus], EncodeStats]:
    """Encode one file (LM) or a parallel pair (MT) per part into ``<prefix>.<side>.ids/.offsets``: the
    parts one after the other (a corpus mix, :mod:`seqtool.data.mix`; usually one part), their counts in
    ``stats.parts``.

    Lines that are empty (on any side) or longer than ``max_len`` tokens are skipped and counted;
    the parallel files must have equal line counts (checked by the caller with corpus.check_parallel).
    """
    prefix.parent.mkdir(parents=True, exist_ok=True)
    # stats.json is written last and marks the cache complete: remove an old one first, so a kill
    # while the other files are being replaced never leaves a cache that load_encoded would trust.
    Path(f"{prefix}.stats.json").unlink(missing_ok=True)
    stats = EncodeStats()
    sides = range(len(tokenizers))
    with _SideWriters([Path(f"{prefix}.{s}") for s in sides]) as writers:
        for paths in parts:
            kept_before = stats.kept
            readers = [read_lines(p) for p in paths]
            for chunk in _chunks(zip(*readers, strict=True), ENCODE_CHUNK):
                encoded = [tokenizers[s].encode_batch([line[s][1] for line in chunk]) for s in sides]
                for row in zip(*encoded, strict=True):
                    if any(len(ids) == 0 for ids in row):
                        stats.empty += 1
                        continue
                    if max_len is not None and any(len(ids) > max_len for ids in row):
                        stats.too_long += 1
                        continue
                    stats.kept += 1
                    for s, ids in enumerate(row):
                        writers[s].append(ids)
            stats.parts.append(stats.kept - kept_before)
    atomic_write_json(Path(f"{prefix}.stats.json"), stats.__dict__)
    return [EncodedCorpus.load(Path(f"{prefix}.{s}")) for s in sides], stats


def load_encoded(prefix: Path, sides: int) -> tuple[list[EncodedCorpus], EncodeStats] | None:
    """A previously encoded corpus (resume), or None if it is not (completely) there.

    Anything unexpected (missing side, sizes that disagree with the offsets) means "encode again":
    the cache is derived data, never worth an error.
    """
    try:
        stats = EncodeStats(**json.loads(Path(f"{prefix}.stats.json").read_text(encoding="utf-8")))
        corpora = [EncodedCorpus.load(Path(f"{prefix}.{s}")) for s in range(sides)]
    except (OSError, ValueError, TypeError):
        return None
    if any(len(c) != stats.kept or len(c.ids) != c.offsets[-1] for c in corpora):
        return None
    return corpora, stats


class _SideWriters:
    """One :class:`_SideWriter` per side, renamed into place only if encoding completes."""

    def __init__(self, prefixes: list[Path]) -> None:
        self.prefixes = prefixes

    def __enter__(self) -> list[_SideWriter]:
        self.writers = [_SideWriter(p) for p in self.prefixes]
        return self.writers

    def __exit__(self, exc_type, exc, tb) -> None:
        for w in self.writers:
            w.close(commit=exc_type is None)


class _SideWriter:
    """Appends sentences to ``<prefix>.ids`` (``int32``) and their end offsets to ``<prefix>.offsets``
    (``int64``, from a leading 0), through small buffers: memory stays flat however long the corpus."""

    def __init__(self, prefix: Path) -> None:
        self.paths = [Path(f"{prefix}.ids"), Path(f"{prefix}.offsets")]
        self.tmps = [p.with_suffix(p.suffix + ".tmp") for p in self.paths]
        self.files = [open(t, "wb") for t in self.tmps]  # noqa: SIM115 - closed in close()
        self.ids: list[int] = []
        self.ends: list[int] = [0]
        self.end = 0

    def append(self, ids: Sequence[int]) -> None:
        self.ids.extend(ids)
        self.end += len(ids)
        self.ends.append(self.end)
        if len(self.ids) > 1 << 16:
            self.flush()

    def flush(self) -> None:
        self.files[0].write(np.asarray(self.ids, dtype=np.int32).tobytes())
        self.files[1].write(np.asarray(self.ends, dtype=np.int64).tobytes())
        self.ids.clear()
        self.ends.clear()

    def close(self, commit: bool) -> None:
        self.flush()
        for f in self.files:
            if commit:
                os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
            f.close()
        for tmp, path in zip(self.tmps, self.paths, strict=True):
            if commit:
                tmp.replace(path)
            else:
                tmp.unlink(missing_ok=True)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def token_batches(
    lengths: np.ndarray, max_tokens: int, seed: int, epoch: int, shuffle: bool = True, pool: int = 65536
) -> list[np.ndarray]:
    """Sentence indices grouped into batches of at most ``max_tokens`` padded tokens.

    ``lengths`` is the padded length each sentence needs (the longer side, plus one for
    ``<bos>``/``<eos>``). Sentences are shuffled, then sorted by length within pools of ``pool``
    sentences (so batches hold sentences of nearly equal length and little padding), and the
    batches are shuffled again. A sentence longer than ``max_tokens`` gets a batch of its own.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    if len(order) < 2**31:
        order = order.astype(np.int32)  # the batches hold every index for an epoch: 4 bytes each, not 8
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        part = order[start : start + pool]
        part_lengths = lengths[part].astype(np.int64)  # gathered once: the sort and the cut both need them
        by_length = np.argsort(part_lengths, kind="stable")
        batches.extend(_cut_sorted(part[by_length], part_lengths[by_length], max_tokens))
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def _cut_sorted(part: np.ndarray, sorted_lengths: np.ndarray, max_tokens: int) -> Iterator[np.ndarray]:
    """Greedy cut of ``part`` (sorted by length, shortest first) into batches of at most ``max_tokens``
    padded tokens: each batch takes sentences while ``count × its longest`` fits (at least one).

    One numpy step per batch, not a Python step per sentence (an epoch's whole plan for 28M pairs: 3.1 s,
    not 13.4 s; benchmarks/batch_plan.py).
    With lengths sorted, a batch from ``begin`` padded to ``i`` costs ``(i - begin + 1) × L[i]``, which
    only grows with ``i``: the sentences that fit are a prefix, and none beyond the first
    ``max_tokens // L[begin]`` can (``L ≥ 1``: the padded lengths count ``<bos>``/``<eos>``).
    """
    begin, n = 0, len(part)
    while begin < n:
        window = sorted_lengths[begin : begin + max_tokens // max(int(sorted_lengths[begin]), 1) + 1]
        fits = np.arange(1, len(window) + 1) * window <= max_tokens
        count = max(int(fits.sum()), 1)  # a sentence longer than max_tokens gets a batch of its own
        yield part[begin : begin + count]
        begin += count


def _pad(rows: list[np.ndarray], width: int) -> torch.Tensor:
    out = np.zeros((len(rows), width), dtype=np.int64)
    for r, row in enumerate(rows):
        out[r, : len(row)] = row
    return torch.from_numpy(out)


def collate(indices: np.ndarray, target: EncodedCorpus, source: EncodedCorpus | None = None) -> Batch:
    """Build a padded batch: ``tgt_in = <bos> y``, ``tgt_out = y <eos>``, source ids as they are."""
    seqs = [target.sentence(i) for i in indices]
    width = max(len(s) for s in seqs) + 1
    tgt_in = _pad([np.concatenate(([BOS], s)) for s in seqs], width)
    tgt_out = _pad([np.concatenate((s, [EOS])) for s in seqs], width)
    if source is None:
        return Batch(tgt_in=tgt_in, tgt_out=tgt_out)
    srcs = [source.sentence(i) for i in indices]
    src_lengths = torch.tensor([len(s) for s in srcs], dtype=torch.long)
    return Batch(tgt_in=tgt_in, tgt_out=tgt_out, src=_pad(srcs, int(src_lengths.max())), src_lengths=src_lengths)


def batches_from_texts(
    texts: Sequence[str],
    tokenizer: Tokenizer,
    max_tokens: int,
    sources: Sequence[str] | None = None,
    src_tokenizer: Tokenizer | None = None,
) -> Iterator[tuple[np.ndarray, Batch]]:
    """Small in-memory corpora (dev sets, user input): batches in length order with their indices."""
    tgt = in_memory_corpus(tokenizer.encode_batch(list(texts)))
    src = in_memory_corpus(src_tokenizer.encode_batch(list(sources))) if sources is not None else None
    lengths = tgt.lengths() + 1 if src is None else np.maximum(tgt.lengths() + 1, src.lengths())
    for indices in token_batches(lengths, max_tokens, seed=0, epoch=0, shuffle=False):
        yield indices, collate(indices, tgt, src)


def in_memory_corpus(encoded: Sequence[Sequence[int]]) -> EncodedCorpus:
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(e) for e in encoded])
    flat = np.fromiter((i for e in encoded for i in e), dtype=np.int32, count=int(offsets[-1]))
    return EncodedCorpus(flat, offsets)
