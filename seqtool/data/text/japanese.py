"""Japanese spacing: the corpus separates words with spaces; people do not.

Model output is produced in the corpus segmentation (``私 は 泳げ な い 。``), which BLEU against
the corpus references needs; for display the spaces are removed (``私は泳げない。``). Only spaces
between two ASCII words are kept, so that ``10 cm`` or ``new york`` stay readable.
"""

from __future__ import annotations

import re

CJK_LANGUAGES = frozenset({"ja", "zh", "th", "jp", "ko-nospace"})
_SPACE_BETWEEN = re.compile(r"(?<=[^\x00-\x7f]) +|(?<=[\x00-\x7f]) +(?=[^\x00-\x7f])")


def is_cjk_language(lang: str) -> bool:
    """Languages written without spaces between words."""
    return lang.lower() in CJK_LANGUAGES


def join_japanese(text: str) -> str:
    """Remove the word-separating spaces except between two ASCII words."""
    return _SPACE_BETWEEN.sub("", text.strip())
