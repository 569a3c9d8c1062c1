"""Length-bucketed batches (seqtool.data.batching.token_batches): every sentence exactly once, no batch over
its token budget unless it holds one over-long sentence, and the greedy cut a reader expects."""

import numpy as np
import pytest

from seqtool.data.batching import token_batches


def greedy_reference(lengths: np.ndarray, max_tokens: int, pool: int) -> list[list[int]]:
    """The cut spelled out one sentence at a time (how it was written before it took one numpy step a
    batch): within each pool sorted by length, add sentences while ``count × longest`` fits."""
    batches: list[list[int]] = []
    order = np.arange(len(lengths))
    for start in range(0, len(order), pool):
        part = order[start : start + pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        current: list[int] = []
        longest = 0
        for idx in part:
            grown = max(longest, int(lengths[idx]))
            if current and (len(current) + 1) * grown > max_tokens:
                batches.append(current)
                current, grown = [], int(lengths[idx])
            current.append(int(idx))
            longest = grown
        if current:
            batches.append(current)
    return batches


@pytest.mark.parametrize(
    ("seed", "max_tokens", "pool", "high"),
    [(0, 4096, 65536, 80), (1, 100, 37, 150), (2, 1, 16, 5), (3, 845, 1000, 900), (4, 64, 7, 64)],
)
def test_batches_are_the_greedy_cut_of_each_sorted_pool(seed, max_tokens, pool, high):
    lengths = np.random.default_rng(seed).integers(1, high, size=3000).astype(np.int32)
    got = token_batches(lengths, max_tokens, seed=seed, epoch=0, shuffle=False, pool=pool)
    assert [b.tolist() for b in got] == greedy_reference(lengths, max_tokens, pool)


def test_every_sentence_once_and_no_batch_over_budget_unless_alone():
    lengths = np.random.default_rng(5).integers(1, 300, size=20000).astype(np.int32)
    batches = token_batches(lengths, 512, seed=3, epoch=7)
    flat = np.concatenate(batches)
    assert np.array_equal(np.sort(flat), np.arange(len(lengths)))
    for b in batches:
        assert len(b) * int(lengths[b].max()) <= 512 or len(b) == 1
    again = token_batches(lengths, 512, seed=3, epoch=7)  # a pure function of seed and epoch: resumable
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    assert not np.array_equal(np.concatenate(token_batches(lengths, 512, seed=3, epoch=8)), flat)
