"""Lesson 03's look inside the first steps: gradient norms and saturated sigmoids."""

from __future__ import annotations

from typing import Mapping

from d2l import mxnet as d2l

from .curves import FMTS


def plot_first_steps(grad_norms: Mapping, saturated: Mapping, axes=None):
    """Per-layer gradient norms of each net, then their saturated sigmoids.

    Parameters
    ----------
    grad_norms : mapping of str to pandas.DataFrame
        Net name -> one row per step (index: step), one column per weight
        layer: the norm of that layer's weight gradient.
    saturated : mapping of str to pandas.DataFrame
        Net name -> one row per step, one column per sigmoid layer: the
        fraction of its outputs that are saturated.
    axes : sequence of matplotlib Axes, optional
        ``len(grad_norms) + 1`` axes; a new row of them when None.

    Returns
    -------
    axes : sequence of matplotlib Axes
        One gradient panel per net (shared log-scale y axis), then one
        panel with each net's saturated share, in percent.
    """
    if axes is None:
        fig, axes = d2l.plt.subplots(
            1, len(grad_norms) + 1, figsize=(11, 3.2), constrained_layout=True
        )
        fig.suptitle("The first SGD steps: gradient reaching each layer, "
                     "and saturated sigmoids")  # fmt: skip
    for ax, (name, frame) in zip(axes, grad_norms.items()):
        for column, fmt in zip(frame.columns, FMTS + ("c-", "k--")):
            ax.plot(frame.index, frame[column], fmt, label=column, markersize=3)
        ax.set(yscale="log", title=name, xlabel="SGD step")
        ax.legend(fontsize=8, ncol=2)
    low = min(ax.get_ylim()[0] for ax in axes[:-1])
    high = max(ax.get_ylim()[1] for ax in axes[:-1])
    for ax in axes[:-1]:
        ax.set_ylim(low, high)
    axes[0].set_ylabel("norm of weight gradient")  # shared by the panels
    last, top = axes[-1], 0.0
    for (name, frame), fmt in zip(saturated.items(), FMTS):
        share = 100 * frame.mean(axis=1)
        last.plot(frame.index, share, fmt, label=name, markersize=3)
        top = max(top, float(share.max()))
    # Near-zero shares must stay visible: the axis follows the data.
    top = max(1.0, 1.2 * top)
    last.set(title="saturated sigmoids", xlabel="SGD step",
             ylabel="% of outputs < 0.05 or > 0.95",
             ylim=(-0.05 * top, top))  # fmt: skip
    last.legend(fontsize=8)
    return axes
