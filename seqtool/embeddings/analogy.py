"""Analogy expressions and the arithmetic over word vectors behind `similar`, `analogy` and `evaluate`.

An expression is any number of words joined by ``+`` and ``-``: ``父 - 男 + 女``, ``父-男+女``, or as a
Japanese keyboard types it, ``父－男＋女`` (full-width operators, ideographic spaces). The first word is
positive unless it carries a sign. The parser is pure (no model), so it is property-tested on its own.

Ranking works on unit-normalised vectors (gensim's ``get_normed_vectors``) with numpy:

- 3CosAdd: cosine with the sum of the positive unit vectors minus the negative ones (what gensim's
  ``most_similar`` computes);
- 3CosMul (Levy & Goldberg, 2014): the product of the positive similarities divided by the product of
  the negative ones, similarities shifted to [0, 1]; it keeps one large term from dominating.

``restrict`` keeps only the N most frequent words as candidates (gensim stores words by falling
frequency); rare words are where noisy near-duplicates of the query live. Query words are never
returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqtool.errors import OptionError

if TYPE_CHECKING:
    import numpy as np

# ASCII, full-width (U+FF0B/U+FF0D) and the mathematical minus sign (U+2212). The katakana prolonged
# sound mark ー (U+30FC) is a letter (コーヒー), never an operator.
PLUS_SIGNS = "+＋"
MINUS_SIGNS = "-－−"
_OPERATOR_RE = re.compile(f"([{re.escape(PLUS_SIGNS + MINUS_SIGNS)}])")
METHODS = ("add", "mul")
EXAMPLE = "父 - 男 + 女"


class ExpressionError(OptionError):
    """An analogy expression that cannot be parsed: empty, a dangling operator, only negative terms."""


@dataclass(frozen=True)
class Expression:
    """Signed words: ``terms[i] = (+1 | -1, word)`` in the order written."""

    terms: tuple[tuple[int, str], ...]

    @property
    def positive(self) -> list[str]:
        return [w for sign, w in self.terms if sign > 0]

    @property
    def negative(self) -> list[str]:
        return [w for sign, w in self.terms if sign < 0]

    @property
    def words(self) -> list[str]:
        return [w for _, w in self.terms]

    def __str__(self) -> str:
        first_sign, first = self.terms[0]
        text = first if first_sign > 0 else f"- {first}"
        return text + "".join(f" {'+' if sign > 0 else '-'} {w}" for sign, w in self.terms[1:])


def parse_expression(text: str | list[str]) -> Expression:
    """Parse ``父 - 男 + 女`` (or a list of command-line pieces of it) into signed words."""
    source = " ".join(text) if isinstance(text, list) else text
    shown = source.strip()
    # Every operator becomes its own token, so spacing does not matter; str.split() also splits on
    # the ideographic space U+3000 that Japanese input methods type.
    tokens = _OPERATOR_RE.sub(r" \1 ", source).split()
    if not tokens:
        raise ExpressionError(f"empty expression; write words joined by + and -, e.g. {EXAMPLE}")
    terms: list[tuple[int, str]] = []
    sign: int | None = None
    previous = ""
    for token in tokens:
        if token in PLUS_SIGNS or token in MINUS_SIGNS:
            if sign is not None:
                raise ExpressionError(f"two operators in a row ({previous} {token}) in {shown!r}")
            sign = 1 if token in PLUS_SIGNS else -1
        else:
            if sign is None and terms:
                raise ExpressionError(f"missing + or - between {previous!r} and {token!r} in {shown!r}")
            terms.append((1 if sign is None else sign, token))
            sign = None
        previous = token
    if sign is not None:
        raise ExpressionError(f"dangling operator {previous!r} at the end of {shown!r}; add a word after it")
    if not any(s > 0 for s, _ in terms):
        raise ExpressionError(f"{shown!r} has only negative terms; add a positive word, e.g. {EXAMPLE}")
    return Expression(tuple(terms))


def check_method(method: str) -> str:
    if method not in METHODS:
        raise OptionError(f"--method must be add (3CosAdd) or mul (3CosMul), got {method!r}")
    return method


def candidate_count(vocab_size: int, restrict: int | None) -> int:
    """How many of the most frequent words may be answers (all of them without ``restrict``)."""
    if restrict is None or restrict == 0:
        return vocab_size
    if restrict < 0:
        raise OptionError(f"--restrict must be >= 0 (0 = no restriction), got {restrict}")
    return min(restrict, vocab_size)


def score_candidates(
    unit: np.ndarray,
    positive: list[int],
    negative: list[int],
    *,
    method: str = "add",
    restrict: int | None = None,
) -> np.ndarray:
    """Scores of the first ``restrict`` rows of ``unit`` (unit vectors) as answers to the expression.

    The query rows get -inf so that they are never returned.
    """
    import numpy as np

    check_method(method)
    n = candidate_count(unit.shape[0], restrict)
    candidates = unit[:n]
    if method == "add":
        query = unit[positive].sum(axis=0) - unit[negative].sum(axis=0)
        norm = float(np.linalg.norm(query))
        scores = candidates @ (query / norm if norm > 0 else query)
    else:
        # Cosines shifted to [0, 1] so that products and quotients keep their order (Levy & Goldberg).
        sims = (candidates @ unit[positive + negative].T + 1.0) / 2.0
        numerator = sims[:, : len(positive)].prod(axis=1)
        denominator = sims[:, len(positive) :].prod(axis=1) + 1e-3
        scores = numerator / denominator
    scores = scores.astype(np.float64, copy=False)
    for i in positive + negative:
        if i < n:
            scores[i] = -np.inf
    return scores


def top_indices(scores: np.ndarray, top: int) -> list[int]:
    """Indices of the ``top`` best finite scores, best first."""
    import numpy as np

    top = min(top, int(np.isfinite(scores).sum()))
    if top <= 0:
        return []
    best = np.argpartition(-scores, top - 1)[:top]
    return [int(i) for i in best[np.argsort(-scores[best], kind="stable")]]


@dataclass(frozen=True)
class Question:
    """``a : b :: c : d`` from a questions file, with where it came from (for error messages)."""

    section: str
    words: tuple[str, str, str, str]
    line: int


def read_questions(path: str) -> list[Question]:
    """Google ``questions-words.txt`` format: ``: section`` headers, then four words per line.

    Blank lines and ``#`` comments are skipped; anything else is a DataError naming ``file:line``.
    """
    from seqtool.data.corpus import read_lines
    from seqtool.errors import DataError

    questions: list[Question] = []
    section = "(no section)"
    for number, line in read_lines(path):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith(":"):
            section = text[1:].strip() or section
            continue
        words = text.split()
        if len(words) != 4:
            raise DataError(
                f"{path}:{number}: expected 4 words 'a b c d' (a is to b as c is to d) or a ': section' "
                f"header, got {len(words)} word(s): {text[:60]!r}"
            )
        questions.append(Question(section, (words[0], words[1], words[2], words[3]), number))
    if not questions:
        raise DataError(f"{path}: no questions found (expected ': section' headers and lines 'a b c d')")
    return questions


def answer_questions(
    unit: np.ndarray, abc: np.ndarray, *, method: str = "add", restrict: int | None = None, top: int = 1
) -> np.ndarray:
    """For each row ``(a, b, c)`` of ``abc`` (word indices), the ``top`` best answers to ``b - a + c``.

    Batched over questions (memory bounded), with the same scoring as :func:`score_candidates`.
    """
    import numpy as np

    check_method(method)
    n = candidate_count(unit.shape[0], restrict)
    candidates = unit[:n]
    chunk = max(1, min(len(abc), 20_000_000 // max(1, 3 * n)))
    answers = np.empty((len(abc), top), dtype=np.int64)
    for start in range(0, len(abc), chunk):
        rows = abc[start : start + chunk]
        sims = candidates @ unit[rows.reshape(-1)].T  # (n, 3 * chunk): columns a0 b0 c0 a1 b1 c1 ...
        sim_a, sim_b, sim_c = sims[:, 0::3], sims[:, 1::3], sims[:, 2::3]
        if method == "add":
            scores = sim_b + sim_c - sim_a  # the norm of b - a + c is the same for every candidate
        else:
            scores = ((sim_b + 1) / 2) * ((sim_c + 1) / 2) / ((sim_a + 1) / 2 + 1e-3)
        scores = np.ascontiguousarray(scores.T)  # (chunk, n)
        for j, row in enumerate(rows):
            scores[j, row[row < n]] = -np.inf
        k = min(top, n)
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        answers[start : start + len(rows), :k] = np.take_along_axis(best, order, axis=1)
        answers[start : start + len(rows), k:] = -1
    return answers
