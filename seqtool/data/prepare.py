"""`seqtool data prepare`: a raw parallel corpus (any layout of :mod:`seqtool.data.readers`) to clean
``train``/``dev``/``test`` files and ``report.json``.

Each pair runs through these checks in this order and is removed under the first it fails (``REASONS``, stable
names). The rules follow OpusFilter's (LengthFilter, LengthRatioFilter, HtmlTagFilter, LanguageIDFilter) and
Bicleaner's hard rules (no_empty, not_too_long, length_ratio, no_identical, no_wrong_language); the defaults are
chosen for sentence-level MT corpora:

- ``low_score``: the TSV's score column is below ``min_score`` (WikiMatrix's margin, JParaCrawl's Bicleaner score);
- ``empty``: a side is empty or only white space;
- ``markup``: a side holds an HTML/XML tag (``<b>``, ``</p>``, ``<br/>``) or an entity (``&amp;``, ``&#39;``);
- ``same_text``: both sides are equal once lowercased and stripped of punctuation, digits and white space;
- ``wrong_script``: a side has no letter of its language's script (a ``ja`` side without kana or kanji, an ``en``
  side without Latin letters): this is what catches swapped sides, cheaply and at any length;
- ``too_long``: a side has more than ``max_words`` words, or, in a language written without spaces (ja, zh, th,
  ...), more than ``max_chars`` characters;
- ``length_ratio``: (longer + 1) / (shorter + 1) > ``max_ratio``, lengths in words; an unsegmented side counts
  characters / ``CHARS_PER_WORD`` (ja: 2 characters per English word), the +1 keeps 1-3 word pairs from being
  judged on one word;
- ``duplicate``: the same pair (after stripping the ends) was kept before;
- ``near_duplicate``: a kept pair is equal to it once lowercased and stripped of punctuation, digits and spaces;
- ``wrong_language``: py3langid (its model ships in the wheel) gives a side's language (or one it cannot tell
  from it: id/ms, bs/hr/sr, nb/nn/no/da) a probability below ``langid_min_prob``. Not "another language comes
  first": on short plain English it often prefers Nigerian Pidgin or Afrikaans (English still at 0.2-0.4), while
  a French line gives English ~0.0001. It runs last, on the survivors only, in batches, and only on sides of at
  least ``langid_min_chars`` characters (shorter ones cannot be judged) in languages whose script does not decide
  already (ja, zh, ko, th, el, he are checked by script alone).

A layout's own dev/test (KFTT) is kept as published; its pairs seed the dedup table, so train never repeats them.

Memory: everything streams except the dedup table, a dict from an 8-byte hash of each kept pair's normalized form
to one byte of its exact form's CRC (80-90 bytes per kept pair: about 170 MB for 2M pairs), and the dev/test pairs.
Dev/test are the ``dev + test`` pairs with the smallest keyed hash (blake2b keyed by ``seed``, of the normalized
pair): an exact-size, order-independent sample, reproducible from the seed; a pair pushed out of that sample goes
to train then, so train is in input order except for those. Near-duplicates are removed before the split, so no
dev/test pair is also in train. Misaligned pairs (each side fine, not translations of each other) pass every
rule here: a model score catches them (``seqtool score --reverse``: dual conditional cross-entropy).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import heapq
import json
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from seqtool.data.langid import LanguageID
from seqtool.data.readers import Source
from seqtool.errors import DataError, OptionError
from seqtool.files import fsync_dir, write_error

REASONS = ("low_score", "empty", "markup", "same_text", "wrong_script", "too_long", "length_ratio",
           "duplicate", "near_duplicate", "wrong_language")  # fmt: skip
UNSEGMENTED = frozenset({"ja", "zh", "th", "lo", "km", "my"})  # written without spaces between words
CHARS_PER_WORD = {"ja": 2.0, "zh": 1.5, "th": 4.0}  # characters per English word, for ratios; others: 2.0
_LATIN = r"[A-Za-z\u00c0-\u024f]"
_KANA_KANJI = r"[\u3041-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9d]"
_LATIN_LANGUAGES = frozenset("en fr de es it pt nl sv fi da nb no nn pl cs tr vi id ms ro hu lt eo".split())  # noqa: SIM905
_SCRIPTS = {
    **dict.fromkeys(_LATIN_LANGUAGES, _LATIN), **dict.fromkeys(("ru", "uk", "bg"), r"[\u0400-\u04ff]"), "ja": _KANA_KANJI,
    "zh": r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", "ko": r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]",
    "th": r"[\u0e00-\u0e7f]", "el": r"[\u0370-\u03ff]", "he": r"[\u0590-\u05ff]", "ar": r"[\u0600-\u06ff]",
    "hi": r"[\u0900-\u097f]",
}  # fmt: skip
SCRIPT_DECIDES = frozenset({"ja", "zh", "ko", "th", "el", "he"})  # a script only they use here: no langid needed
_MARKUP = re.compile(
    r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
)
_NOT_LETTER = re.compile(r"[\W\d_]+")  # punctuation, symbols, digits, white space (Unicode-aware)
_ASCII_NOT_LETTER = bytes(i for i in range(128) if not chr(i).isalpha())
LANGID_BATCH = 2048
DEDUP_MODES = ("near", "exact", "off")


@dataclass
class PrepareOptions:
    """The filters and the split; the CLI's defaults are these."""

    max_words: int = 250
    max_chars: int = 500
    max_ratio: float = 3.0  # 0: no ratio check
    dedup: str = "near"  # near (exact and near duplicates) | exact | off
    drop_markup: bool = True
    drop_same: bool = True
    langid: bool = True
    langid_min_chars: int = 20
    langid_min_prob: float = 0.05
    min_score: float | None = None
    dev: int = 0
    test: int = 0
    seed: int = 1
    write_removed: bool = False  # removed.tsv: reason, line, src, tgt of every removed pair

    def check(self, source: Source) -> None:
        for name, value in (("--max-words", self.max_words), ("--max-chars", self.max_chars),
                            ("--langid-min-chars", self.langid_min_chars)):  # fmt: skip
            if value < 1:
                raise OptionError(f"{name} must be >= 1, got {value}")
        if not 0 <= self.langid_min_prob <= 1:
            raise OptionError(f"--langid-min-prob must be between 0 and 1, got {self.langid_min_prob}")
        if self.max_ratio < 0 or 0 < self.max_ratio < 1:
            raise OptionError(f"--max-ratio must be >= 1 (or 0: no ratio check), got {self.max_ratio}")
        if self.dedup not in DEDUP_MODES:
            raise OptionError(f"--dedup must be one of {', '.join(DEDUP_MODES)}, got {self.dedup!r}")
        if self.dev < 0 or self.test < 0:
            raise OptionError(f"--dev and --test must be >= 0, got {self.dev} and {self.test}")
        if source.has_splits and (self.dev or self.test):
            raise OptionError(f"{source.layout} has its own dev/test split, which is kept: leave out --dev/--test")
        if self.min_score is not None and source.score_column is None:
            raise OptionError("--min-score needs --score-column N (the TSV column holding the score)")


@dataclass
class PrepareReport:
    """What happened: ``to_dict()`` is report.json and the `--json` output."""

    output: str
    input: dict[str, Any]
    languages: dict[str, str | None]
    checks: dict[str, str]  # how each side's language was checked: langid, script, none
    options: dict[str, Any]
    read: int = 0
    kept: int = 0
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    splits: dict[str, int] = field(default_factory=lambda: {"train": 0, "dev": 0, "test": 0})
    files: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3),
                "pairs_per_s": round(self.read / self.seconds) if self.seconds > 0 else None}  # fmt: skip


@functools.cache
def _language_id() -> LanguageID:
    return LanguageID()  # loading the model takes half a second: once per process


def _normalized(text: str) -> bytes:
    """Lowercased, without punctuation, digits or spaces: the form near-duplicates share."""
    low = text.lower()
    if low.isascii():  # bytes.translate deletes in C: a tenth of the regular expression's time
        return low.encode("ascii").translate(None, _ASCII_NOT_LETTER)
    return _NOT_LETTER.sub("", low).encode("utf-8")


class _Checks:
    """The cheap rules and the dedup table (everything but language ID)."""

    def __init__(self, options: PrepareOptions, langs: tuple[str | None, str | None]) -> None:
        self.o = options
        self.key = options.seed.to_bytes(8, "little", signed=True)
        self.scripts = [re.compile(_SCRIPTS[lang]) if lang in _SCRIPTS else None for lang in langs]
        # per side: None = words; a float = characters per word (unsegmented); 0.0 = unknown language: decide per line
        self.cpw = [0.0 if lang is None else CHARS_PER_WORD.get(lang, 2.0) if lang in UNSEGMENTED else None
                    for lang in langs]  # fmt: skip
        self.seen: dict[int, int] = {}

    def split_key(self, ns: bytes, nt: bytes) -> int:
        digest = hashlib.blake2b(ns + b"\t" + nt, digest_size=8, key=self.key).digest()
        return int.from_bytes(digest, "little")

    def reason(self, src: str, tgt: str) -> tuple[str | None, int]:
        """The first rule the (stripped) pair fails, or None; and its split key. (Written out flat: this runs
        for every pair, and each function call costs about as much as one of the checks.)"""
        o = self.o
        if not src or not tgt:
            return "empty", 0
        if o.drop_markup and (("<" in src or "&" in src) and _MARKUP.search(src) or
                              ("<" in tgt or "&" in tgt) and _MARKUP.search(tgt)):  # fmt: skip
            return "markup", 0
        ls, lt = src.lower(), tgt.lower()  # _normalized(), twice
        ns = ls.encode("ascii").translate(None, _ASCII_NOT_LETTER) if ls.isascii() else _NOT_LETTER.sub("", ls).encode()
        nt = lt.encode("ascii").translate(None, _ASCII_NOT_LETTER) if lt.isascii() else _NOT_LETTER.sub("", lt).encode()
        if o.drop_same and ns == nt:
            return "same_text", 0
        script_s, script_t = self.scripts
        if (script_s is not None and script_s.search(src) is None) or (
            script_t is not None and script_t.search(tgt) is None
        ):
            return "wrong_script", 0
        # lengths in words; an unsegmented side (or, language unknown, a side without spaces) in characters
        cs, ct = self.cpw
        if cs is None or (not cs and " " in src):
            a: float = len(src.split())
            too_long = a > o.max_words
        else:
            a, too_long = len(src) / (cs or 2.0), len(src) > o.max_chars
        if ct is None or (not ct and " " in tgt):
            b: float = len(tgt.split())
            too_long = too_long or b > o.max_words
        else:
            b, too_long = len(tgt) / (ct or 2.0), too_long or len(tgt) > o.max_chars
        if too_long:
            return "too_long", 0
        if o.max_ratio and (max(a, b) + 1) / (min(a, b) + 1) > o.max_ratio:
            return "length_ratio", 0
        key = self.split_key(ns, nt)
        return self.dedup(src, tgt, key), key

    def dedup(self, src: str, tgt: str, key: int) -> str | None:
        """Record the pair; "duplicate"/"near_duplicate" when a kept pair had its form."""
        if self.o.dedup == "off":
            return None
        raw = f"{src}\t{tgt}".encode()
        if self.o.dedup == "exact":
            key, tag = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little"), 0
        else:  # one byte of the exact form tells exact from near duplicates (1 in 256 near ones is called exact)
            tag = zlib.crc32(raw) & 0xFF
        before = self.seen.get(key)
        if before is None:
            self.seen[key] = tag
            return None
        return "duplicate" if before == tag else "near_duplicate"


class _Staging:
    """The output folder, written as a hidden folder beside it and renamed into place by ``commit``: a failure
    (or Ctrl-C) leaves no output at all, and an existing folder (``--force``) is replaced whole."""

    def __init__(self, out: Path, force: bool) -> None:
        if out.exists() and not out.is_dir():
            raise OptionError(f"--out {out}: is a file, expected a directory")
        if out.is_dir() and any(out.iterdir()) and not force:
            raise OptionError(f"--out {out}: exists and is not empty; add --force to replace it")
        self.out = out
        self.files: dict[str, IO[str]] = {}
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
            mask = os.umask(0o022)
            os.umask(mask)
            os.chmod(self.tmp, 0o777 & ~mask)  # mkdtemp makes it private; the output is an ordinary folder
        except OSError as e:
            raise write_error(out, e) from None

    def open(self, name: str) -> IO[str]:
        if name not in self.files:
            try:
                # closed by commit() or abort()
                self.files[name] = open(self.tmp / name, "w", encoding="utf-8", newline="\n", buffering=1 << 20)  # noqa: SIM115
            except OSError as e:
                raise write_error(self.out / name, e) from None
        return self.files[name]

    def commit(self, report: dict[str, Any]) -> None:
        try:
            self.open("report.json").write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
            for f in self.files.values():
                f.flush()
                os.fsync(f.fileno())
                f.close()
            if self.out.is_dir() and any(self.out.iterdir()):
                old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".old", dir=self.out.parent))
                os.replace(self.out, old / "x")
                os.replace(self.tmp, self.out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.out.rmdir()
                os.replace(self.tmp, self.out)
        except OSError as e:
            raise write_error(self.out, e) from None
        fsync_dir(self.out.parent)

    def abort(self) -> None:
        for f in self.files.values():
            with contextlib.suppress(OSError):
                f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class _Carve:
    """Dev/test: the ``size`` kept pairs with the smallest split keys (a max-heap); the rest go to train."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.heap: list[tuple[int, int, str, str]] = []

    def offer(self, key: int, index: int, src: str, tgt: str) -> tuple[str, str] | None:
        """The pair that goes to train now (this one, or one it pushes out of the sample), or None."""
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, (-key, index, src, tgt))
            return None
        if self.size and key < -self.heap[0][0]:
            _, _, s, t = heapq.heapreplace(self.heap, (-key, index, src, tgt))
            return s, t
        return src, tgt

    def splits(self, dev: int) -> dict[str, list[tuple[str, str]]]:
        ranked = sorted(self.heap, reverse=True)  # smallest key first
        return {name: [(s, t) for _, _, s, t in sorted(part, key=lambda item: item[1])]
                for name, part in (("dev", ranked[:dev]), ("test", ranked[dev:]))}  # fmt: skip


def prepare(source: Source, out: Path, options: PrepareOptions | None = None, *, force: bool = False,
            progress: Callable[[int, int], None] | None = None) -> PrepareReport:  # fmt: skip
    """Read ``source``, filter, split, and write ``out`` (atomically). ``progress(read, kept)`` every 65,536 pairs."""
    o = options or PrepareOptions()
    o.check(source)
    start = time.perf_counter()
    staging = _Staging(out, force)
    try:
        langs = (source.src_lang, source.tgt_lang)
        lid = _language_id() if o.langid and any(lang and lang not in SCRIPT_DECIDES for lang in langs) else None
        by_langid = [bool(lid and lang in lid.labels and lang not in SCRIPT_DECIDES) for lang in langs]
        checks = {side: "langid" if by_langid[i] else "script" if lang in _SCRIPTS else "none"
                  for i, (side, lang) in enumerate(zip(("src", "tgt"), langs, strict=True))}  # fmt: skip
        suffixes = (source.src_lang or "src", source.tgt_lang or "tgt")
        report = PrepareReport(str(out), source.describe(), {"src": source.src_lang, "tgt": source.tgt_lang},
                               checks, {k: v for k, v in asdict(o).items() if k != "write_removed"})  # fmt: skip
        rules, carve = _Checks(o, langs), _Carve(o.dev + o.test)
        train = (staging.open(f"train.{suffixes[0]}"), staging.open(f"train.{suffixes[1]}"))
        removed_file = staging.open("removed.tsv") if o.write_removed else None
        pending: list[tuple[str, str, int, int]] = []

        def remove(reason: str, src: str, tgt: str, line: int) -> None:
            report.removed[reason] += 1
            if removed_file is not None:
                removed_file.write(f"{reason}\t{line}\t{src.replace(chr(9), ' ')}\t{tgt.replace(chr(9), ' ')}\n")

        def keep(src: str, tgt: str, key: int) -> None:
            report.kept += 1
            to_train = carve.offer(key, report.kept, src, tgt)
            if to_train is not None:
                train[0].write(to_train[0] + "\n")
                train[1].write(to_train[1] + "\n")

        def flush() -> None:
            sides = [[i for i, p in enumerate(pending) if len(p[side]) >= o.langid_min_chars] if by_langid[side]
                     else [] for side in (0, 1)]  # fmt: skip
            wrong = set()
            for side in (0, 1):
                if sides[side] and lid is not None:
                    p = lid.probability([pending[i][side] for i in sides[side]], langs[side])  # type: ignore[arg-type]
                    wrong.update(i for i, prob in zip(sides[side], p, strict=True) if prob < o.langid_min_prob)
            for i, (src, tgt, key, line) in enumerate(pending):
                if i in wrong:
                    remove("wrong_language", src, tgt, line)
                else:
                    keep(src, tgt, key)
            pending.clear()

        for src, tgt, split, score, line in source.pairs():
            report.read += 1
            if progress is not None and not report.read & 0xFFFF:
                progress(report.read, report.kept)
            if split in ("dev", "test"):  # the layout's own dev/test: as published, and no train pair repeats one
                staging.open(f"{split}.{suffixes[0]}").write(src + "\n")
                staging.open(f"{split}.{suffixes[1]}").write(tgt + "\n")
                report.splits[split] += 1
                rules.dedup(src.strip(), tgt.strip(), rules.split_key(_normalized(src), _normalized(tgt)))
                continue
            if score is not None and o.min_score is not None and score < o.min_score:
                remove("low_score", src, tgt, line)
                continue
            src, tgt = src.strip(), tgt.strip()
            reason, key = rules.reason(src, tgt)
            if reason is not None:
                remove(reason, src, tgt, line)
            elif lid is not None:
                pending.append((src, tgt, key, line))
                if len(pending) >= LANGID_BATCH:
                    flush()
            else:
                keep(src, tgt, key)
        flush()
        if carve.size and report.kept <= carve.size:
            raise DataError(f"only {report.kept:,} pairs pass the filters: --dev {o.dev} --test {o.test} would leave "
                            "none for training; ask for fewer")  # fmt: skip
        for split, rows in carve.splits(o.dev).items() if carve.size else ():
            if not rows:
                continue
            files = (staging.open(f"{split}.{suffixes[0]}"), staging.open(f"{split}.{suffixes[1]}"))
            for s, t in rows:
                files[0].write(s + "\n")
                files[1].write(t + "\n")
            report.splits[split] = len(rows)
        report.splits["train"] = report.kept - (o.dev + o.test)
        report.kept += report.splits["dev"] + report.splits["test"] if source.has_splits else 0
        report.files = {split: [f"{split}.{suffixes[0]}", f"{split}.{suffixes[1]}"]
                        for split in ("train", "dev", "test") if split == "train" or report.splits[split]}  # fmt: skip
        report.seconds = time.perf_counter() - start
        staging.commit(report.to_dict())
    except BaseException:
        staging.abort()
        raise
    return report
