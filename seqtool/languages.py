"""Language codes, below everything else: what ``--src-lang ja``, ``--tgt-lang jpn`` or ``ja_JP`` mean.

seqtool names languages by ISO 639-1 codes (``en``, ``ja``: py3langid's, the corpus file suffixes, sacrebleu's
tokenizer choice). Users also write ISO 639-3 (Tatoeba's ``eng``, ``jpn``, ``cmn``), a region (``ja-JP``,
``zh_TW``) or the common ``jp``; :func:`language_code` maps them all to the one code.
"""

from __future__ import annotations

# ISO 639-3 (Tatoeba's codes) and common aliases to 639-1. Mandarin is "cmn" on Tatoeba.
THREE_TO_TWO = {
    "eng": "en", "jpn": "ja", "cmn": "zh", "zho": "zh", "kor": "ko", "tha": "th", "fra": "fr", "deu": "de",
    "spa": "es", "ita": "it", "por": "pt", "rus": "ru", "ukr": "uk", "pol": "pl", "nld": "nl", "tur": "tr",
    "ara": "ar", "heb": "he", "hin": "hi", "vie": "vi", "ind": "id", "swe": "sv", "fin": "fi", "ces": "cs",
    "ell": "el", "hun": "hu", "dan": "da", "nob": "nb", "ron": "ro", "bul": "bg", "epo": "eo", "lit": "lt",
}  # fmt: skip
ALIASES = {**THREE_TO_TWO, "jp": "ja", "chi": "zh"}
KNOWN_LANGUAGES = frozenset(THREE_TO_TWO.values())


def language_code(code: str | None) -> str | None:
    """The ISO 639-1 code of ``code`` (``jpn``, ``ja-JP``, ``JA`` -> ``ja``); an unknown code is kept, lowercased
    and without its region; None for None or an empty code."""
    if code is None or not code.strip():
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return ALIASES.get(base, base)
