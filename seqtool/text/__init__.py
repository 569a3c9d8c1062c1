"""Text conventions: English normalization and Japanese spacing."""

from seqtool.text.english import normalize_english
from seqtool.text.japanese import is_cjk_language, join_japanese

__all__ = ["is_cjk_language", "join_japanese", "normalize_english"]
