"""Hypothesis fuzzing of the parsers that read what users type or hand over.

Each parser must be *total* on its input domain: it returns a result or raises its documented
:class:`~seqtool.errors.SeqtoolError` subclass, never any other exception (which the CLI would
report as an internal error). Where a simple oracle exists the result is checked against it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from seqtool.data.corpus import read_lines
from seqtool.data.specials import BOS, EOS, PAD, UNK
from seqtool.data.text import normalize_english
from seqtool.data.tokenizers import SPECIALS, WordTokenizer
from seqtool.errors import DataError, WorkspaceError
from seqtool.store.workspace import ModelDir, Workspace
from tests.conftest import assert_clean_error, run_cli

KINDS = ("lm", "mt", "embeddings", "dialog")  # values the fuzzer mixes into config.json "kind"

# deadline=None: the machine is shared, and a slow example is not a bug here.
fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per module: hypothesis runs many examples per test, function fixtures run once."""
    return tmp_path_factory.mktemp("fuzz")


# --- corpus reader -----------------------------------------------------------------------------------

# Pieces that make byte strings look like (broken) corpus files far more often than random bytes do.
corpus_pieces = st.sampled_from(
    [b"a", b"word ", b" ", b"\n", b"\r\n", b"\r", BOM, "日本".encode(), b"\xe6\x97", b"\xff", b"\x00", b"\xc0\xaf"]
)
corpus_bytes = st.one_of(st.binary(max_size=200), st.lists(corpus_pieces, max_size=60).map(b"".join))


def expected_read(data: bytes, max_line_bytes: int) -> list[tuple[int, str]] | int:
    """Oracle: the lines read_lines should yield, or the number of the first line it must reject."""
    parts = data.split(b"\n")
    raws = [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    lines = []
    for number, raw in enumerate(raws, start=1):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            if len(raw) > max_line_bytes or b"\x00" in raw:  # too long, or binary (a NUL byte)
                return number
            lines.append((number, raw.decode("utf-8").rstrip("\r\n")))
        except UnicodeDecodeError:
            return number
    return lines


@fuzz
@given(data=corpus_bytes, max_line_bytes=st.one_of(st.integers(1, 40), st.just(1_000_000)))
@example(data=BOM + b"\xff\n", max_line_bytes=100)
@example(data=b"x" * 50, max_line_bytes=10)
@example(data=b"ok\n\x00\n", max_line_bytes=100)
def test_read_lines_yields_lines_or_names_file_and_line(scratch, data, max_line_bytes):
    path = scratch / "corpus.txt"
    path.write_bytes(data)
    expected = expected_read(data, max_line_bytes)
    got: list[tuple[int, str]] = []
    try:
        got.extend(read_lines(path, max_line_bytes=max_line_bytes))
    except DataError as e:
        if not data:
            assert str(e) == f"{path}: file is empty"
            return
        assert isinstance(expected, int), (expected, e)
        assert re.match(rf"{re.escape(str(path))}:{expected}: (invalid UTF-8|line is longer than|NUL byte)", str(e)), e
        assert len(got) == expected - 1  # every line before the bad one was delivered
        return
    assert got == expected
    assert all("\n" not in text and not text.endswith("\r") for _, text in got)


def test_huge_line_is_rejected_with_file_and_line(tmp_path):
    # The catalogue's "line of 1 MB": one sentence per line means no line is this long.
    big = tmp_path / "big.txt"
    big.write_bytes(b"ok\n" + b"x" * 1_000_001 + b"\n")
    assert_clean_error(run_cli("data", "info", str(big)), f"{big}:2: line is longer than 1,000,000 bytes")


# --- English normalizer ------------------------------------------------------------------------------

# Punctuation-heavy text finds the interactions between the splitting rules that plain text misses.
english_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list("aI1 .,'!?;:\"()[]{}-\t\u2019\u201c\u2014\u2026\u0130\u00df")), max_size=30),
)


@fuzz
@given(english_text)
@example("a.!")  # was "a. !" then "a . !": the period only split once "!" had been separated
@example("0.{")
@example('he said "stop."')
@example("a..")
def test_english_normalizer_is_total_and_idempotent(text):
    once = normalize_english(text)
    assert normalize_english(once) == once
    assert once == once.strip() and "  " not in once and "\n" not in once and "\t" not in once
    assert once == once.lower()


# --- word tokenizer ----------------------------------------------------------------------------------

words = st.text(min_size=1, max_size=8).filter(lambda w: not any(c.isspace() for c in w) and w not in SPECIALS)


@fuzz
@given(
    vocab=st.lists(words, min_size=1, max_size=20, unique=True),
    picks=st.lists(st.integers(min_value=0), min_size=0, max_size=15),
    gap=st.sampled_from([" ", "  ", "\t", " \u3000 "]),
)
def test_word_tokenizer_round_trips_in_vocabulary_text(vocab, picks, gap):
    tok = WordTokenizer([*SPECIALS, *vocab])
    chosen = [vocab[i % len(vocab)] for i in picks]
    text = gap + gap.join(chosen)
    ids = tok.encode(text)
    assert ids == [tok.piece_to_id(w) for w in chosen] and all(i >= len(SPECIALS) for i in ids)
    assert tok.decode(ids) == " ".join(chosen)


@fuzz
@given(lines=st.lists(english_text, min_size=1, max_size=6))
@example(lines=["<BOS>"])  # a special piece typed as text is no word to learn
def test_trained_english_tokenizer_round_trips_its_training_text(lines):
    try:
        tok = WordTokenizer.train(lines, normalize="english")
    except DataError:
        probe = WordTokenizer(SPECIALS, "english")
        # only when there is no word at all, special pieces typed as text aside
        assert not any(set(probe.prepare(line).split()) - set(SPECIALS) for line in lines)
        return
    for line in lines:
        if set(tok.prepare(line).split()) & set(SPECIALS):
            continue  # "<eos>" typed as text is an unknown word, tested below
        ids = tok.encode(line)
        assert UNK not in ids  # every word of the training text is in the vocabulary
        decoded = tok.decode(ids)
        assert decoded == tok.prepare(line)  # normalized text, single spaces
        assert tok.encode(decoded) == ids  # and stable: decoding then encoding again changes nothing


@fuzz
@given(vocab=st.lists(words, max_size=5, unique=True), text=st.text())
@example(vocab=["x"], text="x <eos> <pad> <bos> <unk>")
def test_word_tokenizer_never_emits_control_ids_for_text(vocab, text):
    # Text that spells "<eos>" must not end a sequence early (it used to encode to the EOS id).
    tok = WordTokenizer([*SPECIALS, *vocab])
    ids = tok.encode(text)
    assert not {PAD, BOS, EOS} & set(ids)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert len(tok.decode(ids).split()) == len(ids)


# --- workspace config --------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10) | st.sampled_from(KINDS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["kind", "name", "x"]), inner),
    max_leaves=12,
)
config_bytes = st.one_of(
    st.binary(max_size=100),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.text(max_size=5), json_values, max_size=3).map(
        lambda d: json.dumps({**d, "kind": "lm"}).encode()
    ),
)


@fuzz
@given(config_bytes)
@example(b"1" * 5000)  # Python refuses int strings this long with a plain ValueError
@example(b"[" * 100_000)  # RecursionError inside the JSON decoder
@example(b'{"kind": ["lm"]}')
def test_model_config_is_a_dict_or_a_workspace_error(scratch, data):
    md = ModelDir(scratch / "model")
    md.path.mkdir(exist_ok=True)
    md.config_path.write_bytes(data)
    try:
        cfg = md.config()
    except WorkspaceError as e:
        assert str(e).startswith(str(md.config_path)), e
        return
    assert isinstance(cfg, dict) and isinstance(cfg["kind"], str) and cfg["kind"]


@fuzz
@given(config_bytes)
@example(b"[" * 100_000)
def test_workspace_defaults_never_raise(scratch, data):
    ws = Workspace(scratch / "ws")
    ws.root.mkdir(exist_ok=True)
    (ws.root / "defaults.json").write_bytes(data)
    assert isinstance(ws.defaults(), dict)


def test_config_with_bom_is_read_and_unreadable_config_is_a_workspace_error(tmp_path):
    md = ModelDir(tmp_path / "m")
    md.path.mkdir()
    md.config_path.write_bytes(BOM + b'{"kind": "mt", "name": "m"}')  # as saved by some Windows editors
    assert md.config()["kind"] == "mt"
    md.config_path.unlink()
    md.config_path.mkdir()
    with pytest.raises(WorkspaceError, match="config.json: cannot read"):
        md.config()


@pytest.mark.parametrize("content", [b"[" * 100_000, b'{"kind": 1' + b"1" * 5000 + b"}", b"\xff\xfe"])
def test_models_show_reports_a_broken_config_in_one_line(tmp_path, content):
    md = ModelDir(tmp_path / "ws" / "models" / "broken")
    md.path.mkdir(parents=True)
    md.config_path.write_bytes(content)
    result = run_cli("models", "show", "broken", "-w", str(tmp_path / "ws"))
    assert_clean_error(result, "config.json: not valid JSON")
    assert len(result.stderr.strip().splitlines()) == 1
