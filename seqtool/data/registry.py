"""The corpora `seqtool data fetch` knows (files, checksums, licences) and their status on disk."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from seqtool.errors import DataError, OptionError
from seqtool.files import resolve_workspace

MIRROR_HINT = "use --mirror URL|DIR"

PART_SUFFIX = ".part"  # a download in progress: "<file>.part", resumed by the next fetch


class FetchError(DataError):
    """A corpus file could not be downloaded or did not verify."""


@dataclass(frozen=True)
class CorpusFile:
    name: str
    sha256: str


@dataclass(frozen=True)
class Corpus:
    """A downloadable corpus: files fetched from ``base_url + name`` and checked against ``sha256``."""

    name: str
    description: str
    base_url: str
    files: tuple[CorpusFile, ...]


# The URL pins the commit the checksums were taken from, so a later change upstream is reported as
# a server problem (404) rather than silently giving different data.
_ENJA_COMMIT = "312408a11c5fbcbc09443bebb18121f7efdcd61e"


SMALL_PARALLEL_ENJA = Corpus(
    name="small-parallel-enja",
    description="50k English-Japanese sentence pairs (Tanaka Corpus), tokenized; train/dev/test",
    base_url=f"https://raw.githubusercontent.com/odashi/small_parallel_enja/{_ENJA_COMMIT}/",
    files=(
        CorpusFile("train.en", "148b05dcd28638fe20ee84f2b1127001c80982be352007dda241fb759adadc76"),
        CorpusFile("train.ja", "fc81a1434349ec98a449d7ae9cd2530057f689637684ecfed3501ea6a8a07ecc"),
        CorpusFile("dev.en", "04a2673449770657fd5e3b963cb856be3130923212b6db8ac7eaeef18f06c041"),
        CorpusFile("dev.ja", "cd534f56b8639dc130f86a365e5ec0aa70042000bdd740a622fbbf8b6be4acca"),
        CorpusFile("test.en", "45edb380749ec2b49cca7618fc5a7595fc9f791180672ba466b90c873a4aa8bf"),
        CorpusFile("test.ja", "d37dc460a81b064e4106c8913eb11fa300da05cf3f58a7a5bbfec7e20947ddef"),
    ),
)


CORPORA: dict[str, Corpus] = {c.name: c for c in (SMALL_PARALLEL_ENJA,)}


def get_corpus(name: str) -> Corpus:
    try:
        return CORPORA[name]
    except KeyError:
        raise OptionError(f"unknown corpus {name!r}; known corpora: {', '.join(sorted(CORPORA))}") from None


def data_root(workspace: str | Path | None) -> Path:
    """Where corpora live inside a workspace: ``<workspace>/data``."""
    return resolve_workspace(workspace) / "data"


def default_directory(workspace: str | Path | None, corpus: str) -> Path:
    """``<workspace>/data/<corpus>``; checks that the corpus is known."""
    return data_root(workspace) / get_corpus(corpus).name


@dataclass
class FileStatus:
    name: str
    present: bool
    verified: bool | None  # None when not checked
    size: int | None
    partial_bytes: int | None  # size of an unfinished ``.part`` download


@dataclass
class CorpusStatus:
    name: str
    description: str
    directory: str
    files: list[FileStatus]

    @property
    def state(self) -> Literal["present", "partial", "missing", "modified"]:
        """present: every file verifies; modified: some file does not; partial: some are missing."""
        if any(f.present and f.verified is False for f in self.files):
            return "modified"
        if all(f.present for f in self.files):
            return "present"
        return "partial" if any(f.present or f.partial_bytes for f in self.files) else "missing"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def corpus_status(corpus: Corpus, directory: Path, *, verify: bool = True) -> CorpusStatus:
    files = []
    for cf in corpus.files:
        path, part = directory / cf.name, directory / (cf.name + PART_SUFFIX)
        present = path.is_file()
        files.append(
            FileStatus(
                name=cf.name,
                present=present,
                verified=(sha256_of(path) == cf.sha256) if present and verify else None,
                size=path.stat().st_size if present else None,
                partial_bytes=part.stat().st_size if part.is_file() else None,
            )
        )
    return CorpusStatus(corpus.name, corpus.description, str(directory), files)


def status(workspace: str | Path | None = None, *, verify: bool = True) -> list[CorpusStatus]:
    """Every known corpus with which of its files are in ``<workspace>/data/<corpus>`` and verify."""
    root = data_root(workspace)
    return [corpus_status(c, root / c.name, verify=verify) for c in CORPORA.values()]
