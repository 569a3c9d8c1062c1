"""Known corpora and their download: resumable, SHA-256 verified, atomic.

Each file is streamed into ``<name>.part`` beside its final place. An interrupted transfer leaves
the ``.part`` file, and the next attempt asks the server only for the missing bytes (an HTTP
``Range`` request), so a flaky connection or a Ctrl-C costs nothing already downloaded. A finished
file is verified against the registry's SHA-256 before it is renamed into place, so a file under
its final name has always been verified; a mismatch deletes the download and raises. Re-running a
fetch whose files verify downloads nothing.

Only the standard library is used (urllib), so proxies from ``https_proxy`` etc. are honoured.
The library never prints: progress goes to a callback, problems are :class:`FetchError`."""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from seqtool import __version__
from seqtool.data.registry import MIRROR_HINT, PART_SUFFIX, Corpus, CorpusFile, FetchError, get_corpus, sha256_of
from seqtool.errors import DataError, OptionError
from seqtool.files import fsync_dir

CHUNK_BYTES = 1 << 16


Stage = Literal["present", "redownload", "start", "advance", "verify", "done", "retry"]


@dataclass(frozen=True)
class FetchProgress:
    """One progress report. ``done``/``total`` are bytes of ``file`` (``total`` None when unknown)."""

    file: str
    stage: Stage
    done: int = 0
    total: int | None = None
    detail: str = ""


ProgressCallback = Callable[[FetchProgress], None]


def _ignore_progress(_: FetchProgress) -> None:
    pass


@dataclass
class FileResult:
    name: str
    path: str
    action: Literal["present", "downloaded", "resumed", "copied"]
    size: int
    sha256: str


@dataclass
class FetchResult:
    corpus: str
    directory: str
    files: list[FileResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Source:
    """Where files come from: a base URL, or a local directory holding them."""

    base_url: str | None = None
    directory: Path | None = None
    hint: str = MIRROR_HINT  # what to suggest when the source cannot be reached

    def url(self, name: str) -> str:
        assert self.base_url is not None
        return self.base_url.rstrip("/") + "/" + urllib.parse.quote(name)


def _parse_mirror(mirror: str | None, corpus: Corpus) -> _Source:
    if mirror is None:
        return _Source(base_url=corpus.base_url)
    scheme = urllib.parse.urlsplit(mirror).scheme.lower()
    if scheme in ("http", "https"):
        return _Source(base_url=mirror, hint="check the --mirror URL")
    directory = Path(urllib.parse.urlsplit(mirror).path if scheme == "file" else mirror).expanduser()
    if directory.is_dir():
        return _Source(directory=directory)
    what = "is a file" if directory.exists() else "does not exist"
    raise OptionError(f"--mirror {mirror}: {what}; give a base URL (http://...) or a directory holding the files")


class _Interrupted(Exception):
    """The transfer stopped before the end; the ``.part`` file holds what arrived."""


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _open(url: str, offset: int, timeout: float, hint: str) -> http.client.HTTPResponse | None:
    """Open ``url`` from byte ``offset``; None if the server says the ``.part`` file is already whole."""
    headers = {"User-Agent": f"seqtool/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 416 and offset:  # Range Not Satisfiable: nothing left to send
            return None
        advice = "try again later or " if e.code >= 500 else ""
        raise FetchError(f"{url}: the server answered {e.code} {e.reason}; {advice}{hint}") from None
    except urllib.error.URLError as e:
        reason = getattr(e.reason, "strerror", None) or e.reason
        raise FetchError(f"cannot reach {_host(url)} ({reason}); check the network or {hint}") from None
    except (http.client.HTTPException, OSError) as e:
        raise _Interrupted(f"{type(e).__name__}: {e}") from None


def _resume_offset(response: http.client.HTTPResponse, offset: int, part: Path) -> int:
    """The byte position the response body starts at: ``offset`` for a matching 206, 0 for a 200."""
    if response.status != 206:
        return 0  # the server ignored the Range header and sends the whole file
    if offset and response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
        return offset
    part.unlink(missing_ok=True)
    raise _Interrupted(f"the server sent a range other than bytes {offset}-; starting over")


def _stream(source: BinaryIO, part: Path, name: str, progress: ProgressCallback, start: int, total: int | None) -> int:
    """Write ``source`` into ``part`` from byte ``start`` (appending), fsync, and return the size reached.

    Read failures are :class:`_Interrupted` (the bytes so far stay for a resume); write failures
    (disk full, no permission) are a DataError.
    """
    done = start
    progress(FetchProgress(name, "start", done, total, "resumed" if start else ""))
    try:
        part.parent.mkdir(parents=True, exist_ok=True)
        with open(part, "ab" if start else "wb") as out:
            while True:
                try:
                    chunk = source.read(CHUNK_BYTES)
                except (http.client.HTTPException, OSError) as e:
                    raise _Interrupted(f"{type(e).__name__}: {e}") from None
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                progress(FetchProgress(name, "advance", done, total))
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:
        raise DataError(f"cannot write {part} ({e.strerror})") from None
    return done


def _download_http(url: str, part: Path, name: str, progress: ProgressCallback, timeout: float, hint: str) -> None:
    """One attempt: append the missing bytes of ``url`` to ``part``. Raises _Interrupted on a cut."""
    offset = part.stat().st_size if part.exists() else 0
    response = _open(url, offset, timeout, hint)
    if response is None:
        return
    with response:
        start = _resume_offset(response, offset, part)
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        done = _stream(response, part, name, progress, start, total)
    # http.client returns a short body without an error when the connection closes early.
    if total is not None and done < total:
        raise _Interrupted(f"connection closed after {done:,} of {total:,} bytes")


def _copy_local(source: Path, part: Path, name: str, progress: ProgressCallback) -> None:
    if not source.is_file():
        raise FetchError(f"mirror {source.parent} has no file {name}")
    try:
        with open(source, "rb") as src:
            _stream(src, part, name, progress, 0, source.stat().st_size)
    except _Interrupted as e:
        raise FetchError(f"cannot read {source} ({e})") from None


def _verify_and_install(cf: CorpusFile, part: Path, target: Path, progress: ProgressCallback) -> str:
    progress(FetchProgress(cf.name, "verify", part.stat().st_size, part.stat().st_size))
    digest = sha256_of(part)
    if digest != cf.sha256:
        part.unlink()
        raise FetchError(
            f"{cf.name}: SHA-256 mismatch (expected {cf.sha256}, got {digest}); deleted the download. "
            f"The source serves a different file: run again, or use another --mirror URL|DIR"
        )
    os.replace(part, target)
    fsync_dir(target.parent)
    return digest


def _fetch_file(
    cf: CorpusFile, directory: Path, source: _Source, progress: ProgressCallback, attempts: int, timeout: float
) -> FileResult:
    target, part = directory / cf.name, directory / (cf.name + PART_SUFFIX)
    if target.is_file():
        size = target.stat().st_size
        if sha256_of(target) == cf.sha256:
            progress(FetchProgress(cf.name, "present", size, size))
            return FileResult(cf.name, str(target), "present", size, cf.sha256)
        # Replaced only once a new download verifies, so the old file survives a failed attempt.
        progress(FetchProgress(cf.name, "redownload", 0, None, "present but does not verify"))
    if source.directory is not None:
        _copy_local(source.directory / cf.name, part, cf.name, progress)
        action: Literal["downloaded", "resumed", "copied"] = "copied"
    else:
        action = "resumed" if part.exists() and part.stat().st_size else "downloaded"
        url = source.url(cf.name)
        for attempt in range(1, attempts + 1):
            try:
                _download_http(url, part, cf.name, progress, timeout, source.hint)
                break
            except _Interrupted as e:
                have = part.stat().st_size if part.exists() else 0
                if attempt == attempts:
                    raise FetchError(
                        f"download of {cf.name} from {_host(url)} was interrupted ({e}); "
                        f"{have:,} bytes kept in {part}: run the same command again to resume"
                    ) from None
                action = "resumed" if have else action
                progress(FetchProgress(cf.name, "retry", have, None, str(e)))
    digest = _verify_and_install(cf, part, target, progress)
    size = target.stat().st_size
    progress(FetchProgress(cf.name, "done", size, size))
    return FileResult(cf.name, str(target), action, size, digest)


def _missing_dirs(directory: Path) -> list[Path]:
    """``directory`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    for d in (directory, *directory.parents):
        if d.exists():
            break
        missing.append(d)
    return missing


def fetch(
    corpus: str,
    directory: str | Path,
    *,
    mirror: str | None = None,
    progress: ProgressCallback | None = None,
    attempts: int = 3,
    timeout: float = 30.0,
) -> FetchResult:
    """Make ``directory`` hold every file of ``corpus``, verified; download only what is missing.

    ``mirror`` is a base URL or a local directory to take the files from instead of the corpus's
    own source. An interrupted transfer is resumed up to ``attempts`` times before giving up (the
    ``.part`` file is kept for the next run). Folders created here are removed again if the
    fetch fails before writing anything into them.
    """
    info = get_corpus(corpus)
    source = _parse_mirror(mirror, info)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OptionError(f"--dir {directory}: is a file, expected a directory")
    created = _missing_dirs(directory)
    result = FetchResult(info.name, str(directory))
    report = progress or _ignore_progress
    try:
        for cf in info.files:
            result.files.append(_fetch_file(cf, directory, source, report, max(1, attempts), timeout))
    except BaseException:
        for d in created:
            try:
                d.rmdir()
            except OSError:
                break  # not empty (a kept .part or a verified file): keep it and its parents
        raise
    return result
