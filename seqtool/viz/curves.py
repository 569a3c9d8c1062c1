"""Learning-curve figures: trained models' metrics histories and the course experiments (binary addition, next word).

Library code: it reads model folders and writes PNGs, never prints, and raises typed errors.
Figures are drawn with :mod:`seqtool.viz.figures` (Agg backend, CJK font, atomic PNG writes), several
panels side by side so that a loss and an accuracy (or perplexity, or BLEU) with very different
scales each get their own y axis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtool.errors import DataError, OptionError, WorkspaceError
from seqtool.store.workspace import Workspace, load_model_config
from seqtool.viz.figures import DPI, pyplot, save_figure

# The experiments' results (seqtool.tasks.experiments: BinaryAdditionResult, NextWordResult) live in a
# layer above this one, so the figures read them by their fields (duck typing), not by their types.
BinaryAdditionResult = Any
NextWordResult = Any


PANEL_SIZE = (6.0, 4.5)  # inches per panel; at plots.DPI (120) a two-panel figure is 1440x540 pixels


METRIC_LABELS = {
    "ppl": "perplexity", "bleu": "BLEU", "chrf": "chrF", "ter": "TER", "acc": "accuracy",
    "top1": "top-1 accuracy", "top5": "top-5 accuracy",
}  # fmt: skip


MAX_FILENAME_NAMES = 60  # characters of joined model names in a default figure file name


def figure_pixels(panels: int) -> tuple[int, int]:
    """(width, height) in pixels of a figure with ``panels`` panels side by side."""
    return round(PANEL_SIZE[0] * panels * DPI), round(PANEL_SIZE[1] * DPI)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, read from its IHDR chunk (which always follows the 8-byte signature)."""
    with open(path, "rb") as f:
        header = f.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n" or header[12:16] != b"IHDR":
        raise DataError(f"{path}: not a PNG file")
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _panels(count: int, title: str) -> tuple[Any, list[Any]]:
    plt = pyplot()
    fig, axes = plt.subplots(1, count, figsize=(PANEL_SIZE[0] * count, PANEL_SIZE[1]), dpi=DPI, squeeze=False)
    fig.suptitle(title)
    for ax in axes[0]:
        ax.grid(True, alpha=0.3)
    return fig, list(axes[0])


def _save(fig: Any, path: Path) -> Path:
    """Save through :func:`seqtool.viz.figures.save_figure`; an unwritable place becomes a one-line error."""
    try:
        return save_figure(fig, path)
    except OSError as e:
        pyplot().close(fig)
        raise WorkspaceError(f"cannot write figure {path}: {e.strerror or e}") from None


def default_figure_name(prefix: str, parts: Sequence[str]) -> str:
    """``prefix-part1-part2.png``, shortened (with a count) when many long names are joined."""
    joined = "-".join(parts)
    if len(joined) > MAX_FILENAME_NAMES:
        joined = f"{parts[0]}-and-{len(parts) - 1}-more"
    return f"{prefix}-{joined}.png"


@dataclass
class RunHistory:
    """One model's per-epoch metrics and which of its columns is the dev metric (dev_ppl, dev_bleu...)."""

    name: str
    kind: str
    rows: list[dict[str, Any]]
    dev_metric: str | None

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(epochs, values) for the rows that have a number under ``key``."""
        xs, ys = [], []
        for row in self.rows:
            value = row.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                xs.append(float(row.get("epoch", len(xs) + 1)))
                ys.append(float(value))
        return xs, ys


def _dev_metric(cfg: dict[str, Any], rows: list[dict[str, Any]]) -> str | None:
    """The model's dev metric column: the one named by config "best", else the first dev_* besides dev_loss."""
    columns = {key for row in rows for key in row}
    best = (cfg.get("best") or {}).get("metric")
    if isinstance(best, str):
        for candidate in (best, f"dev_{best}"):
            if candidate in columns and candidate != "dev_loss":
                return candidate
    others = sorted(c for c in columns if c.startswith("dev_") and c != "dev_loss")
    return others[0] if others else None


def check_unique(names: Sequence[str]) -> None:
    if not names:
        raise OptionError("name at least one model")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise OptionError(f"model named more than once: {', '.join(repeated)}")


def load_histories(ws: Workspace, names: Sequence[str]) -> list[RunHistory]:
    """The metrics histories of the named models; every name is checked before anything is drawn."""
    check_unique(names)
    histories = []
    for name in names:
        cfg = load_model_config(ws, name)
        md = ws.model_dir(name)
        try:
            rows = md.metrics()
        except (ValueError, UnicodeDecodeError) as e:
            raise DataError(f"{md.metrics_path}: not valid JSON lines ({e})") from None
        rows = [r for r in rows if isinstance(r, dict)]
        if not rows:
            raise DataError(f"model {name!r} has no metrics history ({md.metrics_path} is missing or empty)")
        histories.append(RunHistory(name=name, kind=str(cfg.get("kind")), rows=rows, dev_metric=_dev_metric(cfg, rows)))
    return histories


def plot_learning_curves(
    histories: Sequence[RunHistory],
    path: Path,
    title: str | None = None,
    reference: tuple[str, float] | None = None,
) -> Path:
    """Loss per epoch (train solid, dev dashed) in the first panel, then one panel per dev metric.

    ``reference`` (label, value) is drawn as a grey horizontal line on the dev-metric panels (a baseline).

    Models usually share one dev metric (two panels); comparing an LM (dev_ppl) with a translator
    (dev_bleu) gives each metric its own panel rather than mixing scales on one axis.
    """
    metrics = list(dict.fromkeys(h.dev_metric for h in histories if h.dev_metric))
    fig, axes = _panels(1 + len(metrics), title or "learning curves: " + ", ".join(h.name for h in histories))
    loss_ax = axes[0]
    loss_ax.set_title("loss")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss (train: solid, dev: dashed)")
    colors = pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    for i, history in enumerate(histories):
        color = colors[i % len(colors)]
        xs, ys = history.series("train_loss")
        loss_ax.plot(xs, ys, color=color, marker="o", markersize=3, label=f"{history.name} train")
        xs, ys = history.series("dev_loss")
        if ys:
            loss_ax.plot(xs, ys, color=color, linestyle="--", marker="o", markersize=3, label=f"{history.name} dev")
    loss_ax.legend(fontsize="small")
    for ax, metric in zip(axes[1:], metrics, strict=True):
        short = metric.removeprefix("dev_")
        label = f"dev {METRIC_LABELS.get(short, short)}"
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        values = []
        for i, history in enumerate(histories):
            if history.dev_metric == metric:
                xs, ys = history.series(metric)
                values += ys
                ax.plot(xs, ys, color=colors[i % len(colors)], marker="o", markersize=3, label=history.name)
        if reference is not None:
            ax.axhline(reference[1], color="grey", linestyle=":", label=reference[0])
        positive = [v for v in values if v > 0]
        if short == "ppl" and positive and max(positive) > 10 * min(positive):
            ax.set_yscale("log")  # early-epoch perplexities in the thousands would flatten the rest
            ax.set_ylabel(f"{label} (log scale)")
        ax.legend(fontsize="small")
    for ax in axes:
        ax.xaxis.set_major_locator(_integer_ticks())
    return _save(fig, path)


def plot_next_word(result: NextWordResult, path: Path) -> Path:
    """The next-word comparison: train/dev loss and dev top-1 accuracy per epoch, one colour per cell;
    epoch 0 is the initial weights.

    The unigram baseline's accuracy is drawn as a grey line: a cell below it has learned nothing
    that word frequencies alone would not give."""
    histories = [RunHistory(name=c.cell, kind="lm", rows=c.curve_rows(), dev_metric="top1") for c in result.cells]
    cfg = result.config
    title = (
        f"next word from the {cfg.context} previous words: {', '.join(cfg.cells)} "
        f"(emb {cfg.emb_dim}, hidden {cfg.hidden}, {Path(result.train_path).name}, same budget)"
    )
    baseline = (f"unigram baseline ({result.baseline.word!r})", result.baseline.dev_top1)
    return plot_learning_curves(histories, path, title, reference=baseline)


def _integer_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def plot_binary_addition(results: Sequence[BinaryAdditionResult], path: Path) -> Path:
    """Held-out accuracy (whole sum solid, per bit dotted), training loss and gradient norm against step,
    one colour per run; the gradient panel is where exploding (spikes) or vanishing (tiny) gradients show."""
    first = results[0].config
    setting = f"hidden {first.hidden}, {first.bits} bits, lr {first.lr:g}, batch {first.batch}, init {first.init}"
    fig, (acc_ax, loss_ax, grad_ax) = _panels(3, f"binary addition, Elman RNN ({setting}, seed {first.seed})")
    acc_ax.set_title("held-out accuracy")
    acc_ax.set_xlabel("training step")
    acc_ax.set_ylabel("accuracy (whole sum: solid, per bit: dotted)")
    acc_ax.set_ylim(-0.02, 1.02)
    loss_ax.set_title("training loss")
    loss_ax.set_xlabel("training step")
    loss_ax.set_ylabel("binary cross-entropy per bit (log scale)")
    loss_ax.set_yscale("log")
    grad_ax.set_title("gradient norm")
    grad_ax.set_xlabel("training step")
    grad_ax.set_ylabel("largest gradient norm between checkpoints (log scale)")
    grad_ax.set_yscale("log")
    colors = pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    for i, result in enumerate(results):
        color = colors[i % len(colors)]
        steps = [c.step for c in result.history]
        label = result.config.activation
        if result.solved_step is not None:
            label += f" (100% from step {result.solved_step})"
        elif result.diverged:
            label += f" (diverged at step {result.history[-1].step})"
        else:
            label += f" ({result.final.accuracy:.0%} at the end)"
        if result.dead_units:
            label = label[:-1] + f", {result.dead_units}/{result.config.hidden} units dead)"
        acc_ax.plot(steps, [c.accuracy for c in result.history], color=color, label=label)
        acc_ax.plot(steps, [c.bit_accuracy for c in result.history], color=color, linestyle=":", linewidth=1)
        finite = [(c.step, c.loss) for c in result.history if math.isfinite(c.loss) and c.loss > 0]
        loss_ax.plot([s for s, _ in finite], [v for _, v in finite], color=color, label=result.config.activation)
        norms = [
            (c.step, c.max_grad_norm) for c in result.history if math.isfinite(c.max_grad_norm) and c.max_grad_norm > 0
        ]
        grad_ax.plot([s for s, _ in norms], [v for _, v in norms], color=color, label=result.config.activation)
        if result.diverged:
            last = result.history[-1]
            acc_ax.plot([last.step], [last.accuracy], color=color, marker="x", markersize=9)
    acc_ax.legend(fontsize="small", loc="lower right")
    loss_ax.legend(fontsize="small")
    grad_ax.legend(fontsize="small")
    return _save(fig, path)
