"""The corpus layouts `seqtool data prepare` reads, as one stream of pairs; the languages it checks.

Layouts: two line-aligned files (``--src``/``--tgt``); a TSV with chosen columns and an optional score column
(WikiMatrix ``score<TAB>en<TAB>ja``, JParaCrawl, JESC); KFTT's folder or tarball (``kftt-data-1.0/data/orig/
kyoto-{train,dev,test}.{en,ja}``, its own split kept); Tatoeba's exports (``sentences.csv``: id<TAB>lang<TAB>text,
``links.csv``: id<TAB>id). ``.gz``, ``.bz2`` and ``.xz`` files are decompressed as they are read, and members
of tar archives are read in place (nothing is unpacked to disk).

Every reader streams, except Tatoeba's, which is a join: it keeps the sentence ids of the two languages (a set
of ints) and the texts of linked sentences, never the other languages' sentences. A malformed line (a missing
column, a score that is not a number, invalid UTF-8, a NUL byte) is a :class:`DataError` naming file and line.

Languages: ISO 639-3 codes (Tatoeba's) map to 639-1 (py3langid's, and the output names); language ID itself is
:mod:`seqtool.data.langid`.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import itertools
import lzma
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from seqtool.data.corpus import MAX_LINE_BYTES
from seqtool.errors import DataError, OptionError
from seqtool.languages import KNOWN_LANGUAGES, THREE_TO_TWO, language_code

# (src, tgt, split, score, line): split is "" for pairs that prepare splits itself, or the layout's own
# "train"/"dev"/"test"; score is the score column's value (None without one); line is where the pair was read.
Pair = tuple[str, str, str, float | None, int]

_TWO_TO_THREE = {two: three for three, two in THREE_TO_TWO.items() if three != "zho"}


def normalize_lang(code: str | None) -> str | None:
    """``eng`` -> ``en`` (:func:`seqtool.languages.language_code`); an unknown code is kept lowercased (no
    script/langid check); an empty one is an error."""
    if code is not None and not code.strip():
        raise OptionError("a language code is empty; give e.g. en, ja (or eng, jpn)")
    return language_code(code)


def _lang_of(path: Path) -> str | None:
    """The language a file name ends in (``train.en``, ``pairs.ja.gz``), when it is a known code."""
    for suffix in reversed(path.suffixes):
        if suffix[1:].lower() in KNOWN_LANGUAGES:
            return suffix[1:].lower()
    return None


@contextlib.contextmanager
def open_binary(path: Path, member: str | None = None) -> Iterator[IO[bytes]]:
    """``path`` for reading bytes, decompressed by its suffix; with ``member``, that file inside a tar archive."""
    try:
        if member is not None:
            with tarfile.open(path, "r:*") as tar:
                for info in tar:  # sequential: a compressed tarball is never read backwards
                    if info.isfile() and (info.name == member or info.name.endswith("/" + member)):
                        f = tar.extractfile(info)
                        assert f is not None
                        yield f
                        return
            raise DataError(f"{path}: the archive holds no {member}")
        opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open)
        with opener(path, "rb") as f:
            yield f  # type: ignore[misc]
    except (OSError, EOFError, tarfile.TarError, lzma.LZMAError) as e:
        if isinstance(e, DataError):
            raise
        reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise DataError(f"{path}: cannot read ({reason}); is it a complete download?") from None


def read_text_lines(path: Path, member: str | None = None) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` without the line ending; BOM and CRLF accepted; bad bytes name file and line."""
    name = f"{path}:{member}" if member else str(path)
    if member is None:
        _need_file(path)
    with open_binary(path, member) as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if len(raw) > MAX_LINE_BYTES or b"\x00" in raw:
                what = "is longer than 1,000,000 bytes" if len(raw) > MAX_LINE_BYTES else "holds a NUL byte"
                raise DataError(f"{name}:{number}: line {what}; is this a text corpus, one pair per line?")
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{name}:{number}: invalid UTF-8 at byte {e.start}; convert the file to UTF-8 (iconv -f ENC -t UTF-8)"
                ) from None


def _need_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{path}: {'is a directory, expected a file' if path.is_dir() else 'no such file'}")


@dataclass
class Source:
    """A corpus in one layout: ``pairs`` | ``tsv`` | ``kftt`` | ``tatoeba``. Build it with :func:`open_source`."""

    layout: str
    paths: tuple[Path, ...]
    src_lang: str | None = None
    tgt_lang: str | None = None
    columns: tuple[int, int] = (1, 2)  # 1-based, as given
    score_column: int | None = None
    members: tuple[str | None, ...] = field(default_factory=tuple)  # a tar member per path, or None

    def __post_init__(self) -> None:
        if self.src_lang is not None and self.src_lang == self.tgt_lang:
            raise OptionError(f"the source and target languages are both {self.src_lang}: give --src-lang/--tgt-lang")

    @property
    def has_splits(self) -> bool:
        return self.layout == "kftt"

    def describe(self) -> dict[str, object]:
        described = [f"{p}:{m}" if m else str(p) for p, m in zip(self.paths, self.members, strict=True)]
        info: dict[str, object] = {"layout": self.layout, "files": described}
        if self.layout == "tsv":
            info.update(columns=list(self.columns), score_column=self.score_column)
        return info

    def pairs(self) -> Iterator[Pair]:
        if self.layout == "pairs":
            yield from _aligned(self.paths[0], self.paths[1], "", None, None)
        elif self.layout == "tsv":
            yield from self._tsv()
        elif self.layout == "kftt":
            # dev and test first: their pairs seed the dedup set, so a training pair that repeats one is removed
            for i, split in ((2, "dev"), (4, "test"), (0, "train")):
                yield from _aligned(self.paths[i], self.paths[i + 1], split, self.members[i], self.members[i + 1])
        else:
            yield from self._tatoeba()

    def _tsv(self) -> Iterator[Pair]:
        path, (a, b), s = self.paths[0], self.columns, self.score_column
        need = max(a, b, s or 0)
        for number, line in read_text_lines(path, self.members[0]):
            cols = line.split("\t")
            if len(cols) < need:
                raise DataError(
                    f"{path}:{number}: {len(cols)} tab-separated column(s), --columns/--score-column need {need}; "
                    "check the column numbers (1-based) or fix the line"
                )
            score = None
            if s is not None:
                try:
                    score = float(cols[s - 1])
                except ValueError:
                    raise DataError(
                        f"{path}:{number}: column {s} is {cols[s - 1][:30]!r}, not a number; check --score-column"
                    ) from None
            yield cols[a - 1], cols[b - 1], "", score, number

    def _tatoeba(self) -> Iterator[Pair]:
        (sentences, s_member), (links, l_member) = zip(self.paths, self.members, strict=True)
        codes = {_TWO_TO_THREE.get(c, c): i for i, c in enumerate((self.src_lang, self.tgt_lang))}
        ids: tuple[set[int], set[int]] = (set(), set())
        for _, (i, lang, _) in _tatoeba_rows(sentences, s_member, 3):
            if lang in codes:
                ids[codes[lang]].add(i)  # type: ignore[arg-type]
        linked = [(a, b, n) for n, (a, b) in _tatoeba_rows(links, l_member, 2) if a in ids[0] and b in ids[1]]
        needed = {i for a, b, _ in linked for i in (a, b)}
        del ids
        texts = {
            i: text for _, (i, lang, text) in _tatoeba_rows(sentences, s_member, 3) if i in needed and lang in codes
        }
        for a, b, number in linked:
            yield texts[a], texts[b], "", None, number  # type: ignore[misc]


def _tatoeba_rows(path: Path, member: str | None, columns: int) -> Iterator[tuple[int, list[int | str]]]:
    """Rows of sentences.csv (id, lang, text: more columns in sentences_detailed.csv) or links.csv (id, id)."""
    for number, line in read_text_lines(path, member):
        row: list[int | str] = line.split("\t")[:columns]
        try:
            row[0] = int(row[0])
            row[1] = int(row[1]) if columns == 2 else row[1]
        except (ValueError, IndexError):
            row = []
        if len(row) < columns:
            raise DataError(
                f"{path}:{number}: expected {columns} tab-separated columns, ids first; is this Tatoeba's export?"
            )
        yield number, row


def _aligned(src: Path, tgt: Path, split: str, src_member: str | None, tgt_member: str | None) -> Iterator[Pair]:
    """Line N of one file with line N of the other; a file that ends first is an error naming both."""
    for x, y in itertools.zip_longest(read_text_lines(src, src_member), read_text_lines(tgt, tgt_member)):
        if x is None or y is None:
            (longer, extra), shorter = ((src, x), tgt) if y is None else ((tgt, y), src)
            raise DataError(
                f"{longer}:{extra[0]}: {shorter} ends before this line; line N of one file must translate line N "
                "of the other"
            )
        yield x[1], y[1], split, None, x[0]


_KFTT_NAMES = tuple(f"kyoto-{split}.{lang}" for split in ("train", "dev", "test") for lang in ("en", "ja"))
_ARCHIVES = (".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")
_LAYOUT_HINT = "give --src FILE --tgt FILE, --tsv FILE, --kftt DIR|TARBALL or --tatoeba DIR"


def _is_archive(path: Path) -> bool:
    return path.is_file() and any(path.name.endswith(s) for s in _ARCHIVES)


def _kftt(path: Path, src_lang: str | None, tgt_lang: str | None) -> Source:
    src_lang = src_lang or ("ja" if tgt_lang == "en" else "en")
    langs = (src_lang, tgt_lang or ("ja" if src_lang == "en" else "en"))
    if sorted(langs) != ["en", "ja"]:
        raise OptionError(f"KFTT is English-Japanese: --src-lang/--tgt-lang must be en and ja, got {langs}")
    names = [f"kyoto-{split}.{lang}" for split in ("train", "dev", "test") for lang in langs]
    if _is_archive(path):
        try:  # read the member names once now, so that a wrong tarball fails before anything is written
            with tarfile.open(path, "r:*") as tar:
                present = {n.rsplit("/", 1)[-1] for n in tar.getnames() if "data/orig/" in n}
        except (OSError, EOFError, tarfile.TarError, lzma.LZMAError) as e:
            raise DataError(f"{path}: cannot read the archive ({e}); is it a complete download?") from None
        if not set(_KFTT_NAMES) <= present:
            raise DataError(
                f"{path}: unknown layout: no kftt-data-1.0/data/orig/kyoto-*.{{en,ja}} inside; {_LAYOUT_HINT}"
            )
        members = tuple(f"data/orig/{n}" for n in names)
        return Source("kftt", (path,) * 6, langs[0], langs[1], members=members)
    for folder in (path / "kftt-data-1.0" / "data" / "orig", path / "data" / "orig", path):
        if all((folder / n).is_file() for n in _KFTT_NAMES):
            return Source("kftt", tuple(folder / n for n in names), langs[0], langs[1], members=(None,) * 6)
    raise DataError(f"{path}: no KFTT layout inside (kftt-data-1.0/data/orig/kyoto-{{train,dev,test}}.{{en,ja}})")


def _only_text_member(archive: Path) -> str:
    try:
        with tarfile.open(archive, "r:*") as tar:
            names = [m.name for m in tar if m.isfile() and m.name.endswith((".txt", ".tsv"))]
    except (OSError, EOFError, tarfile.TarError, lzma.LZMAError) as e:
        raise DataError(f"{archive}: cannot read the archive ({e}); is it a complete download?") from None
    if len(names) != 1:
        raise DataError(f"{archive}: {len(names)} .txt/.tsv files inside, expected one; unpack it and give --tsv FILE")
    return names[0]


def _find(folder: Path, stem: str) -> tuple[Path, str | None] | None:
    """Tatoeba's ``stem``.csv in ``folder``: plain, compressed, or inside the ``stem``.tar.bz2 it is downloaded as."""
    for name in (f"{stem}.csv", f"{stem}.csv.gz", f"{stem}.csv.bz2", f"{stem}_detailed.csv"):
        if (folder / name).is_file():
            return folder / name, None
    for suffix in (".tar.bz2", ".tar.gz", ".tar"):
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}", f"{stem}.csv"
    return None


def _tatoeba(folder: Path, src_lang: str | None, tgt_lang: str | None) -> Source:
    found = [_find(folder, "sentences"), _find(folder, "links")]
    if None in found:
        raise DataError(f"{folder}: no Tatoeba export inside (sentences.csv and links.csv, or their .tar.bz2)")
    if src_lang is None or tgt_lang is None:
        raise OptionError("Tatoeba holds every language: give --src-lang and --tgt-lang (e.g. en ja, or eng jpn)")
    (s, sm), (links, lm) = found  # type: ignore[misc]
    return Source("tatoeba", (s, links), src_lang, tgt_lang, members=(sm, lm))


def detect_layout(path: Path) -> str:
    """The layout of a corpus given by its path alone: ``kftt``, ``tatoeba`` or ``tsv``; else a DataError."""
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_dir():
        if _find(path, "sentences") and _find(path, "links"):
            return "tatoeba"
        with contextlib.suppress(DataError, OptionError):
            _kftt(path, None, None)
            return "kftt"
    elif _is_archive(path):
        return "kftt"  # checked (its member names read) when the source is opened
    elif any(s in (".tsv", ".txt") for s in path.suffixes):
        return "tsv"
    raise DataError(
        f"{path}: unknown layout (not a TSV, a KFTT folder or tarball, nor a Tatoeba folder); {_LAYOUT_HINT}"
    )


def open_source(
    *,
    corpus: Path | None = None,
    src: Path | None = None,
    tgt: Path | None = None,
    tsv: Path | None = None,
    kftt: Path | None = None,
    tatoeba: Path | None = None,
    columns: tuple[int, int] = (1, 2),
    score_column: int | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
) -> Source:
    """Check the options and files of one layout (before anything is read or written) and return its Source.
    ``corpus`` is a path whose layout is detected (:func:`detect_layout`)."""
    if corpus is not None:
        if any(v is not None for v in (src, tgt, tsv, kftt, tatoeba)):
            raise OptionError(f"give the corpus once: {corpus} and an option naming another one")
        layout = detect_layout(corpus)
        tsv, kftt, tatoeba = (corpus if layout == name else None for name in ("tsv", "kftt", "tatoeba"))
    src_lang, tgt_lang = normalize_lang(src_lang), normalize_lang(tgt_lang)
    given = [name for name, v in (("--src/--tgt", src or tgt), ("--tsv", tsv), ("--kftt", kftt), ("--tatoeba", tatoeba))
             if v is not None]  # fmt: skip
    if len(given) != 1:
        raise OptionError(f"give exactly one corpus ({'; '.join(given) or 'none given'}): {_LAYOUT_HINT}")
    if (tsv is None) and score_column is not None:
        raise OptionError("--score-column needs --tsv")
    if src or tgt:
        if src is None or tgt is None:
            raise OptionError("give --src and --tgt together (two line-aligned files)")
        _need_file(src)
        _need_file(tgt)
        return Source("pairs", (src, tgt), src_lang or _lang_of(src), tgt_lang or _lang_of(tgt), members=(None, None))
    if tsv is not None:
        _need_file(tsv)
        member = _only_text_member(tsv) if _is_archive(tsv) else None  # JParaCrawl: a tar.gz holding one .txt
        if len(columns) != 2 or min(columns) < 1 or columns[0] == columns[1] or (score_column or 1) < 1:
            raise OptionError(f"--columns must be two different 1-based column numbers, e.g. 2,3; got {columns}")
        if score_column in columns:
            raise OptionError(f"--score-column {score_column} is also one of --columns {columns}")
        return Source("tsv", (tsv,), src_lang, tgt_lang, columns, score_column, members=(member,))
    if kftt is not None:
        if not kftt.exists():
            raise DataError(f"{kftt}: no such file or directory")
        return _kftt(kftt, src_lang, tgt_lang)
    assert tatoeba is not None
    if not tatoeba.is_dir():
        raise DataError(f"{tatoeba}: not a directory; give the folder holding sentences.csv and links.csv")
    return _tatoeba(tatoeba, src_lang, tgt_lang)
