import collections

import pytest

from seqtool.data.corpus import check_parallel, corpus_stats, read_lines, reservoir_sample
from seqtool.errors import DataError


def test_read_lines_accepts_crlf_and_bom(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"\xef\xbb\xbfhello world\r\nsecond line\r\n")
    assert list(read_lines(p)) == [(1, "hello world"), (2, "second line")]


def test_invalid_utf8_names_file_and_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"ok\nstill ok\nbad \xff byte\n")
    with pytest.raises(DataError, match=r"bad.txt:3: invalid UTF-8"):
        list(read_lines(p))


@pytest.mark.parametrize("make", ["missing", "empty", "dir"])
def test_unreadable_inputs(tmp_path, make):
    p = tmp_path / "x"
    if make == "empty":
        p.write_text("")
    elif make == "dir":
        p.mkdir()
    with pytest.raises(DataError, match={"missing": "no such file", "empty": "empty", "dir": "directory"}[make]):
        list(read_lines(p))


def test_parallel_line_counts(tmp_path):
    a, b = tmp_path / "a.en", tmp_path / "a.ja"
    a.write_text("one\ntwo\nthree\n")
    b.write_text("一\n二\n")
    with pytest.raises(DataError, match="a.en has 3 lines, .*a.ja has 2"):
        check_parallel(a, b)
    b.write_text("一\n二\n三")  # no final newline still counts
    assert check_parallel(a, b) == 3


def test_corpus_stats(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("a b c\na b\n\n")
    s = corpus_stats(p)
    assert (s.sentences, s.words, s.vocabulary, s.empty_lines, s.max_length) == (3, 5, 3, 1, 3)
    assert s.length_histogram["1-5"] == 2


def test_reservoir_sample_keeps_everything_when_small_and_draws_uniformly_when_not():
    assert reservoir_sample(iter(range(7)), 10) == list(range(7))  # all, in order
    sample = reservoir_sample((i for i in range(100_000)), 1_000, seed=3)
    assert len(sample) == len(set(sample)) == 1_000 and all(0 <= i < 100_000 for i in sample)
    assert reservoir_sample(range(100_000), 1_000, seed=3) == sample  # the same seed, the same sample
    assert max(sample) > 90_000  # the end of the stream is reached, not only its start
    # Each of 20 items is kept by 5 of 20 draws: over 4,000 seeds, ~1,000 times each (sd ~27).
    counts = collections.Counter(i for seed in range(4_000) for i in reservoir_sample(range(20), 5, seed=seed))
    assert sorted(counts) == list(range(20))
    assert all(850 < c < 1_150 for c in counts.values()), counts


def test_sentencepiece_prepares_only_its_sample(monkeypatch):
    from seqtool.data.tokenizers import SentencePieceTokenizer, WordTokenizer

    prepared = 0
    prepare = WordTokenizer.prepare

    def counting(self, text):
        nonlocal prepared
        prepared += 1
        return prepare(self, text)

    monkeypatch.setattr(WordTokenizer, "prepare", counting)
    words = [
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "while",
        "my",
        "dog",
        "ate",
        "his",
        "dinner",
        "near",
        "our",
        "old",
        "red",
        "barn",
    ]
    lines = (" ".join(words[(i + j) % len(words)] for j in range(6)) for i in range(5_000))
    tok = SentencePieceTokenizer.train(lines, vocab_size=60, max_sentences=300)
    assert prepared == 300
    assert tok.decode(tok.encode("the cat sat on a mat")) == "the cat sat on a mat"
