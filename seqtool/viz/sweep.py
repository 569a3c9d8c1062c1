"""Figures of a sweep: the optimization history and the parameters' importances (plain data in, PNGs out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtool.viz.figures import new_figure, save_figure


def history_figure(summary: dict[str, Any], path: Path) -> Path:
    """Each trial's objective (complete: dots; pruned: crosses at their last reported value) and the best so far."""
    fig, ax = new_figure(f"sweep {summary['study']}: optimization history", "trial", summary["metric"])
    pick = max if summary["direction"] == "maximize" else min
    best_x, best_y, best = [], [], None
    for state, marker in (("complete", "o"), ("pruned", "x")):
        points = [
            (t["number"], t["value"]) for t in summary["trials"] if t["state"] == state and t["value"] is not None
        ]
        if points:
            ax.scatter(*zip(*points, strict=True), marker=marker, label=state, alpha=0.8)
    for t in summary["trials"]:
        if t["state"] == "complete" and t["value"] is not None:
            best = t["value"] if best is None else pick(best, t["value"])
            best_x.append(t["number"])
            best_y.append(best)
    if best_x:
        ax.step(best_x, best_y, where="post", color="tab:red", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    return save_figure(fig, path)


def importance_figure(importances: dict[str, float], title: str, path: Path) -> Path:
    """Horizontal bars: each parameter's share of the objective's variance (Optuna's fANOVA estimate)."""
    names = list(importances)[::-1]
    fig, ax = new_figure(title, "importance (share of the objective's variance)", "")
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    return save_figure(fig, path)
