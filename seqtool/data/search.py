"""Decoding conventions that every engine shares (seqtool's own torch search and exported engines).

Torch-free on purpose: the exported-engine path (:mod:`seqtool.engines`) must produce the same
:class:`Hypothesis` objects, output-length cap and length penalty as :mod:`seqtool.decoding`
without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Hypothesis:
    ids: list[int]
    score: float  # total log-probability (end-of-sentence included)
    attention: list[list[float]] | None = None  # (output step, source position), attention models only
    normalized: float = 0.0  # score after the length penalty (what beams are ranked by)
    extra: dict = field(default_factory=dict)


def output_length_cap(longest_source: int | None, ratio: float = 1.5, slack: int = 10, cap: int = 200) -> int:
    """Longest output worth producing: proportional to the longest source of a batch (``cap`` for LMs)."""
    if longest_source is None:
        return cap
    return min(cap, int(float(longest_source) * ratio) + slack)


def gnmt_penalty(length: float, alpha: float) -> float:
    """The GNMT length penalty ((5 + |y|) / 6) ** alpha, |y| counting end-of-sentence; alpha 0 ranks by
    raw log-probability. The one definition for every engine (CTranslate2's own is |y| ** alpha)."""
    return ((5.0 + length) / 6.0) ** alpha
