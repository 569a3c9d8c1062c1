"""Forced decoding: how probable a model finds given outputs (`seqtool score`, translate's confidence).

A translator scores (source, hypothesis) pairs, a language model scores sentences: each target token's
log-probability given the source and the tokens before it, ``</s>`` included, from one teacher-forced
pass (no search). The total is what beam search reports for the same tokens (its ``score``), so
`seqtool score` on `translate`'s own output gives back translate's scores. Both engines implement
``score_ids(sources, targets)``: torch here, CTranslate2 through its ``score_batch``.

Uses: rerank an n-best list, filter a crawled corpus by model score, find the lines a model gets wrong,
compare models on the same references, flag doubtful translations (``translate --confidence``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqtool.data.batching import collate, in_memory_corpus, token_batches
from seqtool.data.corpus import read_parallel
from seqtool.errors import DataError
from seqtool.metrics import word_count


@dataclass
class Scored:
    """One scored output: its total log-probability and, per token (``</s>`` last), the pieces and theirs."""

    total: float
    logprobs: list[float]
    pieces: list[str] = field(default_factory=list)
    words: int = 0  # language models: words of the sentence plus one end-of-sentence (per-word perplexity)

    @property
    def mean(self) -> float:
        """Mean log-probability per token: the length-normalized score, and the sentence's confidence."""
        return self.total / max(1, len(self.logprobs))

    def as_dict(self, tokens: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"score": self.total, "mean_logprob": self.mean, "length": len(self.logprobs)}
        if self.words:
            out["perplexity"] = math.exp(-self.total / self.words)
        if tokens:
            out["tokens"] = [{"piece": p, "logprob": lp, "prob": math.exp(lp)}
                             for p, lp in zip(self.pieces, self.logprobs, strict=True)]  # fmt: skip
        return out


@torch.no_grad()
def score_ids_torch(model: Any, device: torch.device, sources: Sequence[Sequence[int]] | None,
                    targets: Sequence[Sequence[int]], max_tokens: int = 4096) -> list[list[float]]:  # fmt: skip
    """Per target, the log-probability of each of its tokens and of ``</s>`` (teacher forcing, fp32)."""
    model.eval()
    tgt = in_memory_corpus(targets)
    src = in_memory_corpus(sources) if sources is not None else None
    lengths = tgt.lengths() + 1 if src is None else np.maximum(tgt.lengths() + 1, src.lengths())
    out: list[list[float]] = [[] for _ in targets]
    for indices in token_batches(lengths, max_tokens, seed=0, epoch=0, shuffle=False):
        batch = collate(indices, tgt, src).to(device)
        logp = torch.log_softmax(model.logits(model.features(batch)).float(), dim=-1)
        picked = logp.gather(-1, batch.tgt_out[..., None])[..., 0]
        for row, i in enumerate(indices.tolist()):
            out[i] = picked[row, : len(targets[i]) + 1].tolist()
    return out


def read_pairs(src: Path, hyp: Path) -> tuple[list[str], list[str]]:
    """The lines of two line-aligned files (unequal counts: the corpus reader's one-line error)."""
    rows = list(read_parallel(src, hyp))
    return [s for _, s, _ in rows], [h for _, _, h in rows]


def check_nonempty(texts: Sequence[str], where: str) -> None:
    for n, text in enumerate(texts, start=1):
        if not text.strip():
            raise DataError(f"{where}:{n}: empty line; every line needs text to score (remove it or fill it)")


def score_translations(tr: Any, sources: Sequence[str], hyps: Sequence[str]) -> list[Scored]:
    """Each hypothesis's scores given its source, on the translator's engine (``tr.score_ids``). The
    hypotheses are read as the target tokenizer reads text: in the corpus segmentation for a segmented
    target (`translate --tokenized` output), so that the pieces are the ones the model produced."""
    src_ids = tr.src_tok.encode_batch(list(sources))
    tgt_ids = tr.tgt_tok.encode_batch(list(hyps))
    found = tr.score_ids(src_ids, tgt_ids)
    return [Scored(sum(lps), lps, [*(tr.tgt_tok.id_to_piece(i) for i in ids), "</s>"])
            for ids, lps in zip(tgt_ids, found, strict=True)]  # fmt: skip


def score_sentences(lm: Any, lines: Sequence[str]) -> list[Scored]:
    """Each sentence's log-probability under a language model (per-word perplexity alongside)."""
    ids = lm.tokenizer.encode_batch(list(lines))
    found = score_ids_torch(lm.model, lm.device, None, ids)
    return [Scored(sum(lps), lps, [*(lm.tokenizer.id_to_piece(i) for i in row), "</s>"],
                   word_count(lm.tokenizer.prepare(line)))
            for line, row, lps in zip(lines, ids, found, strict=True)]  # fmt: skip


def confidence(tr: Any, sources: Sequence[str], found: list[list[Any]]) -> list[list[Scored]]:
    """Per source, the scores of each of its translations (``found``: translate's output), scored by the
    same engine from the very ids the search produced. An empty source has empty translations, scored 0."""
    src_ids = tr.src_tok.encode_batch(list(sources))
    todo = [(n, k) for n, outs in enumerate(found) for k in range(len(outs)) if src_ids[n]]
    scored = tr.score_ids([src_ids[n] for n, _ in todo], [found[n][k].hypothesis.ids for n, k in todo]) if todo else []
    out = [[Scored(0.0, [0.0], ["</s>"]) for _ in outs] for outs in found]
    for (n, k), lps in zip(todo, scored, strict=True):
        pieces = [*(tr.tgt_tok.id_to_piece(i) for i in found[n][k].hypothesis.ids), "</s>"]
        out[n][k] = Scored(sum(lps), lps, pieces)
    return out


def dual_cross_entropy(forward: Any, reverse: Any, sources: Sequence[str], targets: Sequence[str]) -> list[float]:
    """Junczys-Dowmunt (2018)'s dual conditional cross-entropy of each pair, lower is better: with
    H_f = -log P(y|x) / |y| from the forward translator and H_r = -log P(x|y) / |x| from the reverse one,
    ``|H_f - H_r| + (H_f + H_r) / 2``: both directions must find the pair likely, and equally so (a
    misaligned or wrong-language pair fails at least one)."""
    fwd = score_translations(forward, sources, targets)
    rev = score_translations(reverse, targets, sources)
    return [abs(-f.mean + r.mean) + (-f.mean - r.mean) / 2 for f, r in zip(fwd, rev, strict=True)]


def keep_best(scores: Sequence[float], fraction: float) -> list[int]:
    """Indices (in input order) of the ``fraction`` of lines with the lowest scores (ties: earlier first)."""
    if not 0 < fraction <= 1:
        raise DataError(f"--keep must be in (0, 1], got {fraction}")
    count = max(1, round(len(scores) * fraction)) if scores else 0
    return sorted(sorted(range(len(scores)), key=lambda i: (scores[i], i))[:count])
