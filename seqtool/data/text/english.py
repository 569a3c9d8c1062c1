"""Raw English -> the corpus convention (lowercased, Stanford-tokenizer style).

``"I can't swim."`` becomes ``"i can 't swim ."``: punctuation is split off, clitics are split
before the apostrophe (``don 't``, ``i 'm``, ``father 's``, ``o 'clock``), numbers such as
``1,000`` and ``3.5`` and hyphenated words stay whole. Already-normalized text is unchanged, so the
function is idempotent and safe to apply to corpus lines as well as user input.
"""

from __future__ import annotations

import re
import unicodedata

# Typographic variants a user's keyboard or editor produces, mapped to what the corpus uses.
_CHAR_MAP = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": " -- ", "\u2026": "..."}
)
# A period is split off unless a letter or digit follows (3.5, u.s.a): "(?=\s|$)" instead would keep the
# period of "a.!" attached until the "!" is split off, so a second pass changed the text again.
_PUNCT = re.compile(r"""(\.\.\.|[?!;:"()\[\]{}]|,(?!\d)|(?<!\d),|\.(?!\w))""")
_CLITIC = re.compile(r"(?<=\w)('\w+)\b")
_SPACES = re.compile(r"\s+")


def normalize_english(text: str) -> str:
    """Lowercase and tokenize ``text`` like the corpus (see module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_CHAR_MAP).lower()
    text = _PUNCT.sub(r" \1 ", text)
    text = _CLITIC.sub(r" \1", text)
    return _SPACES.sub(" ", text).strip()
