"""How long building a training batch takes when the encoded corpus does not fit in memory: the kernel's
default read-around for memory maps against ``MADV_RANDOM`` (what ``EncodedCorpus.load`` asks for).

Writes an encoded corpus of N pairs in seqtool's cache format (ids drawn at random; sentence lengths from
small_parallel_enja's words, resampled), empties the page cache, optionally moves itself into a memory
cgroup (v1, as root) with the given limit, then builds batches of an epoch (``collate``) with some compute
between them (matrix products for ``--compute`` seconds, as a training step would), alternating the two
advice settings on fresh batches each time.

    sudo python3 benchmarks/cache_reads.py ../shared/data/small_parallel_enja 28000000 --memory-limit 2G

``--lengths`` times instead the one pass in order that a run makes over the offsets (the sentence
lengths, ``EncodedCorpus.lengths``), cold, on maps marked for random reads against read-ahead for it.
"""

from __future__ import annotations

import argparse
import mmap
import os
import time
from pathlib import Path

import numpy as np
import torch

from seqtool.data.batching import EncodedCorpus, collate, mapping_of, token_batches

CGROUP = Path("/sys/fs/cgroup/memory/seqtool-cache-reads")


def write_corpus(data: Path, pairs: int, work: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    prefixes = [work / "train.0", work / "train.1"]
    if all(Path(f"{p}.ids").exists() for p in prefixes):
        return prefixes
    texts = [(data / f"train.{lang}").read_text(encoding="utf-8").splitlines() for lang in ("en", "ja")]
    words = [[len(line.split()) for line in text] for text in texts]
    pick = rng.integers(0, len(words[0]), pairs)
    for prefix, lengths in zip(prefixes, words, strict=True):
        offsets = np.zeros(pairs + 1, np.int64)
        np.cumsum(np.asarray(lengths)[pick], out=offsets[1:])
        offsets.tofile(f"{prefix}.offsets")
        with open(f"{prefix}.ids", "wb") as f:
            for start in range(0, int(offsets[-1]), 50_000_000):
                rng.integers(4, 8000, min(50_000_000, int(offsets[-1]) - start), dtype=np.int32).tofile(f)
    return prefixes


def limit_memory(limit: str) -> None:
    if CGROUP.exists():
        CGROUP.rmdir()  # a fresh cgroup: nothing charged to it yet
    CGROUP.mkdir()
    (CGROUP / "memory.limit_in_bytes").write_text(limit)
    (CGROUP / "cgroup.procs").write_text(str(os.getpid()))


def advise(corpora: list[EncodedCorpus], advice: int) -> None:
    for corpus in corpora:
        for array in (corpus.ids, corpus.offsets):
            mapping_of(array).madvise(advice)


def time_lengths(prefixes: list[Path]) -> None:
    for name, ahead in [("MADV_RANDOM", False), ("read-ahead for it", True)] * 3:
        Path("/proc/sys/vm/drop_caches").write_text("1")  # no map of the corpus is alive here (see below)
        print(f"{name:20s} both sides' lengths, cold: {_cold_lengths(prefixes, ahead):.2f} s", flush=True)


def _cold_lengths(prefixes: list[Path], ahead: bool) -> float:
    """Seconds for both sides' lengths; the maps die on return, so that the next drop empties the cache."""
    corpora = [EncodedCorpus.load(p) for p in prefixes]
    start = time.perf_counter()
    for corpus in corpora:  # lengths() reads ahead; the plain diff reads under the load's MADV_RANDOM
        corpus.lengths() if ahead else np.diff(corpus.offsets).astype(np.int32)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("pairs", type=int)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cache-reads"))
    parser.add_argument("--memory-limit", help="e.g. 2G: run in a memory cgroup with this limit (root)")
    parser.add_argument("--compute", type=float, default=0.6, help="seconds of work between batches")
    parser.add_argument("--batches", type=int, default=30, help="batches per measurement")
    parser.add_argument("--lengths", action="store_true", help="time the cold pass over the offsets instead")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    prefixes = write_corpus(args.data, args.pairs, args.work)
    os.sync()
    if args.lengths:
        time_lengths(prefixes)
        return
    Path("/proc/sys/vm/drop_caches").write_text("1")  # start cold: the corpus is read from disk
    if args.memory_limit:
        limit_memory(args.memory_limit)
    torch.set_num_threads(2)
    corpora = [EncodedCorpus.load(p) for p in prefixes]
    batches = token_batches(np.maximum(corpora[0].lengths(), corpora[1].lengths() + 1), 4096, seed=1, epoch=0)
    work = torch.randn(1024, 1024)
    settings = [("default read-around", mmap.MADV_NORMAL), ("MADV_RANDOM", mmap.MADV_RANDOM)] * 2
    for round_, (name, advice) in enumerate(settings):
        advise(corpora, advice)
        building, start = 0.0, time.perf_counter()
        for idx in batches[round_ * args.batches : (round_ + 1) * args.batches]:
            t = time.perf_counter()
            collate(idx, corpora[1], corpora[0])
            building += time.perf_counter() - t
            until = time.perf_counter() + args.compute
            while time.perf_counter() < until:
                work @ work
        per_batch = (time.perf_counter() - start) / args.batches
        print(f"{name:20s} building a batch {building / args.batches:.3f} s, batch + compute {per_batch:.3f} s",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
