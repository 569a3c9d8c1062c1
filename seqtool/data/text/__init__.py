"""Text conventions: English normalization, Japanese spacing and word segmentation."""

from seqtool.data.text.english import normalize_english
from seqtool.data.text.japanese import (
    SEGMENTERS,
    check_segment,
    choose_segment,
    is_cjk_language,
    join_japanese,
    mecab_words,
)

__all__ = [
    "SEGMENTERS",
    "check_segment",
    "choose_segment",
    "is_cjk_language",
    "join_japanese",
    "mecab_words",
    "normalize_english",
]
