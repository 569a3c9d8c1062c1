"""The bad-input catalogue (docs/errors.md): one test per row not covered by another test file.

Every bad input must give one line on stderr (``error: ...``), exit code 2 (1 for an internal
error), no traceback unless ``--debug``, and leave the workspace byte-for-byte as it was. Most
commands run in-process (:func:`run_main`) to keep this file fast; the ``--debug`` rows run the
real entry point.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from seqtool.data.tokenizers import SPECIALS, WordTokenizer
from seqtool.errors import WorkspaceError
from seqtool.files import atomic_write_json
from seqtool.store.workspace import ModelDir
from tests.conftest import SAMPLE, assert_clean_error, make_lm_folder, make_mt_folder, run_cli, run_main, snapshot

TINY_LM = ["--cell", "gru", "--layers", "1", "--emb-dim", "16", "--hidden", "16", "--dropout", "0"]
QUICK = ["--epochs", "1", "--batch-size", "400", "--threads", "1", "--device", "cpu"]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace holding an LM called "lm" and a translator called "mt" (tiny, untrained)."""
    root = tmp_path / "ws"
    make_lm_folder(root / "models" / "lm")
    make_mt_folder(root / "models" / "mt")
    return root


def assert_one_line_error(code: int, err: str, *needles: str, exit_code: int = 2) -> None:
    assert code == exit_code, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def check_rejected(capsys, ws: Path, argv: list[str], *needles: str) -> None:
    """Run ``argv`` against ``ws``: a one-line error, exit 2, and the workspace unchanged."""
    before = snapshot(ws)
    uses_workspace = argv[0] != "data"  # `data info` reads files only
    code, _, err = run_main(capsys, *argv, *(["-w", str(ws)] if uses_workspace else []))
    assert_one_line_error(code, err, *needles)
    assert snapshot(ws) == before


def test_directory_instead_of_file(tmp_path, capsys, ws):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    expected = f"{folder}: is a directory, expected a text file"
    check_rejected(capsys, ws, ["train-lm", "--train", str(folder), "--name", "x", *TINY_LM, *QUICK], expected)
    check_rejected(capsys, ws, ["translate", "--input", str(folder), "-m", "mt"], expected)
    check_rejected(capsys, ws, ["data", "info", str(folder)], expected)


def test_crlf_and_bom_are_accepted_and_read_like_plain_lines(tmp_path, capsys, ws):
    """Training on a CRLF + BOM copy of the sample gives the same vocabulary as the original."""
    train, dev = SAMPLE / "enja/train.en", SAMPLE / "enja/dev.en"
    for path in (train, dev):
        text = path.read_text(encoding="utf-8").replace("\n", "\r\n")
        (tmp_path / path.name).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    for name, folder in (("plain", SAMPLE / "enja"), ("windows", tmp_path)):
        args = ["train-lm", "--train", str(folder / "train.en"), "--dev", str(folder / "dev.en"), "--name", name]
        code, _, err = run_main(capsys, *args, *TINY_LM, *QUICK, "-w", str(ws))
        assert code == 0, err
    vocab = {n: (ws / "models" / n / "tokenizer.vocab.json").read_text() for n in ("plain", "windows")}
    assert vocab["plain"] == vocab["windows"]
    assert "\r" not in vocab["windows"] and "\ufeff" not in vocab["windows"]


def test_a_megabyte_line_is_rejected_with_file_and_line(tmp_path, capsys, ws):
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"a short line\n" + b"word " * 200_001 + b"\n")  # line 2: 1,000,005 bytes
    expected = f"{huge}:2: line is longer than 1,000,000 bytes"
    check_rejected(capsys, ws, ["train-lm", "--train", str(huge), "--name", "x", *TINY_LM, *QUICK], expected)
    check_rejected(capsys, ws, ["data", "info", str(huge)], expected)
    assert not (ws / "models" / "x").exists()


def test_unwritable_workspace(tmp_path, capsys):
    """Tests run as root, so chmod cannot make a folder unwritable: a regular file in the path can."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    unwritable = blocker / "ws"
    source = make_lm_folder(tmp_path / "src")
    for argv in (
        ["train-lm", "--name", "x", *TINY_LM, *QUICK],
        ["models", "import", str(source)],
    ):
        code, _, err = run_main(capsys, *argv, "-w", str(unwritable))
        assert_one_line_error(code, err, f"workspace {unwritable} is not writable (Not a directory)")
    assert blocker.read_text() == "not a folder\n"


def no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_during_save_keeps_the_previous_file(tmp_path, capsys, monkeypatch, ws):
    # The atomic writer's fsync is where a full disk shows up (data is flushed to the device there).
    monkeypatch.setattr("seqtool.files.os.fsync", no_space)
    # A library write over an existing file: the previous version survives, no temporary is left.
    md = ModelDir(ws / "models" / "lm")
    before = md.config_path.read_bytes()
    with pytest.raises(WorkspaceError, match="cannot write .*config.json \\(No space left on device\\)"):
        md.write_config({**md.config(), "status": "changed"})
    assert md.config_path.read_bytes() == before
    assert not list(md.path.glob("*.tmp"))
    # The command line: one line, exit 2, and the half-made model folder is gone again.
    check_rejected(
        capsys, ws, ["train-lm", "--name", "new", *TINY_LM, *QUICK], "No space left on device", "the previous version"
    )
    assert not (ws / "models" / "new").exists()


def test_permission_error_outside_the_atomic_writers_is_one_line(capsys, monkeypatch, ws):
    def denied(self):  # noqa: ANN001
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self.root / "models"))

    monkeypatch.setattr("seqtool.store.workspace.Workspace.ensure_writable", denied)
    check_rejected(capsys, ws, ["train-lm", "--name", "x", *TINY_LM, *QUICK], "models: Permission denied")


INVALID_OPTIONS = [
    (["train-lm", "--hidden", "-5"], "--hidden must be > 0, got -5"),
    (["train-lm", "--emb-dim", "0"], "--emb-dim must be > 0, got 0"),
    (["train-lm", "--layers", "-1"], "--layers must be > 0, got -1"),
    (["train-lm", "--batch-size", "-400"], "--batch-size must be > 0, got -400"),
    (["train-lm", "--epochs", "0"], "--epochs must be > 0, got 0"),
    (["train-lm", "--lr", "-0.1"], "--lr must be > 0, got -0.1"),
    (["train-lm", "--dropout", "1.5"], "--dropout must be in [0, 1), got 1.5"),
    (["train-lm", "--threads", "0"], "--threads must be > 0, got 0"),
    (["train-lm", "--cell", "mamba"], "--cell must be one of"),
    (["train-lm", "--cell", "wavenet", "--kernel", "1"], "--kernel must be >= 2"),
    (["train-lm", "--cell", "gru", "--kernel", "3"], "--kernel does not apply to --cell gru (its settings: --"),
    (
        ["train-mt", "--arch", "transformer", "--emb-dim", "30", "--heads", "4"],
        "--emb-dim 30 must be divisible by --heads 4",
    ),
    (["train-mt", "--arch", "transformer", "--layers", "0"], "--layers must be > 0, got 0"),
    (["train-mt", "--segment", "kytea"], "--segment must be one of auto, none, mecab, got 'kytea'"),
    (["train-mt", "--arch", "gru", "--heads", "4"], "--heads is not an option of --arch gru (it takes --emb-dim"),
    (["translate", "hello", "-m", "mt", "--beam", "0"], "--beam must be > 0, got 0"),
    (["translate", "hello", "-m", "mt", "--batch-size", "-1"], "--batch-size must be > 0, got -1"),
    (["translate", "hello", "-m", "mt", "--beam", "2", "--nbest", "3"], "need 1 <= --nbest <= --beam"),
    (["predict-next", "my father", "-m", "lm", "--top", "0"], "--top must be > 0, got 0"),
    (["generate", "-m", "lm", "--num", "0"], "--num must be > 0, got 0"),
    (["generate", "-m", "lm", "--temperature", "0"], "--temperature must be > 0, got 0"),
    (["generate", "-m", "lm", "--max-words", "-3"], "--max-words must be > 0, got -3"),
]


@pytest.mark.parametrize(("argv", "message"), INVALID_OPTIONS, ids=[" ".join(a[:3]) for a, _ in INVALID_OPTIONS])
def test_invalid_option_values(capsys, ws, argv, message):
    if argv[0] == "train-lm":  # tiny settings first: the option under test comes later and wins
        argv = ["train-lm", "--name", "x", *TINY_LM, *QUICK, *argv[1:]]
    elif argv[0] == "train-mt":
        argv = [*argv, "--name", "x", *QUICK]
    check_rejected(capsys, ws, [*argv, "--device", "cpu"], message)
    assert not (ws / "models" / "x").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict-next", "hello", "-m", "nope"], "no model named 'nope' in workspace"),
        (["translate", "hello", "-m", "nope"], "(models: lm, mt)"),
        (["translate", "hello", "-m", "lm"], "model 'lm' is a lm model, but this command needs a mt model"),
        (["predict-next", "hello", "-m", "mt"], "model 'mt' is a mt model, but this command needs a lm model"),
        (["generate", "-m", "mt"], "needs a lm model"),
        (["evaluate", "lm", "-m", "mt"], "needs a lm model"),
        (["models", "show", "nope"], "no model named 'nope'"),
        (["models", "rm", "nope"], "no model named 'nope'"),
        (["train-lm", "--resume", "--name", "nope", *QUICK], "no model 'nope' to resume in"),
        (["train-lm", "--resume", *QUICK], "--resume needs --name NAME"),
    ],
)
def test_unknown_model_name_and_wrong_kind(capsys, ws, argv, message):
    check_rejected(capsys, ws, argv, message)


def test_debug_shows_the_traceback_and_the_default_does_not(ws):
    plain = run_cli("predict-next", "hello", "-m", "nope", "-w", str(ws))
    assert_clean_error(plain, "no model named 'nope'")
    debug = run_cli("--debug", "predict-next", "hello", "-m", "nope", "-w", str(ws))
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "ModelNotFoundError" in debug.stderr


def test_internal_errors_exit_1_with_a_hint_not_a_traceback(capsys, monkeypatch, ws):
    def bug(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("seqtool.tasks.lm.predict_next", bug)
    code, _, err = run_main(capsys, "predict-next", "hello", "-m", "lm", "-w", str(ws), "--device", "cpu")
    assert_one_line_error(code, err, "internal error: ZeroDivisionError", "--debug", exit_code=1)


def test_torn_last_metrics_line_is_skipped_and_other_bad_lines_are_errors(capsys, ws):
    md = ModelDir(ws / "models" / "lm")
    good = md.metrics_path.read_text()
    md.metrics_path.write_text(good + '{"epoch": 2, "step": 6, "train_lo')  # a writer killed mid-line
    assert [r["epoch"] for r in md.metrics()] == [1]
    code, out, err = run_main(capsys, "models", "show", "lm", "--json", "-w", str(ws))
    assert code == 0 and [r["epoch"] for r in json.loads(out)["metrics"]] == [1], err
    md.metrics_path.write_text('{"epoch": 1, "tor\n' + good)  # a bad line that is not the last
    check_rejected(capsys, ws, ["models", "show", "lm"], "metrics.jsonl:1: not valid JSON")
    md.metrics_path.write_text(good + "[1, 2]\n")
    check_rejected(capsys, ws, ["models", "show", "lm"], "metrics.jsonl:2: expected a JSON object per line")


def test_word_vocabulary_as_a_token_to_id_object(capsys, ws):
    md = ModelDir(ws / "models" / "lm")
    vocab_path = md.file("tokenizer.vocab.json")
    tokens = json.loads(vocab_path.read_text())
    atomic_write_json(vocab_path, {t: i for i, t in enumerate(tokens)})  # the layout of many other tools
    code, out, err = run_main(capsys, "predict-next", "my father", "-m", "lm", "--json", "-w", str(ws))
    assert code == 0, err
    assert len(json.loads(out)["results"]) == 5
    tokenizer = WordTokenizer.load(md.path, md.config()["tokenizer"])
    assert tokenizer.tokens == tokens and tokenizer.tokens[: len(SPECIALS)] == list(SPECIALS)
    for broken, message in (
        ({"<pad>": 0, "<unk>": 2}, "needs the ids 0..1, each once"),
        ([0, 1, 2], "must be a JSON list of strings"),
        ("just a string", "must be a JSON list of strings"),
    ):
        atomic_write_json(vocab_path, broken)
        check_rejected(capsys, ws, ["predict-next", "my father", "-m", "lm", "--device", "cpu"], message)
