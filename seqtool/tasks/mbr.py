"""Minimum Bayes risk decoding: of many candidate translations, the one the model's own samples agree
with most (`translate --mbr N`).

The candidates are the beam's n-best and N epsilon-samples (Freitag et al. 2023: epsilon 0.02); the
samples also serve as pseudo-references, so each candidate's expected utility is its mean sentence
chrF (or BLEU) against them, and the best candidate wins. Sampling is batched (one search draws all N
samples of a batch of sentences), so N = 32 costs far less than 32 decodes. The utility is sacrebleu's
sentence metric, computed on display text (chrF ignores whitespace, so segmentation does not matter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sacrebleu.metrics import BLEU, CHRF

from seqtool.data.search import SearchOptions, Translation
from seqtool.errors import OptionError

# --mbr-metric -> its sacrebleu sentence metric (BLEU with effective order: short sentences get a score)
METRICS: dict[str, Any] = {"chrf": lambda: CHRF(), "bleu": lambda: BLEU(effective_order=True)}
EPSILON = 0.02  # Freitag et al. (2023): epsilon sampling with 0.02 for MBR candidates and references


def mbr_translate(tr: Any, texts: Sequence[str], search: SearchOptions, samples: int, metric: str = "chrf",
                  **kwargs: Any) -> list[list[Translation]]:  # fmt: skip
    """For each text, the candidate with the highest expected utility (first, then the others in that
    order, ``search.nbest`` in all); ``kwargs`` go to ``tr.translate`` (tokenized, batch_sentences)."""
    if samples < 1:
        raise OptionError(f"--mbr must be >= 1 (the number of samples), got {samples}")
    if metric not in METRICS:
        raise OptionError(f"--mbr-metric must be one of {', '.join(METRICS)}, got {metric!r}")
    beam = search.with_(strategy="beam", nbest=min(search.beam, max(search.nbest, 4)))
    drawn = search.with_(strategy="sample", nbest=samples, epsilon=search.epsilon or EPSILON,
                         seed=0 if search.seed is None else search.seed)  # fmt: skip
    best = tr.translate(list(texts), search=beam, **kwargs)
    pool = tr.translate(list(texts), search=drawn, **kwargs)
    scorer = METRICS[metric]()
    out = []
    for beam_outs, sampled in zip(best, pool, strict=True):
        refs = [t.text for t in sampled]
        candidates = list({t.text: t for t in [*beam_outs, *sampled]}.values())  # unique texts, beam's first
        utility = {c.text: sum(scorer.sentence_score(c.text, [r]).score for r in refs) / len(refs) for c in candidates}
        ranked = sorted(candidates, key=lambda c: -utility[c.text])
        out.append(ranked[: search.nbest])
    return out
