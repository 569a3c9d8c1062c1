"""A binary file given as text (a model file as --train, say) is refused with file:line, never trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqtool.data.corpus import corpus_stats, read_lines
from seqtool.errors import DataError
from tests.conftest import assert_clean_error, run_cli


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(b"a first line\nsecond \x00\x01\x02 line\nthird\n")
    return path


def test_reader_refuses_nul_bytes_with_file_and_line(tmp_path: Path) -> None:
    path = _binary(tmp_path)
    lines = read_lines(path)
    assert next(lines) == (1, "a first line")  # text before the binary part is read as usual
    with pytest.raises(DataError, match=rf"^{path}:2: NUL byte at byte 7: this is a binary file.*UTF-8 text"):
        next(lines)
    with pytest.raises(DataError, match=r":2: NUL byte"):
        corpus_stats(path)


def test_text_with_other_control_characters_is_still_text(tmp_path: Path) -> None:
    path = tmp_path / "tabs.txt"
    path.write_bytes(b"a\tb\x0bc\r\n")
    assert list(read_lines(path)) == [(1, "a\tb\x0bc")]


def test_train_lm_on_a_binary_file_exits_2_and_leaves_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    binary = _binary(tmp_path)
    dev = tmp_path / "dev.txt"
    dev.write_text("a first line\n", encoding="utf-8")
    r = run_cli("train-lm", "--train", str(binary), "--dev", str(dev), "--epochs", "1", "--name", "b", "-w", str(ws))
    assert_clean_error(r, f"{binary}:2: NUL byte")
    assert not (ws / "models" / "b").exists()
