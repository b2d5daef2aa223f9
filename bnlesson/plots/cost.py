"""What each network costs per epoch, next to what it learns (lesson 04)."""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

from matplotlib.ticker import MaxNLocator

#: (line style, marker, marker size, filled): curves that coincide stay
#: visible, a large hollow marker around a small filled one.
STYLES = (
    ("-", "o", 9, False),
    ("--", "o", 4, True),
    ("-", "s", 9, False),
    ("--", "s", 4, True),
    (":", "^", 6, True),
)


def plot_cost(
    seconds: Mapping[str, float],
    test_acc: Mapping[str, Sequence[float]],
    axes: Sequence,
    chance: float = 0.1,
    fontsize: float = 9,
):
    """Bars of seconds per epoch, labelled with the ratio to the first network,
    and the test accuracy after each epoch.

    The legend of the curves sits right of their axes, so that it covers
    neither the chance line nor a curve: leave room for it (a wide figure,
    ``tight_layout``).

    Parameters
    ----------
    seconds : dict of str to float
        Seconds per training epoch of each network; the first is the
        reference of the ratios (e.g. the plain LeNet).
    test_acc : dict of str to list of float
        Test accuracy after each epoch, same networks in the same order.
    axes : pair of matplotlib.axes.Axes
        Where to draw the bars and the curves.
    chance : float
        Accuracy of guessing (0.1 for ten balanced classes), drawn as a line.
    fontsize : float
        Of the labels and the legend, in points.

    Returns
    -------
    axes : pair of matplotlib.axes.Axes
    """
    if list(seconds) != list(test_acc):
        raise ValueError(
            "seconds and test_acc must name the same networks in the same "
            f"order: {list(seconds)} vs {list(test_acc)}"
        )
    bars_ax, curves_ax = axes
    names = list(seconds)[::-1]  # the first network on top
    first = seconds[list(seconds)[0]]
    bars = bars_ax.barh(names, [seconds[n] for n in names], color="tab:blue")
    bars_ax.bar_label(bars, [f"{seconds[n] / first:.2f}x" for n in names],
                      padding=3, fontsize=fontsize)  # fmt: skip
    bars_ax.set_xlim(0, 1.25 * max(seconds.values()))
    bars_ax.set_xlabel("seconds per epoch (bar labels: multiple of the top bar)",
                       fontsize=fontsize)  # fmt: skip
    bars_ax.set_title("Time per training epoch", fontsize=fontsize + 1)
    bars_ax.tick_params(labelsize=fontsize)
    for (name, acc), style in zip(test_acc.items(), itertools.cycle(STYLES)):
        line, marker, size, filled = style
        curves_ax.plot(range(1, len(acc) + 1), acc, linestyle=line,
                       marker=marker, markersize=size, label=name,
                       markerfacecolor=None if filled else "none")  # fmt: skip
    curves_ax.axhline(chance, color="grey", linestyle=":", label="chance")
    curves_ax.set_ylim(0, 1)
    curves_ax.set_xlabel("epoch")
    curves_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    curves_ax.set_ylabel("test accuracy (fraction right)", fontsize=fontsize)
    curves_ax.set_title("Test accuracy after each epoch", fontsize=fontsize + 1)
    # Outside the axes, right of them: inside, it would hide the chance line
    # or a curve, wherever the curves happen to run.
    curves_ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1),
                     borderaxespad=0)  # fmt: skip
    curves_ax.grid(True)
    return axes
