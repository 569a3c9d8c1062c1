import pytest

from seqtool.data.corpus import check_parallel, corpus_stats, read_lines
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
