"""A 2-D PCA picture of chosen words (and optionally their nearest neighbours).

PCA is fitted on the plotted words only, so the two axes show how *these* words differ rather
than the directions of the whole vocabulary. Japanese labels render with the CJK font that
:mod:`seqtool.viz.figures` selects (IPAexGothic from the matplotlib-fontja package).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqtool.embeddings.vectors import Embeddings, neighbours
from seqtool.errors import OptionError, check_positive
from seqtool.viz.figures import new_figure, save_figure


@dataclass
class EmbeddingPlot:
    path: Path
    words: list[str]  # the words asked for
    neighbours: list[str]  # the neighbours added to the picture
    explained_variance: tuple[float, float]


def plot_embeddings(
    emb: Embeddings, words: list[str], path: str | Path, *, neighbours_per_word: int = 0
) -> EmbeddingPlot:
    """Draw ``words`` (and ``neighbours_per_word`` neighbours of each) in the plane of their first two
    principal components and save a PNG at ``path``. Unknown words raise before anything is written."""
    import numpy as np

    if not words:
        raise OptionError("give at least one word to plot")
    check_positive("--neighbours", neighbours_per_word, allow_zero=True)
    chosen = list(dict.fromkeys(words))
    for word in chosen:
        emb.index(word)  # OutOfVocabularyError with spelling suggestions
    added: list[str] = []
    for word in chosen:
        for n in neighbours(emb, word, top=neighbours_per_word) if neighbours_per_word else []:
            if n.word not in chosen and n.word not in added:
                added.append(n.word)
    labels = chosen + added
    if len(labels) < 2:
        raise OptionError("a PCA picture needs at least two distinct words; add words or --neighbours")
    vectors = np.stack([emb.kv.get_vector(w, norm=True) for w in labels]).astype(np.float64)
    centred = vectors - vectors.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ components[:2].T
    if xy.shape[1] == 1:  # two words: one component; draw them on a line
        xy = np.hstack([xy, np.zeros_like(xy)])
    variance = singular**2 / max(float((singular**2).sum()), 1e-12)
    explained = (float(variance[0]), float(variance[1]) if len(variance) > 1 else 0.0)
    fig, ax = new_figure(
        f"word vectors of {emb.name!r} (PCA)",
        f"PC1 ({explained[0]:.0%} of variance)",
        f"PC2 ({explained[1]:.0%} of variance)",
    )
    n = len(chosen)
    ax.scatter(xy[:n, 0], xy[:n, 1], s=40, color="tab:red", label="chosen words", zorder=3)
    if added:
        ax.scatter(xy[n:, 0], xy[n:, 1], s=20, color="tab:blue", alpha=0.6, label="neighbours", zorder=2)
        ax.legend(loc="best")
    for (x, y), label, is_chosen in zip(xy, labels, [True] * n + [False] * len(added), strict=True):
        ax.annotate(
            label,
            (x, y),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=12 if is_chosen else 9,
            color="black" if is_chosen else "dimgray",
        )
    return EmbeddingPlot(save_figure(fig, path), chosen, added, explained)
