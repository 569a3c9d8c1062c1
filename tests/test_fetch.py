"""`seqtool data fetch` / `data list` against a local HTTP server on 127.0.0.1 (never the internet).

The server serves generated files, supports ``Range: bytes=N-`` and can be switched per file into
failure modes: cut the connection half-way (once or every time), answer 500 or 404, ignore Range.
A test corpus entry with the generated files' SHA-256 is injected into the registry.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import random
import re
import socket
import threading
import types
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from seqtool.cli import main
from seqtool.data import registry
from seqtool.data.download import FetchProgress, fetch
from seqtool.data.registry import Corpus, CorpusFile, FetchError, corpus_status
from seqtool.errors import OptionError
from tests.conftest import assert_clean_error, run_cli


@dataclass
class ServerState:
    files: dict[str, bytes]
    modes: dict[str, str] = field(default_factory=dict)  # file -> cut-once | cut-always | 500 | 404 | no-range
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0 (one request per connection, so returning early closes the connection)."""

    state: ServerState

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        name = urllib.parse.unquote(self.path.lstrip("/"))
        range_header = self.headers.get("Range")
        self.state.requests.append((name, range_header))
        mode = self.state.modes.get(name, "")
        data = self.state.files.get(name)
        if mode == "500":
            self.send_error(500, "Internal Server Error")
            return
        if data is None or mode == "404":
            self.send_error(404, "Not Found")
            return
        start = 0
        if range_header and mode != "no-range":
            match = re.fullmatch(r"bytes=(\d+)-", range_header)
            assert match, range_header
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode.startswith("cut"):
            if mode == "cut-once":
                self.state.modes.pop(name)
            self.wfile.write(body[: len(body) // 2])  # then the connection closes early
            return
        self.wfile.write(body)


def make_files(seed: int = 0) -> dict[str, bytes]:
    """A tiny parallel corpus; train.en spans several download chunks so a cut falls mid-file."""
    rng = random.Random(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "猫", "が", "座っ", "た", "。"]

    def text(lines: int) -> bytes:
        return "".join(" ".join(rng.choices(words, k=rng.randint(3, 12))) + "\n" for _ in range(lines)).encode()

    return {"train.en": text(8000), "train.ja": text(300), "dev.en": text(20), "dev.ja": text(20)}


def corpus_for(name: str, base_url: str, files: dict[str, bytes]) -> Corpus:
    entries = tuple(CorpusFile(n, hashlib.sha256(b).hexdigest()) for n, b in files.items())
    return Corpus(name=name, description="generated test corpus", base_url=base_url, files=entries)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment would route 127.0.0.1 requests elsewhere.
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server() -> Iterator[tuple[ServerState, str]]:
    state = ServerState(files=make_files())
    handler = type("Handler", (RangeHandler,), {"state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def tiny(server, monkeypatch: pytest.MonkeyPatch) -> tuple[ServerState, Corpus]:
    """The server plus a registry entry ``tiny`` whose files and checksums are the server's."""
    state, url = server
    corpus = corpus_for("tiny", url, state.files)
    monkeypatch.setattr(registry, "CORPORA", {"tiny": corpus})
    return state, corpus


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on: connecting is refused, like having no network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def requests_for(state: ServerState, name: str) -> list[str | None]:
    return [r for n, r in state.requests if n == name]


def assert_installed(directory: Path, files: dict[str, bytes]) -> None:
    assert sorted(p.name for p in directory.iterdir()) == sorted(files)  # no .part left behind
    for name, data in files.items():
        assert (directory / name).read_bytes() == data


# --- library ---------------------------------------------------------------------------------------


def test_download_verifies_and_rerun_is_a_no_op(tiny, tmp_path):
    state, corpus = tiny
    events: list[FetchProgress] = []
    result = fetch("tiny", tmp_path / "d", progress=events.append)
    assert_installed(tmp_path / "d", state.files)
    assert [f.action for f in result.files] == ["downloaded"] * 4
    size = len(state.files["train.en"])
    train = [e for e in events if e.file == "train.en"]
    assert [e.stage for e in train][:2] == ["start", "advance"] and train[-1].stage == "done"
    assert max(e.done for e in train if e.stage == "advance") == size and train[0].total == size
    assert all(r is None for _, r in state.requests)  # nothing to resume the first time

    seen = len(state.requests)
    again = fetch("tiny", tmp_path / "d")
    assert [f.action for f in again.files] == ["present"] * 4
    assert len(state.requests) == seen  # verified files are not downloaded again


def test_modified_file_is_downloaded_again(tiny, tmp_path):
    state, _ = tiny
    fetch("tiny", tmp_path)
    (tmp_path / "dev.ja").write_bytes(b"edited\n")
    result = fetch("tiny", tmp_path)
    assert {f.name: f.action for f in result.files}["dev.ja"] == "downloaded"
    assert [f.action for f in result.files].count("present") == 3
    assert_installed(tmp_path, state.files)


def test_checksum_mismatch_deletes_the_download(tiny, tmp_path):
    state, _ = tiny
    state.files["dev.en"] = b"not what the registry expects\n"
    with pytest.raises(FetchError, match=r"dev.en: SHA-256 mismatch .*deleted the download"):
        fetch("tiny", tmp_path)
    assert not (tmp_path / "dev.en").exists() and not (tmp_path / "dev.en.part").exists()
    assert (tmp_path / "train.en").exists()  # files before it verified and stay


def test_interrupted_download_resumes_with_range(tiny, tmp_path):
    state, _ = tiny
    state.modes["train.en"] = "cut-once"
    size = len(state.files["train.en"])
    events: list[FetchProgress] = []
    result = fetch("tiny", tmp_path, progress=events.append)
    assert_installed(tmp_path, state.files)
    assert {f.name: f.action for f in result.files}["train.en"] == "resumed"
    assert requests_for(state, "train.en") == [None, f"bytes={size // 2}-"]
    assert any(e.stage == "retry" and e.done == size // 2 for e in events)


def test_interrupted_download_resumes_on_the_next_run(tiny, tmp_path):
    state, _ = tiny
    state.modes["train.en"] = "cut-always"
    size = len(state.files["train.en"])
    with pytest.raises(FetchError, match=r"train.en .*interrupted.*run the same command again to resume"):
        fetch("tiny", tmp_path, attempts=1)
    part = tmp_path / "train.en.part"
    assert part.read_bytes() == state.files["train.en"][: size // 2]
    assert corpus_status(registry.CORPORA["tiny"], tmp_path).state == "partial"

    del state.modes["train.en"]
    fetch("tiny", tmp_path)
    assert requests_for(state, "train.en")[-1] == f"bytes={size // 2}-"
    assert_installed(tmp_path, state.files)


def test_server_that_ignores_range_rewrites_the_part_file(tiny, tmp_path):
    state, _ = tiny
    state.modes["dev.en"] = "no-range"
    (tmp_path / "dev.en.part").write_bytes(b"stale bytes from some other download")
    fetch("tiny", tmp_path)
    assert requests_for(state, "dev.en") == ["bytes=36-"]
    assert_installed(tmp_path, state.files)


def test_complete_part_file_is_verified_and_installed(tiny, tmp_path):
    # e.g. killed between the last byte and the rename: the server answers 416 to the Range request
    state, _ = tiny
    (tmp_path / "dev.ja.part").write_bytes(state.files["dev.ja"])
    fetch("tiny", tmp_path)
    assert requests_for(state, "dev.ja") == [f"bytes={len(state.files['dev.ja'])}-"]
    assert_installed(tmp_path, state.files)


@pytest.mark.parametrize("code", ["500", "404"])
def test_server_error_is_a_clear_error_and_creates_nothing(tiny, tmp_path, code):
    state, _ = tiny
    state.modes["train.en"] = code
    target = tmp_path / "ws" / "data" / "tiny"
    with pytest.raises(FetchError, match=rf"train.en: the server answered {code} .*--mirror"):
        fetch("tiny", target)
    assert not (tmp_path / "ws").exists()


def test_no_network_suggests_mirror(tiny, tmp_path, monkeypatch, closed_port):
    _, corpus = tiny
    offline = Corpus("tiny", corpus.description, f"http://127.0.0.1:{closed_port}/", corpus.files)
    monkeypatch.setattr(registry, "CORPORA", {"tiny": offline})
    with pytest.raises(FetchError, match=rf"cannot reach 127.0.0.1:{closed_port} .*use --mirror URL\|DIR"):
        fetch("tiny", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_mirror_directory_and_url(tiny, tmp_path):
    state, corpus = tiny
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in state.files.items():
        (mirror / name).write_bytes(data)
    result = fetch("tiny", tmp_path / "a", mirror=str(mirror))
    assert [f.action for f in result.files] == ["copied"] * 4
    assert_installed(tmp_path / "a", state.files)
    assert state.requests == []

    (mirror / "dev.ja").unlink()
    with pytest.raises(FetchError, match="has no file dev.ja"):
        fetch("tiny", tmp_path / "b", mirror=str(mirror))

    # a URL mirror replaces the registry's base URL
    monkeypatch_url = Corpus("tiny", corpus.description, "http://127.0.0.1:1/unused/", corpus.files)
    registry.CORPORA["tiny"] = monkeypatch_url
    fetch("tiny", tmp_path / "c", mirror=corpus.base_url)
    assert_installed(tmp_path / "c", state.files)


def test_bad_arguments_are_rejected_before_touching_disk(tiny, tmp_path):
    with pytest.raises(OptionError, match="unknown corpus 'nope'; known corpora: tiny"):
        fetch("nope", tmp_path / "x")
    with pytest.raises(OptionError, match="--mirror .*does not exist"):
        fetch("tiny", tmp_path / "x", mirror=str(tmp_path / "no-such-dir"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(OptionError, match="--dir .*is a file"):
        fetch("tiny", tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_status_reports_each_state(tiny, tmp_path):
    state, _ = tiny
    ws = tmp_path / "ws"
    [before] = registry.status(ws)
    assert before.state == "missing" and before.directory == str(ws / "data" / "tiny")
    fetch("tiny", ws / "data" / "tiny")
    [after] = registry.status(ws)
    assert after.state == "present" and all(f.verified for f in after.files)
    (ws / "data" / "tiny" / "dev.en").write_bytes(b"changed\n")
    [changed] = registry.status(ws)
    assert changed.state == "modified"
    assert [f.name for f in changed.files if f.verified is False] == ["dev.en"]


# --- CLI in this process (the injected registry is visible) -----------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> types.SimpleNamespace:
    """Run the real `main` here and return what run_cli would: returncode, stdout, stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return types.SimpleNamespace(returncode=exited.value.code, stdout=captured.out, stderr=captured.err)


def assert_one_line_error(result: types.SimpleNamespace, *needles: str) -> None:
    assert_clean_error(result, *needles)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")


def test_cli_fetch_and_list(tiny, tmp_path, capsys):
    state, _ = tiny
    ws = str(tmp_path / "ws")
    result = cli(capsys, "data", "fetch", "tiny", "-w", ws)
    assert result.returncode == 0, result.stderr
    assert "tiny: 4 files verified in" in result.stdout and "(4 fetched)" in result.stdout
    assert_installed(tmp_path / "ws" / "data" / "tiny", state.files)

    again = cli(capsys, "data", "fetch", "tiny", "-w", ws, "--json")
    assert again.returncode == 0
    assert [f["action"] for f in json.loads(again.stdout)["files"]] == ["present"] * 4

    listed = cli(capsys, "data", "list", "-w", ws, "--json")
    [entry] = json.loads(listed.stdout)["corpora"]
    assert entry["name"] == "tiny" and entry["state"] == "present"
    table = cli(capsys, "data", "list", "-w", ws)
    assert table.returncode == 0 and "tiny" in table.stdout and "present" in table.stdout


def test_cli_fetch_into_dir(tiny, tmp_path, capsys):
    state, _ = tiny
    result = cli(capsys, "data", "fetch", "tiny", "--dir", str(tmp_path / "here"))
    assert result.returncode == 0, result.stderr
    assert_installed(tmp_path / "here", state.files)


@pytest.mark.parametrize(
    ("mode", "needle"),
    [
        ("mismatch", "SHA-256 mismatch"),
        ("500", "the server answered 500"),
        ("404", "the server answered 404"),
        ("cut-always", "run the same command again to resume"),
    ],
)
def test_cli_failures_are_one_line_exit_2(tiny, tmp_path, capsys, mode, needle):
    state, _ = tiny
    if mode == "mismatch":
        state.files["train.ja"] = b"tampered\n"
    else:
        state.modes["train.ja"] = mode
    assert_one_line_error(cli(capsys, "data", "fetch", "tiny", "-w", str(tmp_path / "ws")), needle)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--mirror", "{tmp}/no-such-dir"], "--mirror {tmp}/no-such-dir: does not exist"),
        (["--dir", "{tmp}/a-file"], "--dir {tmp}/a-file: is a file"),
    ],
)
def test_cli_bad_options_one_line_exit_2(tiny, tmp_path, capsys, extra, needle):
    (tmp_path / "a-file").write_text("x")
    args = [a.format(tmp=tmp_path) for a in extra]
    assert_one_line_error(
        cli(capsys, "data", "fetch", "tiny", "-w", str(tmp_path / "ws"), *args), needle.format(tmp=tmp_path)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_cli_no_network_one_line_exit_2(tiny, tmp_path, capsys, closed_port):
    args = ("data", "fetch", "tiny", "-w", str(tmp_path / "ws"), "--mirror", f"http://127.0.0.1:{closed_port}")
    assert_one_line_error(cli(capsys, *args), f"cannot reach 127.0.0.1:{closed_port}")
    assert not (tmp_path / "ws").exists()


# --- the real entry point and the real registry (mirror on 127.0.0.1) --------------------------------


def test_subprocess_real_corpus_from_a_mirror_with_wrong_files(server, tmp_path):
    state, url = server
    state.files = {f.name: b"generated, not the real corpus\n" for f in registry.SMALL_PARALLEL_ENJA.files}
    result = run_cli("data", "fetch", "small-parallel-enja", "-w", str(tmp_path / "ws"), "--mirror", url)
    assert_one_line_error(result, "train.en: SHA-256 mismatch", "deleted the download")
    assert not (tmp_path / "ws").exists()  # the folders it made are removed again


def test_subprocess_failures(server, tmp_path, closed_port):
    state, url = server
    state.modes["train.en"] = "500"
    ws = str(tmp_path / "ws")
    assert_one_line_error(
        run_cli("data", "fetch", "small-parallel-enja", "-w", ws, "--mirror", url), "the server answered 500"
    )
    offline = f"http://127.0.0.1:{closed_port}/"
    assert_one_line_error(
        run_cli("data", "fetch", "small-parallel-enja", "-w", ws, "--mirror", offline), "cannot reach 127.0.0.1"
    )
    assert_one_line_error(run_cli("data", "fetch", "nope", "-w", ws), "unknown corpus 'nope'")
    assert not (tmp_path / "ws").exists()
    listed = run_cli("data", "list", "-w", ws, "--json")
    assert listed.returncode == 0
    assert json.loads(listed.stdout)["corpora"][0]["state"] == "missing"
