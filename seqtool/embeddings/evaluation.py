"""Intrinsic evaluation of embeddings: analogy accuracy and word-similarity correlation.

Analogy questions use the Google ``questions-words.txt`` format (:func:`seqtool.embeddings.analogy.read_questions`).
A question whose four words are not all in the vocabulary is *out of vocabulary* and counted apart:
``total`` counts the questions that were asked, ``oov`` those that could not be, and ``accuracy`` is
``correct / total``. ``restrict`` limits the candidate answers (not the questions) to the most frequent
words, so a question whose answer lies outside that range counts as wrong, never as skipped.

When a question word is missing but its lowercase form is present, the lowercase form is used: the
gensim test sets are capitalised (``Athens Greece``) while the corpus convention is lowercase.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtool.data.corpus import read_lines
from seqtool.embeddings.analogy import answer_questions, check_method, read_questions
from seqtool.embeddings.vectors import Embeddings
from seqtool.errors import DataError, OptionError

TOP_K = 5  # besides top-1, report whether the answer is among the first five


def default_test_file(emb: Embeddings, name: str, option: str) -> Path:
    """gensim's own English test file (``questions-words.txt`` or ``wordsim353.tsv``) for an English model."""
    if emb.config.get("language") != "en":
        raise OptionError(
            f"model {emb.name!r} is not English (language {emb.config.get('language')!r}), so there is no "
            f"built-in test file; pass {option} FILE (e.g. benchmarks/analogy_ja.txt for Japanese analogies)"
        )
    from gensim.test.utils import datapath

    return Path(datapath(name))


def _lookup(emb: Embeddings, word: str) -> int | None:
    index = emb.kv.key_to_index
    found = index.get(word)
    return index.get(word.lower()) if found is None else found


def evaluate_analogies(
    emb: Embeddings, questions: str | Path | None = None, *, method: str = "add", restrict: int | None = None
) -> dict[str, Any]:
    """Per-section and total top-1 (and top-5) accuracy on a questions file; the `--json` shape."""
    import numpy as np

    check_method(method)
    path = Path(questions) if questions is not None else default_test_file(emb, "questions-words.txt", "--questions")
    items = read_questions(str(path))
    known: list[tuple[str, list[int]]] = []
    sections: dict[str, dict[str, Any]] = {}
    for q in items:
        section = sections.setdefault(q.section, {"name": q.section, "correct": 0, "top5": 0, "total": 0, "oov": 0})
        ids = [_lookup(emb, w) for w in q.words]
        if any(i is None for i in ids):
            section["oov"] += 1
        else:
            section["total"] += 1
            known.append((q.section, [int(i) for i in ids if i is not None]))
    if known:
        abc = np.array([ids[:3] for _, ids in known], dtype=np.int64)
        expected = np.array([ids[3] for _, ids in known], dtype=np.int64)
        answers = answer_questions(emb.kv.get_normed_vectors(), abc, method=method, restrict=restrict, top=TOP_K)
        top1 = answers[:, 0] == expected
        top5 = (answers == expected[:, None]).any(axis=1)
        for (name, _), hit1, hit5 in zip(known, top1, top5, strict=True):
            sections[name]["correct"] += int(hit1)
            sections[name]["top5"] += int(hit5)
    for s in sections.values():
        s["accuracy"] = s["correct"] / s["total"] if s["total"] else 0.0
        s["top5_accuracy"] = s["top5"] / s["total"] if s["total"] else 0.0
    correct = sum(s["correct"] for s in sections.values())
    top5_hits = sum(s["top5"] for s in sections.values())
    total = sum(s["total"] for s in sections.values())
    return {
        "model": emb.name,
        "questions": str(path),
        "method": method,
        "restrict": restrict,
        "accuracy": correct / total if total else 0.0,
        "correct": correct,
        "total": total,
        "oov": sum(s["oov"] for s in sections.values()),
        "top5_accuracy": top5_hits / total if total else 0.0,
        "sections": [
            {
                "name": s["name"],
                "accuracy": s["accuracy"],
                "correct": s["correct"],
                "total": s["total"],
                "oov": s["oov"],
                "top5_accuracy": s["top5_accuracy"],
            }
            for s in sections.values()
        ],
    }


def read_pairs(path: str | Path) -> list[tuple[str, str, float, int]]:
    """``word1 word2 score`` per line (tabs or spaces); ``#`` comments and blank lines skipped."""
    pairs: list[tuple[str, str, float, int]] = []
    for number, line in read_lines(path):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split()
        try:
            if len(fields) != 3:
                raise ValueError
            score = float(fields[2])
        except ValueError:
            raise DataError(
                f"{path}:{number}: expected 'word1 word2 score' (score a number), got {text[:60]!r}"
            ) from None
        pairs.append((fields[0], fields[1], score, number))
    if not pairs:
        raise DataError(f"{path}: no word pairs found (expected lines 'word1 word2 score')")
    return pairs


def evaluate_similarity(emb: Embeddings, pairs_file: str | Path | None = None) -> dict[str, Any]:
    """Spearman (and Pearson) correlation between human scores and cosine similarity; the `--json` shape."""
    import numpy as np
    from scipy.stats import pearsonr, spearmanr

    path = Path(pairs_file) if pairs_file is not None else default_test_file(emb, "wordsim353.tsv", "--pairs")
    pairs = read_pairs(path)
    human, model = [], []
    for a, b, score, _ in pairs:
        ia, ib = _lookup(emb, a), _lookup(emb, b)
        if ia is None or ib is None:
            continue
        human.append(score)
        model.append(float(np.dot(emb.kv.get_vector(ia, norm=True), emb.kv.get_vector(ib, norm=True))))
    oov = len(pairs) - len(human)
    if len(human) < 2:
        raise DataError(f"{path}: only {len(human)} of {len(pairs)} pairs are in the vocabulary; need at least 2")
    constant = len(set(human)) < 2 or len(set(model)) < 2
    return {
        "model": emb.name,
        "pairs_file": str(path),
        "spearman": None if constant else float(spearmanr(human, model).statistic),
        "pearson": None if constant else float(pearsonr(human, model).statistic),
        "pairs": len(human),
        "oov": oov,
        "oov_ratio": oov / len(pairs),
    }
