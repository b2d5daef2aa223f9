"""Figures for the lessons: a live training plot, learning curves, gamma and beta.

Library code here returns axes and never calls ``plt.show()``: the notebook
decides when a figure is shown. Figures are small (d2l's 3.5 x 2.5 inches)
and the live plot is always sent as PNG, never SVG: nbval compares SVG text
(which embeds random ids) but not PNG images.
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

import numpy as onp
from d2l import mxnet as d2l
from matplotlib.ticker import MaxNLocator

#: A training run's per-epoch record: anything with list attributes
#: ``loss``, ``train_acc``, ``test_acc``, ``seconds`` and a ``name``, such as
#: :class:`bnlesson.history.History`.
History = Any
FIGSIZE = (3.5, 2.5)
#: Markers as well as lines, so that a one-epoch (fast-mode) run still shows.
FMTS = (".-", "m.--", "g.-.", "r.:")
METRICS = {
    "loss": "train loss",
    "train_acc": "train accuracy",
    "test_acc": "test accuracy",
    "seconds": "seconds per epoch",
}


def _new_axes(ax, figsize: tuple = FIGSIZE):
    if ax is not None:
        return ax
    _, ax = d2l.plt.subplots(figsize=figsize)
    return ax


def _named(histories) -> list:
    if isinstance(histories, Mapping):
        return list(histories.items())
    if hasattr(histories, "test_acc"):  # a single History
        histories = [histories]
    return [(h.name or f"run {i + 1}", h) for i, h in enumerate(histories)]


def plot_curves(
    histories: Mapping[str, History] | Sequence[History] | History,
    metric: str = "test_acc",
    ax=None,
):
    """Plot one metric of several training runs against the epoch, on one axes.

    Parameters
    ----------
    histories : dict of str to History, or list of History
        The runs; a dict's keys label the curves, otherwise each History's
        ``name`` (or "run 1", "run 2", ...).
    metric : {"test_acc", "train_acc", "loss", "seconds"}
        Which per-epoch list of the histories to plot.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new small figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    ax = _new_axes(ax)
    for (name, history), fmt in zip(_named(histories), itertools.cycle(FMTS)):
        values = getattr(history, metric)
        ax.plot(range(1, len(values) + 1), values, fmt, label=name)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(METRICS[metric])
    ax.legend()
    ax.grid(True)
    return ax


def plot_gamma_beta(layer, ax=None, title: str | None = None):
    r"""Bar chart of a batch-norm layer's learned scale and shift, per channel.

    A trained layer outputs :math:`\gamma_c \hat x + \beta_c` for channel (or
    unit) :math:`c`; the bars show how far training moved each
    :math:`\gamma_c` from 1 and :math:`\beta_c` from 0.

    Parameters
    ----------
    layer : bnlesson.layers.BatchNorm or mxnet.gluon.nn.BatchNorm
        An initialized layer (see :func:`bnlesson.models.batchnorm_layers`).
        The scratch layer stores shape ``(1, C)`` or ``(1, C, 1, 1)``, Gluon's
        ``(C,)``; both are flattened.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new small figure when None.
    title : str, optional
        Axes title.

    Returns
    -------
    ax : matplotlib.axes.Axes
        With two bar containers, gamma then beta, of C bars each.
    """
    raw = layer.gamma.data()
    gamma = raw.asnumpy().ravel()
    beta = layer.beta.data().asnumpy().ravel()
    channels = onp.arange(len(gamma))
    ax = _new_axes(ax)
    width = 0.4
    ax.bar(channels - width / 2, gamma, width, label=r"$\gamma$ (scale)")
    ax.bar(channels + width / 2, beta, width, label=r"$\beta$ (shift)")
    ax.axhline(0, color="black", linewidth=0.5)
    # Only the scratch layer's shape tells a convolution's channels from a
    # dense layer's units; Gluon stores (C,) for both.
    ax.set_xlabel({4: "channel", 2: "unit"}.get(raw.ndim, "channel or unit"))
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def show_images(images, labels, num_cols: int = 8, scale: float = 1.1):
    """Draw grey images in a grid, each titled with its Fashion-MNIST class.

    Parameters
    ----------
    images : array of shape (n, 1, 28, 28) or (n, 28, 28)
        NumPy or ``mxnet.np``; values in [0, 1].
    labels : sequence of int
        Class indices, shown as names (:data:`bnlesson.data.CLASS_NAMES`).
    num_cols : int
        Images per row.
    scale : float
        Inches per image.

    Returns
    -------
    axes : numpy.ndarray of matplotlib.axes.Axes
    """
    from .data import text_labels

    images = images.asnumpy() if hasattr(images, "asnumpy") else onp.asarray(images)
    images = images.reshape(len(images), 28, 28)
    num_rows = -(-len(images) // num_cols)
    _, axes = d2l.plt.subplots(
        num_rows, num_cols, figsize=(num_cols * scale, num_rows * scale * 1.15),
        squeeze=False,
    )  # fmt: skip
    names = text_labels(labels)
    for ax, image, name in itertools.zip_longest(axes.ravel(), images, names):
        ax.axis("off")
        if image is not None:
            ax.imshow(image, cmap="gray_r")
            ax.set_title(name, fontsize=8)
    return axes


# --- Lesson 05: tables of runs (bnlesson.experiments.run_grid) ---------------


def _groups(table, hue: str | None) -> list:
    if hue is None:
        return [(None, table)]
    return [(key, table[table[hue] == key]) for key in table[hue].unique()]


def plot_sweep(
    table,
    x: str,
    y: str = "final_test_acc",
    hue: str | None = None,
    ax=None,
    logx: bool = True,
    logy: bool = False,
    chance: float | None = None,
):
    """Plot a result column of a table of runs against a numeric setting.

    One line per value of the `hue` column (e.g. with and without batch
    norm), through the runs sorted by `x` (e.g. the learning rate). Runs
    whose ``diverged`` column is True have no accuracy; they are drawn as
    crosses on the x axis (at `chance` if given) so that a failure shows.

    Parameters
    ----------
    table : pandas.DataFrame
        E.g. the result of :func:`bnlesson.experiments.run_grid`: one row
        per run, with columns `x`, `y` and (optionally) `hue`, ``diverged``.
    x, y : str
        Column names for the axes.
    hue : str, optional
        Column whose values split the runs into lines, labelled
        ``"<hue>=<value>"``.
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
        name = y if hue is None else f"{hue}={key}"
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
    ax.legend()
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
        Column whose values are the bars of each group, with a legend.
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
               label=y if key is None else f"{hue}={key}")  # fmt: skip
    ax.set_xticks(onp.arange(len(groups)))
    ax.set_xticklabels([str(g) for g in groups], rotation=30, ha="right")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend()
    ax.grid(True, axis="y")
    return ax


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


def plot_paper_figure1(without_bn, with_bn, unit: int = 0, axes=None):
    """Draw Figure 1 of Ioffe and Szegedy (2015) from two recorded runs.

    (a) test accuracy against training steps, both networks; (b) the 15th,
    50th and 85th percentiles of one sigmoid input of the last hidden
    layer without batch norm; (c) the same with batch norm. Panels (b) and
    (c) share their y axis, so their spreads compare at a glance.

    Parameters
    ----------
    without_bn, with_bn : bnlesson.figure1.Recording
        The runs of :func:`bnlesson.figure1.train_recording`; their ``name``
        (if any) labels panel (a).
    unit : int
        The unit number (of the recorded layer) whose percentiles are drawn,
        in both networks; it must be among both runs' ``units``.
    axes : sequence of three matplotlib.axes.Axes, optional
        Where to draw; a new 10 x 2.8 inch figure when None.

    Returns
    -------
    axes : numpy.ndarray of three matplotlib.axes.Axes
    """
    if axes is None:
        _, axes = d2l.plt.subplots(1, 3, figsize=(10, 2.8), layout="constrained")
    axes = onp.asarray(axes).ravel()
    if len(axes) != 3:
        raise ValueError(f"axes must hold three axes (a, b, c), not {len(axes)}")
    runs = [(without_bn, "without BN", "r--"), (with_bn, "with BN", "b-")]
    for run, label, fmt in runs:
        axes[0].plot(run.steps, run.test_acc, fmt, label=run.name or label)
    axes[0].set_ylabel("test accuracy")
    axes[0].legend()
    axes[0].set_title("(a)")
    lows, highs = [], []
    for ax, (run, label, _), panel in zip(axes[1:], runs, "bc"):
        p = run.unit_percentiles(unit)
        for column, q, style in zip(p.T, (15, 50, 85), ("--", "-", "--")):
            ax.plot(run.steps, column, style, color="black", label=f"{q}th")
        lows.append(p.min())
        highs.append(p.max())
        ax.set_title(f"({panel}) {label}, unit {unit}")
        ax.set_ylabel("sigmoid input")
    margin = 0.05 * (max(highs) - min(lows))
    for ax in axes[1:]:
        ax.set_ylim(min(lows) - margin, max(highs) + margin)
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("training steps")
        ax.grid(True)
    return axes
