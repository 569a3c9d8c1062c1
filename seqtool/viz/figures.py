"""Figures with matplotlib (headless), Japanese text rendered with a bundled CJK font.

The font is IPAexGothic, shipped inside the PyPI package ``matplotlib-fontja`` (a dependency),
so CJK labels render on any machine without system fonts. Every figure gets a title, axis
labels and a legend where there is more than one series; :func:`save_figure` writes it
atomically as a PNG and returns the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtool.files import atomic_path

DEFAULT_SIZE = (8.0, 5.0)  # inches; at 120 dpi -> 960x600 pixels
DPI = 120


def pyplot() -> Any:
    """matplotlib.pyplot with the Agg backend and the CJK font selected (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401 - registers IPAexGothic and makes it the default family

    plt.rcParams["axes.unicode_minus"] = False  # the minus sign is missing from many CJK fonts
    return plt


def new_figure(title: str, xlabel: str, ylabel: str, size: tuple[float, float] = DEFAULT_SIZE) -> tuple[Any, Any]:
    """A figure with one axes, titled and labelled."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size, dpi=DPI)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` as a PNG (atomically) and close it."""
    plt = pyplot()
    path = Path(path)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    plt.close(fig)
    return path


def attention_heatmap(
    source: list[str], output: list[str], weights: list[list[float]], path: str | Path, title: str
) -> Path:
    """Source tokens (columns) x output tokens (rows) attention weights as a PNG heatmap."""
    plt = pyplot()
    # sentencepiece marks word starts with U+2581, which CJK fonts lack: show it as "_".
    source, output = [t.replace("\u2581", "_") for t in source], [t.replace("\u2581", "_") for t in output]
    width = min(16.0, 2.0 + 0.55 * len(source))
    height = min(16.0, 1.8 + 0.45 * len(output))
    fig, ax = plt.subplots(figsize=(width, height), dpi=DPI)
    image = ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(source)), source, rotation=60, ha="right")
    ax.set_yticks(range(len(output)), output)
    ax.set_xlabel("source tokens")
    ax.set_ylabel("output tokens")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.04, label="attention weight")
    return save_figure(fig, path)
