"""Japanese spacing: the corpus separates words with spaces; people do not.

Model output is produced in the corpus segmentation (``私 は 泳げ な い 。``), which BLEU against
the corpus references needs; for display the spaces are removed (``私は泳げない。``). Only spaces
between two ASCII words are kept, so that ``10 cm`` or ``new york`` stay readable.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable
from typing import Any

from seqtool.errors import OptionError

CJK_LANGUAGES = frozenset({"ja", "zh", "th", "jp", "ko-nospace"})
_SPACE_BETWEEN = re.compile(r"(?<=[^\x00-\x7f]) +|(?<=[\x00-\x7f]) +(?=[^\x00-\x7f])")


def is_cjk_language(lang: str) -> bool:
    """Languages written without spaces between words."""
    return lang.lower() in CJK_LANGUAGES


def join_japanese(text: str) -> str:
    """Remove the word-separating spaces except between two ASCII words."""
    return _SPACE_BETWEEN.sub("", text.strip())


# Word segmenters a Japanese side can be split with before sentencepiece (``--segment``): "none" keeps
# the text as it is; "mecab" is MeCab with the IPA dictionary, the segmenter behind sacrebleu's ja-mecab.
SEGMENTERS = ("none", "mecab")


_TAGGERS = threading.local()  # one MeCab tagger per thread: a tagger is not documented as thread-safe


def _mecab() -> Any:
    tagger = getattr(_TAGGERS, "tagger", None)
    if tagger is None:
        try:
            import ipadic
            import MeCab
        except ImportError:
            raise OptionError("--segment mecab needs mecab-python3 and ipadic: pip install 'sacrebleu[ja]'") from None
        tagger = _TAGGERS.tagger = MeCab.Tagger(ipadic.MECAB_ARGS + " -Owakati")
    return tagger


def mecab_words(text: str) -> str:
    """``text`` split into words by MeCab (IPAdic), words separated by one space. Spaces already in the
    text are removed first (:func:`join_japanese`), so raw text and text another segmenter split (KyTea's
    ``私 は 泳げ な い``) come out alike: ``私 は 泳げ ない``."""
    joined = join_japanese(text)
    return _mecab().parse(joined).strip() if joined else ""


def check_segment(segment: str) -> None:
    """A one-line error for an unknown ``--segment``, or for mecab without MeCab installed."""
    if segment not in ("auto", *SEGMENTERS):
        raise OptionError(f"--segment must be one of auto, {', '.join(SEGMENTERS)}, got {segment!r}")
    if segment == "mecab":
        _mecab()


def choose_segment(segment: str, lang: str, lines: Iterable[str], *, target: bool) -> tuple[str, str]:
    """The word segmenter of one side of a corpus, and why (for the status line): ``segment`` is "auto",
    "none" or "mecab". Only a Japanese side is ever split. "auto" splits a *target* written without
    spaces (a raw corpus; :func:`~seqtool.metrics.unsegmented_japanese` on its first 2,000 lines): on raw
    text sentencepiece learns word groups (彼は, 人生を), and a raw en->ja run scored 5.2 BLEU lower than with
    MeCab's words (2.8 with half the pieces; docs/benchmarks.md); a corpus already split into words keeps its
    own segmentation. A source is split only with "mecab": the gain was measured on targets."""
    from seqtool.languages import language_code
    from seqtool.metrics import unsegmented_japanese

    check_segment(segment)
    if language_code(lang) != "ja" or segment == "none":
        return "none", ""
    if segment == "mecab":
        return "mecab", "split into words by MeCab (--segment mecab)"
    if not target or not unsegmented_japanese(list(itertools.islice(lines, 2000))):
        return "none", ""
    try:
        _mecab()
    except OptionError as e:
        return "none", f"written without spaces; not split into words ({e})"
    return "mecab", "written without spaces: split into words by MeCab (IPAdic) first; --segment none keeps it raw"
