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
        _, axes = d2l.plt.subplots(1, len(grad_norms) + 1, figsize=(10, 2.8))
    for ax, (name, frame) in zip(axes, grad_norms.items()):
        for column, fmt in zip(frame.columns, FMTS + ("c-", "k--")):
            ax.plot(frame.index, frame[column], fmt, label=column, markersize=3)
        ax.set(yscale="log", title=f"gradient norm per layer, {name}",
               xlabel="SGD step", ylabel="norm of weight gradient")  # fmt: skip
        ax.legend(fontsize=8)
    low = min(ax.get_ylim()[0] for ax in axes[:-1])
    high = max(ax.get_ylim()[1] for ax in axes[:-1])
    for ax in axes[:-1]:
        ax.set_ylim(low, high)
    last = axes[-1]
    for (name, frame), fmt in zip(saturated.items(), FMTS):
        last.plot(frame.index, 100 * frame.mean(axis=1), fmt, label=name)
    last.set(title="saturated sigmoids (s < 0.05 or s > 0.95)", xlabel="SGD step",
             ylabel="% of sigmoid outputs", ylim=(0, 100))  # fmt: skip
    last.legend(fontsize=8)
    return axes
