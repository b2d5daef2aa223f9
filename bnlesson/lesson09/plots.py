"""Lesson 09's figures, drawn from plain data (arrays, lists, DataFrames).

Nothing here imports the rest of the package but its plotting
(:mod:`bnlesson.plots`): every function takes the numbers to draw and
returns its axes, and never calls ``plt.show()``. The percentile panels are
lesson 07's (:func:`bnlesson.plots.plot_percentiles`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as onp
import pandas as pd

__all__ = ["plot_accuracy", "plot_landscape", "plot_layer_histograms",
           "plot_per_layer"]  # fmt: skip

#: One style per network, in the order given: colour, line style and marker
#: differ, so that no curve hides another.
STYLES = (
    {"color": "tab:red", "linestyle": "--", "marker": "."},
    {"color": "tab:blue", "linestyle": "-", "marker": ""},
    {"color": "tab:green", "linestyle": ":", "marker": "x"},
    {"color": "tab:purple", "linestyle": "-.", "marker": "+"},
)
#: Band fills, one per network: hatching rather than colour alone, so that
#: where two bands overlap both stay readable.
HATCHES = ("////", "\\\\", "..", "xx")
LANDSCAPE_COLUMNS = ("step", "eta", "loss", "grad_change", "distance")


def _axes(axes, count: int, figsize: tuple, sharey: bool = False):
    if axes is None:
        _, axes = plt.subplots(1, count, figsize=figsize, sharey=sharey,
                               layout="constrained", squeeze=False)  # fmt: skip
    axes = onp.asarray(axes).ravel()
    if len(axes) != count:
        raise ValueError(f"expected {count} axes, got {len(axes)}")
    return axes


def plot_accuracy(steps, curves: Mapping[str, Sequence[float]], ax=None,
                  chance: float | None = 0.1, ylim: tuple = (0, 1)):  # fmt: skip
    """Test accuracy against training steps, one curve per network.

    Parameters
    ----------
    steps : sequence of int
        The recorded steps, shared by all curves.
    curves : dict of str to sequence of float
        Network name (the legend) to its accuracies.
    chance : float, optional
        A dashed grey line at this accuracy (0.1 for ten classes), drawn
        when it lies inside `ylim`.
    ylim : (float, float)
        The accuracy range shown; narrow it to tell close curves apart.
    """
    ax = _axes(ax, 1, (4, 2.8))[0]
    for (name, acc), style in zip(curves.items(), STYLES):
        if len(acc) != len(steps):
            raise ValueError(f"{name!r} has {len(acc)} values for {len(steps)} steps")
        ax.plot(steps, acc, label=name, markersize=4, **style)
    if chance is not None and ylim[0] <= chance <= ylim[1]:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set(xlabel="training steps", ylabel="test accuracy", ylim=ylim)
    ax.legend(fontsize=8)
    ax.grid(True)
    return ax


def _check_landscape(frame: pd.DataFrame, name: str) -> None:
    missing = set(LANDSCAPE_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"{name!r} lacks the columns {sorted(missing)}")


def plot_landscape(frames: Mapping[str, pd.DataFrame], axes=None):
    """Santurkar et al.'s Figure 4 from landscape probes, one colour per network.

    (a) the range of the loss met along the gradient, (b) the range of the
    gradient change, both as bands over the step sizes, and (c) the
    effective beta-smoothness, each against the training step.

    Parameters
    ----------
    frames : dict of str to pandas.DataFrame
        Network name to its probes: columns ``step``, ``eta``, ``loss``,
        ``grad_change``, ``distance``, one row per step and step size.
    """
    axes = _axes(axes, 3, (11, 3.2))
    for (name, frame), style, hatch in zip(frames.items(), STYLES, HATCHES):
        _check_landscape(frame, name)
        moving = frame[frame["eta"] > 0]
        by_step = frame.groupby("step")
        color = style["color"]
        for ax, column in zip(axes[:2], ("loss", "grad_change")):
            span = (by_step if column == "loss" else moving.groupby("step"))[column]
            low, high = span.min(), span.max()
            ax.fill_between(low.index, low, high, facecolor="none", hatch=hatch,
                            edgecolor=color, linewidth=0, alpha=0.6)  # fmt: skip
            for edge, label in ((high, name), (low, None)):
                ax.plot(edge.index, edge, color=color, linestyle=style["linestyle"],
                        linewidth=1, label=label)  # fmt: skip
        ratio = (moving["grad_change"] / moving["distance"]).groupby(moving["step"])
        axes[2].plot(ratio.max(), label=name, markersize=4, **style)
    titles = ("(a) loss along the gradient", "(b) gradient change",
              r"(c) effective $\beta$-smoothness")  # fmt: skip
    ylabels = (
        "training loss met on the walk",
        "change of the gradient",
        "gradient change per unit moved",
    )
    for ax, title, ylabel in zip(axes, titles, ylabels):
        ax.set(title=title, xlabel="training steps (probe taken at)", ylabel=ylabel)
        ax.grid(True)
        ax.legend(fontsize=8)
    return axes


def plot_layer_histograms(layers: Sequence, ax=None, bins: int = 50,
                          xlabel: str = "value", value_range=None):  # fmt: skip
    """One histogram line per layer, as density (Karpathy's makemore style).

    Parameters
    ----------
    layers : sequence of arrays
        The values of each layer, from the first.
    value_range : (float, float), optional
        The histograms' range; the values' own range by default.
    """
    ax = _axes(ax, 1, (4, 2.8))[0]
    if value_range is None:
        flat = onp.concatenate([onp.ravel(v) for v in layers])
        value_range = (float(flat.min()), float(flat.max()))
    for i, values in enumerate(layers, start=1):
        density, edges = onp.histogram(
            onp.ravel(values), bins, value_range, density=True
        )
        ax.plot((edges[:-1] + edges[1:]) / 2, density, label=f"layer {i}")
    ax.set(xlabel=xlabel, ylabel="density")
    ax.legend(fontsize=7)
    ax.grid(True)
    return ax


def plot_per_layer(frame: pd.DataFrame, ax=None, ylabel: str = "", logy=False):
    """One line per column (layer) of `frame` against its index (steps)."""
    ax = _axes(ax, 1, (4, 2.8))[0]
    for column in frame.columns:
        ax.plot(frame.index, frame[column], label=str(column), linewidth=1)
    ax.set(xlabel="training steps", ylabel=ylabel, yscale="log" if logy else "linear")
    ax.legend(fontsize=7)
    ax.grid(True)
    return ax
