"""Scores: corpus BLEU/chrF/TER through sacrebleu (with signatures) and per-word perplexity.

Per-word perplexity is ``exp(total negative log-likelihood / number of words)``, where the words
are the space-separated tokens of the evaluated text plus one end-of-sentence per line. A subword
model sums its pieces' log-probabilities for each sentence, so models with different
vocabularies are compared on the same denominator.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


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


@dataclass
class TranslationScores:
    bleu: float
    chrf: float
    ter: float
    signatures: dict[str, str]
    sentences: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "bleu": round(self.bleu, 2), "chrf": round(self.chrf, 2), "ter": round(self.ter, 2),
            "signatures": self.signatures, "sentences": self.sentences,
        }  # fmt: skip


def translation_scores(
    hypotheses: Sequence[str], references: Sequence[str], tokenize: str = "none", with_ter: bool = True
) -> TranslationScores:
    """Corpus BLEU, chrF and TER with sacrebleu.

    ``tokenize="none"`` is the default because seqtool's references are already segmented
    (small_parallel_enja's Japanese is split into words by KyTea): sacrebleu's own tokenizers
    would re-split the words (``13a``) or segment Japanese differently (``ja-mecab``).
    """
    from sacrebleu.metrics import BLEU, CHRF, TER

    if len(hypotheses) != len(references):
        from seqtool.errors import DataError

        raise DataError(f"{len(hypotheses)} hypotheses but {len(references)} references; they must pair up")
    bleu, chrf = BLEU(tokenize=tokenize), CHRF()
    b = bleu.corpus_score(list(hypotheses), [list(references)])
    c = chrf.corpus_score(list(hypotheses), [list(references)])
    signatures = {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())}
    ter_score = float("nan")
    if with_ter:
        ter = TER()
        ter_score = ter.corpus_score(list(hypotheses), [list(references)]).score
        signatures["ter"] = str(ter.get_signature())
    return TranslationScores(b.score, c.score, ter_score, signatures, len(hypotheses))


def bleu_only(hypotheses: Sequence[str], references: Sequence[str], tokenize: str = "none") -> float:
    """Corpus BLEU alone (what training evaluates every epoch)."""
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=tokenize).corpus_score(list(hypotheses), [list(references)]).score


def distinct_n(sentences: Iterable[Sequence[str]], n: int) -> float:
    """Distinct-n (Li et al. 2016): distinct n-grams / all n-grams over every sentence (0 if none)."""
    grams = [tuple(s[i : i + n]) for s in sentences for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
