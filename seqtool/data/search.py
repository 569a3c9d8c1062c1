"""Decoding conventions that every engine shares (seqtool's own torch search and exported engines).

Torch-free on purpose: the exported-engine path (:mod:`seqtool.engines`) must produce the same
:class:`Hypothesis` objects, output-length cap and length penalty as :mod:`seqtool.decoding`
without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from seqtool.data.text import join_japanese
from seqtool.errors import OptionError


@dataclass
class Hypothesis:
    ids: list[int]
    score: float  # total log-probability (end-of-sentence included)
    attention: list[list[float]] | None = None  # (output step, source position), attention models only
    normalized: float = 0.0  # score after the length penalty (what beams are ranked by)


@dataclass
class Translation:
    """One output of a translator: the text as shown and the search hypothesis behind it."""

    text: str
    hypothesis: Hypothesis


@dataclass(frozen=True)
class SearchOptions:
    """How to decode, as one value that travels whole from the command line or an HTTP request to the
    engine. ``strategy`` names a registered strategy (seqtool.decoding: greedy, beam, sample, or a
    plugin's); the other fields are what strategies read (each ignores those it has no use for)."""

    strategy: str = "beam"
    beam: int = 5  # hypotheses kept per sentence (beam)
    nbest: int = 1  # outputs per sentence (beam: the best ones; sample: independent draws)
    alpha: float = 1.0  # GNMT length penalty (gnmt_penalty); 0: rank by raw log-probability
    temperature: float = 1.0  # sample: the distribution's temperature
    top_k: int = 0  # sample: draw among the k most probable tokens only (0: all)
    epsilon: float = 0.0  # sample: never draw a token less probable than this (epsilon sampling; 0: off)
    max_len: int | None = None  # output tokens at most (None: output_length_cap of each source)
    seed: int | None = None  # sample: the random seed (None: unseeded)

    def validate(self) -> SearchOptions:
        """Checks that hold for every strategy; returns self."""
        if self.beam <= 0 or self.nbest <= 0:
            raise OptionError(f"need --beam >= 1 and --nbest >= 1, got beam {self.beam}, nbest {self.nbest}")
        if self.temperature <= 0 or self.top_k < 0:
            raise OptionError(f"need --temperature > 0 and --top-k >= 0, got {self.temperature}, {self.top_k}")
        if not 0 <= self.epsilon < 1:
            raise OptionError(f"--epsilon must be in [0, 1), got {self.epsilon}")
        if self.max_len is not None and self.max_len <= 0:
            raise OptionError(f"--max-len must be > 0, got {self.max_len}")
        return self

    def with_(self, **changes: Any) -> SearchOptions:
        return replace(self, **changes)


def output_length_cap(longest_source: int | None, ratio: float = 1.5, slack: int = 10, cap: int = 200) -> int:
    """Longest output worth producing: proportional to the longest source of a batch (``cap`` for LMs)."""
    if longest_source is None:
        return cap
    return min(cap, int(float(longest_source) * ratio) + slack)


def gnmt_penalty(length: float, alpha: float) -> float:
    """The GNMT length penalty ((5 + |y|) / 6) ** alpha, |y| counting end-of-sentence; alpha 0 ranks by
    raw log-probability. The one definition for every engine (CTranslate2's own is |y| ** alpha)."""
    return ((5.0 + length) / 6.0) ** alpha


def translate_in_batches(
    texts: Sequence[str],
    encoded: list[list[int]],
    search: Callable[[list[list[int]]], list[list[Hypothesis]]],
    decode: Callable[[list[int]], str],
    *,
    nbest: int,
    batch_sentences: int,
    join: bool,
    progress: Callable[[int], None],
) -> list[list[Translation]]:
    """The ``nbest`` translations of every text, in input order, whatever the engine.

    Sentences are searched shortest first in batches of ``batch_sentences`` (``search`` gets the
    source ids of one batch); an empty source gives empty translations. ``join`` removes the word
    spaces of a language written without them; ``progress`` gets the sentences done after each batch."""
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    results: list[list[Translation]] = [[] for _ in texts]
    for start in range(0, len(order), batch_sentences):
        idx = order[start : start + batch_sentences]
        nonempty = [i for i in idx if encoded[i]]
        for i in idx:
            if not encoded[i]:
                results[i] = [Translation("", Hypothesis([], 0.0)) for _ in range(nbest)]
        if nonempty:
            for i, hyps in zip(nonempty, search([encoded[i] for i in nonempty]), strict=True):
                texts_out = (decode(h.ids) for h in hyps)
                results[i] = [
                    Translation(join_japanese(t) if join else t, h) for t, h in zip(texts_out, hyps, strict=True)
                ]
        progress(min(start + batch_sentences, len(order)))
    return results


def search_options(search: SearchOptions | None = None, **loose: Any) -> SearchOptions:
    """``search`` (default: the defaults) with the loose ``beam=``, ``alpha=``, ``nbest=``... values that
    are not None on top, validated: what every translator's ``translate`` accepts."""
    given = {k: v for k, v in loose.items() if v is not None}
    return (search or SearchOptions()).with_(**given).validate()
