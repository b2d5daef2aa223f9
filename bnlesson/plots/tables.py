"""Tables of runs as figures: a sweep's curves and grouped bars (lesson 05).

Both take a DataFrame with one row per run, such as
:func:`bnlesson.lesson05.run_grid` returns.
"""

from __future__ import annotations

import itertools

import numpy as onp

from .curves import FMTS, _new_axes


def _groups(table, hue: str | None) -> list:
    if hue is None:
        return [(None, table)]
    return [(key, table[table[hue] == key]) for key in table[hue].unique()]


def plot_sweep(
    table, x: str, y: str = "final_test_acc", hue: str | None = None, ax=None,
    logx: bool = True, logy: bool = False, chance: float | None = None,
):  # fmt: skip
    """Plot a result column of a table of runs against a numeric setting.

    One line per value of the `hue` column (e.g. with and without batch
    norm), through the runs sorted by `x` (e.g. the learning rate). Runs
    whose ``diverged`` column is True have no accuracy; they are drawn as
    crosses on the x axis (at `chance` if given) so that a failure shows.

    Parameters
    ----------
    table : pandas.DataFrame
        E.g. the result of :func:`bnlesson.lesson05.run_grid`: one row
        per run, with columns `x`, `y` and (optionally) `hue`, ``diverged``.
    x, y : str
        Column names for the axes.
    hue : str, optional
        Column whose values split the runs into lines, labelled by the
        value, under a legend titled `hue`: give it words (e.g. a column
        ``network`` with values ``"with batch norm"``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new small figure when None.
    logx, logy : bool
        Logarithmic axes (learning rates and batch sizes span decades).
    chance : float, optional
        Draw a dashed line at this y value, labelled "chance" (0.1 for
        ten balanced classes).

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    for column in (x, y) + ((hue,) if hue else ()):
        if column not in table.columns:
            raise ValueError(f"table has no column {column!r}: {list(table.columns)}")
    ax = _new_axes(ax)
    for (key, rows), fmt in zip(_groups(table, hue), itertools.cycle(FMTS)):
        rows = rows.sort_values(x)
        failed = rows["diverged"].astype(bool) if "diverged" in rows else None
        ok = rows if failed is None else rows[~failed]
        name = y if hue is None else str(key)
        (line,) = ax.plot(ok[x], ok[y], fmt, label=name)
        if failed is not None and failed.any():
            bottom = chance if chance is not None else 0.0
            ax.plot(rows[x][failed], [bottom] * int(failed.sum()), "x",
                    color=line.get_color(), markersize=8)  # fmt: skip
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle="--", linewidth=1, label="chance")
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(title=hue)
    ax.grid(True)
    return ax


def plot_bars(table, x: str, hue: str | None = None, y: str = "final_test_acc",
              ax=None, ylim: tuple | None = None):  # fmt: skip
    """Grouped bar chart of a result column of a table of runs.

    One group of bars per value of the `x` column (e.g. the order of batch
    norm and activation), one bar per value of `hue` within it (e.g. the
    activation), in the order the values first appear in `table`. A missing
    or NaN value (a diverged run) leaves its bar out.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per run, with columns `x`, `y` and (optionally) `hue`.
    x : str
        Column whose values name the groups along the x axis.
    hue : str, optional
        Column whose values are the bars of each group, in a legend titled
        `hue` that names each bar by its value.
    y : str
        Column with the bar heights.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure sized to the groups when None.
    ylim : (float, float), optional
        y-axis limits, e.g. to zoom in on accuracies between 0.7 and 0.9.

    Returns
    -------
    ax : matplotlib.axes.Axes
        With one bar container per `hue` value.
    """
    for column in (x, y) + ((hue,) if hue else ()):
        if column not in table.columns:
            raise ValueError(f"table has no column {column!r}: {list(table.columns)}")
    groups = list(dict.fromkeys(table[x]))
    bars = _groups(table, hue)
    ax = _new_axes(ax, figsize=(max(3.5, 0.9 * len(groups) + 1), 2.5))
    width = 0.8 / len(bars)
    for i, (key, rows) in enumerate(bars):
        heights = rows.groupby(x, sort=False)[y].mean().reindex(groups)
        offsets = onp.arange(len(groups)) + (i - (len(bars) - 1) / 2) * width
        ax.bar(offsets, heights.to_numpy(dtype=float), width,
               label=y if key is None else str(key))  # fmt: skip
    ax.set_xticks(onp.arange(len(groups)))
    ax.set_xticklabels([str(g) for g in groups], rotation=30, ha="right")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(title=hue)
    ax.grid(True, axis="y")
    return ax
