"""Figure 1 of the batch-normalization paper, from two recorded runs (lesson 06)."""

from __future__ import annotations

import numpy as onp
from d2l import mxnet as d2l


def plot_paper_figure1(without_bn, with_bn, unit: int = 0, axes=None):
    """Draw Figure 1 of Ioffe and Szegedy (2015) from two recorded runs.

    (a) test accuracy against training steps, both networks; (b) the 15th,
    50th and 85th percentiles of one sigmoid input of the last hidden
    layer without batch norm; (c) the same with batch norm. Panels (b) and
    (c) share their y axis, so their spreads compare at a glance.

    Parameters
    ----------
    without_bn, with_bn : bnlesson.lesson07.Recording
        The runs of :func:`bnlesson.lesson07.train_recording`; their ``name``
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
