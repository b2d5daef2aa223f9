"""Figure 1 of the batch-normalization paper, from two recorded runs (lesson 07)."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as onp

from .percentiles import STEP_LABEL, plot_percentiles

#: Panel (a)'s line per network, in order: colour, line style and marker
#: differ, so that no curve hides another.
STYLES = (
    {"color": "tab:red", "linestyle": "--", "marker": "."},
    {"color": "tab:blue", "linestyle": "-", "marker": ""},
)


def plot_paper_figure1(steps: Sequence[int], accuracy: Mapping[str, Sequence[float]],
                       percentiles: Mapping[str, onp.ndarray], axes=None,
                       chance: float | None = 0.1):  # fmt: skip
    """Draw Figure 1 of Ioffe and Szegedy (2015) from two recorded runs.

    (a) test accuracy against training steps, one line per network, with a
    chance line; (b) and (c) the 15th, 50th and 85th percentiles of one
    sigmoid input per network (:func:`.percentiles.plot_percentiles`, one
    y range). All three panels share a logarithmic step axis, which gives
    the first tenth of training, where the networks differ most, half the
    width.

    Parameters
    ----------
    steps : sequence of int
        The recorded steps, the same for both runs.
    accuracy : dict of str to sequence of float
        Network name (the legend) to its test accuracy at `steps`.
    percentiles : dict of str to array of shape (len(steps), 3)
        Two panel titles (b, c) to the percentiles drawn there.
    axes : sequence of three matplotlib.axes.Axes, optional
        Where to draw; a new 11 x 3.2 inch figure when None.
    chance : float, optional
        The accuracy of guessing (0.1 for ten classes), a grey line in (a).

    Returns
    -------
    numpy.ndarray of three matplotlib.axes.Axes
    """
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharex=True,
                               layout="constrained")  # fmt: skip
    axes = onp.asarray(axes).ravel()
    if len(axes) != 3:
        raise ValueError(f"axes must hold three axes (a, b, c), not {len(axes)}")
    if len(percentiles) != 2:
        raise ValueError(
            f"percentiles must hold two panels (b, c), not {len(percentiles)}"
        )
    for (name, acc), style in zip(accuracy.items(), STYLES):
        if len(acc) != len(steps):
            raise ValueError(
                f"{name!r} has {len(acc)} accuracies for {len(steps)} steps"
            )
        axes[0].plot(steps, acc, label=name, markersize=4, **style)
    if chance is not None:
        axes[0].axhline(chance, color="grey", linestyle=":", label="chance")
    axes[0].set(title="(a) test accuracy", xlabel=STEP_LABEL, ylabel="test accuracy",
                ylim=(0, 1), xscale="log")  # fmt: skip
    axes[0].grid(True)
    axes[0].legend(fontsize=8, loc="center right")
    titles = {f"({c}) {t}": p for c, (t, p) in zip("bc", percentiles.items())}
    plot_percentiles(steps, titles, axes[1:], logx=True)
    return axes
