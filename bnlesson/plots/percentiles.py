"""The 15th, 50th and 85th percentiles of a unit's input over training (lessons 07, 09).

One function draws them for Figure 1 of the paper (lesson 07) and for lesson
09's noisy network, from plain arrays.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as onp

#: Labels and line styles of the 15th, 50th and 85th percentiles.
PERCENTILE_STYLES = (("15th", "--"), ("50th (median)", "-"), ("85th", "--"))
STEP_LABEL = "training steps (mini-batches)"
INPUT_LABEL = "sigmoid input (pre-activation)"


def plot_percentiles(steps: Sequence[int], panels: Mapping[str, onp.ndarray],
                     axes=None, *, logx: bool = False):  # fmt: skip
    """Draw one unit's 15th, 50th and 85th input percentiles, one panel each.

    All panels get the same y range (the range of every line, plus 5%), so
    spreads compare at a glance, also on axes the caller made.

    Parameters
    ----------
    steps : sequence of int
        The recorded steps (R of them), shared by all panels.
    panels : dict of str to array of shape (R, 3)
        Panel title to the percentiles at the R recordings.
    axes : sequence of matplotlib axes, optional
        One per panel; by default a new row of panels.
    logx : bool
        A logarithmic step axis, which spreads out the early steps.

    Returns
    -------
    numpy.ndarray of matplotlib axes
    """
    if axes is None:
        _, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 2.8),
                               layout="constrained", squeeze=False)  # fmt: skip
    axes = onp.asarray(axes).ravel()
    if len(axes) != len(panels):
        raise ValueError(
            f"expected {len(panels)} axes (one per panel), got {len(axes)}"
        )
    arrays = [onp.asarray(p, dtype=float) for p in panels.values()]
    for title, p in zip(panels, arrays):
        if p.shape != (len(steps), 3):
            raise ValueError(
                f"{title!r}: expected shape ({len(steps)}, 3), got {p.shape}"
            )
    low = min(p.min() for p in arrays)
    high = max(p.max() for p in arrays)
    margin = 0.05 * (high - low) or 0.5
    for ax, title, p in zip(axes, panels, arrays):
        for column, (label, style) in zip(p.T, PERCENTILE_STYLES):
            ax.plot(steps, column, style, color="black", linewidth=1, label=label)
        ax.set(title=title, xlabel=STEP_LABEL, ylabel=INPUT_LABEL,
               ylim=(low - margin, high + margin))  # fmt: skip
        if logx:
            ax.set_xscale("log")
        ax.grid(True)
    axes[0].legend(fontsize=8)
    return axes
