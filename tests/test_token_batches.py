"""Length-bucketed batches (seqtool.data.batching.token_batches): every sentence exactly once, no batch over
its token budget unless it holds one over-long sentence, and the greedy cut a reader expects; and the encoded
corpus they are read from, mapped for random reads."""

import sys
from pathlib import Path

import numpy as np
import pytest

from seqtool.data.batching import EncodedCorpus, encode_corpus, sequential_reads, token_batches
from seqtool.data.tokenizers import train_tokenizer


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


def test_an_encoded_corpus_reads_back_its_sentences_from_maps_marked_for_random_reads(tmp_path):
    lines = [f"line {i} " + "word " * (i % 7) for i in range(300)]
    text = tmp_path / "train.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tok = train_tokenizer(iter(lines), "word", lang="en")
    (encoded,), stats = encode_corpus([[text]], [tok], tmp_path / "cache" / "train")
    again = EncodedCorpus.load(tmp_path / "cache" / "train.0")
    assert stats.kept == len(again) == 300
    assert [tok.decode(again.sentence(i)) for i in (0, 5, 299)] == [lines[i].strip() for i in (0, 5, 299)]
    assert not again.ids.flags.writeable  # the cache is read-only while training
    if sys.platform == "linux":  # the kernel lists the map's flags: "rr" is MADV_RANDOM (no read-around)
        ids, offsets = (tmp_path / "cache" / f"train.0.{part}" for part in ("ids", "offsets"))
        assert map_flags(ids) == map_flags(offsets) == {"rr"}
        with sequential_reads(again.offsets):  # the one pass in order (lengths()) reads ahead instead
            assert "sr" in map_flags(offsets) and map_flags(ids) == {"rr"}
        assert map_flags(offsets) == {"rr"}
        assert np.array_equal(again.lengths(), [len(again.sentence(i)) for i in range(len(again))])


def map_flags(path: Path) -> set[str]:
    """The read-advice flags ("rr" random, "sr" sequential) of this process's maps of ``path``."""
    blocks = Path("/proc/self/smaps").read_text().split(str(path) + "\n")[1:]
    assert blocks, f"{path} is not mapped"
    flags = set()
    for block in blocks:
        flags |= {f for f in block.split("VmFlags:")[1].split("\n")[0].split() if f in ("rr", "sr")}
    return flags
