"""Text conventions: English normalization and Japanese spacing."""

from seqtool.data.text.english import normalize_english
from seqtool.data.text.japanese import is_cjk_language, join_japanese

__all__ = ["is_cjk_language", "join_japanese", "normalize_english"]
