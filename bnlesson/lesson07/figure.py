"""Lesson 07's Figure 1: the shared drawing, with a zoom on panel (a)'s plateau.

:func:`bnlesson.plots.plot_paper_figure1` draws the paper's three panels;
once both networks level off, their accuracy curves run within a point or
two of each other on a 0-1 axis. :func:`plot_figure1` adds an inset that
magnifies that stretch and gives the percentile panels one legend entry per
line style.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as onp

from bnlesson.plots import STYLES, plot_paper_figure1


def percentile_legend(ax) -> None:
    """Give a percentile panel one legend entry per line style.

    :func:`bnlesson.plots.plot_percentiles` labels its three lines "15th",
    "50th (median)" and "85th", and draws the 15th and the 85th alike
    (dashed): two legend entries for one line style. This replaces the
    legend of `ax`, a panel it drew, with "50th (median)" and "15th and
    85th".

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        A panel drawn by :func:`bnlesson.plots.plot_percentiles`.
    """
    handles, _ = ax.get_legend_handles_labels()
    low, median = handles[0], handles[1]
    ax.legend([median, low], ["50th (median)", "15th and 85th"], fontsize=8)


def _zoom(ax, steps, accuracy: Mapping, zoom_from: int, bounds) -> None:
    """An inset in `ax` magnifying the accuracy curves from step `zoom_from` on."""
    steps = onp.asarray(steps)
    late = steps >= zoom_from
    inset = ax.inset_axes(bounds)
    values = [onp.asarray(acc)[late] for acc in accuracy.values()]
    for acc, style in zip(values, STYLES):
        inset.plot(steps[late], acc, markersize=3, **style)
    low, high = min(v.min() for v in values), max(v.max() for v in values)
    pad = 0.1 * (high - low) or 0.005
    inset.set(xscale="log", ylim=(low - pad, high + pad))
    inset.set_title(f"from step {zoom_from:,}", fontsize=7)
    inset.tick_params(labelsize=6)
    inset.grid(True)


def plot_figure1(steps: Sequence[int], accuracy: Mapping[str, Sequence[float]],
                 percentiles: Mapping[str, onp.ndarray], *, zoom_from: int | None,
                 inset=(0.45, 0.08, 0.52, 0.45), legend=(0.0, 0.72),
                 axes=None):  # fmt: skip
    """Draw Figure 1 (:func:`bnlesson.plots.plot_paper_figure1`), zoom panel (a).

    Parameters
    ----------
    steps, accuracy, percentiles, axes
        As for :func:`bnlesson.plots.plot_paper_figure1`.
    zoom_from : int or None
        The first step of the inset in panel (a), where the curves level
        off; None for no inset (a run too short to level off).
    inset : tuple of 4 floats
        The inset's left, bottom, width and height in panel (a)'s axes
        fractions: below the plateau, where the curves do not run.
    legend : tuple of 2 floats
        Where the upper left corner of panel (a)'s legend goes, in axes
        fractions: between the two curves' starts, clear of the inset.

    Returns
    -------
    numpy.ndarray of three matplotlib.axes.Axes
    """
    if zoom_from is not None and not any(s >= zoom_from for s in steps):
        raise ValueError(f"no recorded step from zoom_from={zoom_from} on")
    axes = plot_paper_figure1(steps, accuracy, percentiles, axes=axes)
    if zoom_from is not None:
        _zoom(axes[0], steps, accuracy, zoom_from, inset)
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=legend)
    percentile_legend(axes[1])
    return axes
