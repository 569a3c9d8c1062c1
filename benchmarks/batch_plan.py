"""Time one epoch's batch plan (``token_batches``) for a corpus of N pairs: the work every epoch of
`train-mt` / `train-lm` does before its first step. Lengths are drawn from small_parallel_enja's own
padded lengths (resampled to N), so the batches look like the real ones.

    python3 benchmarks/batch_plan.py ../shared/data/small_parallel_enja 28000000

Prints the median of three runs, the number of batches and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from seqtool.data.batching import token_batches


def padded_lengths(data: Path) -> np.ndarray:
    """Words + 1 of the longer side of each training pair (a stand-in for pieces, which are close)."""
    src = (data / "train.en").read_text(encoding="utf-8").splitlines()
    tgt = (data / "train.ja").read_text(encoding="utf-8").splitlines()
    return np.array([max(len(s.split()), len(t.split())) + 1 for s, t in zip(src, tgt, strict=True)], np.int32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("pairs", type=int)
    parser.add_argument("--batch-tokens", type=int, default=4096)
    args = parser.parse_args()
    lengths = np.random.default_rng(0).choice(padded_lengths(args.data), size=args.pairs).astype(np.int32)
    times, count = [], 0
    for epoch in range(3):
        start = time.perf_counter()
        count = len(token_batches(lengths, args.batch_tokens, seed=1, epoch=epoch))
        times.append(time.perf_counter() - start)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"pairs {args.pairs:,}  batches {count:,}  median {statistics.median(times):.2f} s "
          f"(runs {', '.join(f'{t:.2f}' for t in times)})  peak RSS {peak_gb:.2f} GB")  # fmt: skip


if __name__ == "__main__":
    main()
