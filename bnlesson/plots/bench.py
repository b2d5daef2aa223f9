"""The benchmark's report as a bar chart.

``python -m bnlesson.experiments.bench --plot`` draws it.
"""

from __future__ import annotations

from .curves import _new_axes


def plot_bench(report: dict, ax=None):
    """Horizontal bars of seconds per epoch from a :mod:`bnlesson.bench` report.

    Each bar is labelled with its ratio to the plain LeNet.

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    rows = report["rows"]
    ax = _new_axes(ax, figsize=(6, 0.4 * len(rows) + 0.8))
    names = [r["network"] for r in rows][::-1]
    seconds = [r["sec_per_epoch"] for r in rows][::-1]
    bars = ax.barh(names, seconds)
    ratios = [f"{r['ratio_to_plain']:.2f}x" for r in rows][::-1]
    ax.bar_label(bars, ratios, padding=3, fontsize=8)
    ax.set_xlabel("seconds per epoch (60,000 images)")
    ax.set_xlim(0, max(seconds) * 1.2)
    return ax
