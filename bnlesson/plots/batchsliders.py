r"""Lesson 01's three sliders: what the batch statistics do, moved by hand.

* :func:`coupling_slider`: move one example of a batch, and every example's
  normalized output moves, because they share the batch's mean and
  variance (the point of Karpathy's makemore part 3 on batch norm).
* :func:`batch_noise_slider`: the batch size against the noise of the batch
  mean and variance, batches drawn from a population of real activations.
* :func:`momentum_slider`: the momentum against the lag and the noise of
  the moving average.

Each ``*_slider`` returns a :class:`~.sliders.SliderFigure`; the figure
functions (``draw_*``) work on NumPy arrays and can be used alone, and the
numbers they show are computed in :mod:`bnlesson.plots.batchstats`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as onp
from matplotlib.figure import Figure

from .batchstats import (
    batch_statistics,
    batches_for_share,
    mean_noise,
    moved,
    moving_average,
    normalize,
    settled_noise,
)
from .sliders import SliderFigure

#: A lecture-size figure: 9 x 3.4 inches, 1080 x 408 px at 120 dpi.
FIGSIZE = (9, 3.4)


def _slider(kind: str, **kwargs):
    import ipywidgets  # only the sliders need it, not the figures

    style = {"description_width": "initial"}
    layout = ipywidgets.Layout(width="600px")
    return getattr(ipywidgets, kind)(style=style, layout=layout, **kwargs)


# --- one example moved --------------------------------------------------------


def draw_coupling(x, shift: float, index: int = 0, span: float = 30.0) -> Figure:
    """Inputs and normalized outputs of a batch, example `index` moved by `shift`.

    Hollow grey markers show the batch as it was, filled ones with example
    `index` moved (the input axis fits moves up to ``±span``); the title
    gives how far the *other* outputs moved.
    """
    before, after = onp.asarray(x, dtype=onp.float64), moved(x, index, shift)
    out_before, out_after = normalize(before), normalize(after)
    others = onp.arange(len(before)) != index
    change = out_after[others] - out_before[others]
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    rows = onp.arange(len(before))
    colors = onp.where(others, "tab:blue", "tab:red")
    for ax, old, new, what in zip(
        axes, (before, out_before), (after, out_after),
        ("input $x_i$", r"normalized output $\hat x_i$"),
    ):  # fmt: skip
        ax.scatter(old, rows, s=60, facecolors="none", edgecolors="grey",
                   label="before the move")  # fmt: skip
        ax.scatter(new, rows, s=60, c=colors, zorder=3, label="after the move")
        for r, a, b in zip(rows, old, new):
            ax.annotate("", (b, r), (a, r), arrowprops={"arrowstyle": "->",
                        "color": "grey", "shrinkA": 4, "shrinkB": 4})  # fmt: skip
        ax.axvline(new.mean(), color="k", ls=":", lw=1, label="batch mean")
        ax.set_xlabel(what)
    axes[0].set(ylabel="example of the batch", yticks=rows)
    axes[0].invert_yaxis()
    # Fixed axes: the points move, not the axes.
    axes[0].set_xlim(before.min() - span - 1, before.max() + span + 1)
    axes[1].set_xlim(-3.2, 3.2)
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center",
               ncol=3, fontsize=9)  # fmt: skip
    fig.suptitle(
        f"Example {index} moved by {shift:+g}: the other {others.sum()} outputs "
        f"moved by {change.min():+.2f} to {change.max():+.2f}, "
        f"their inputs did not"
    )
    return fig


def coupling_slider(x, shift: float = 15.0, index: int = 0, span: float = 30.0):
    """A slider that moves example `index` of the batch `x`, over ``±span``.

    Parameters
    ----------
    x : array_like, shape (m,)
        One feature's values over a batch.
    shift : float
        The slider's first value: how far the example is moved at first.
    """
    slider = _slider(
        "FloatSlider", value=shift, min=-span, max=span, step=1.0,
        description=f"move example {index} by", continuous_update=True,
    )  # fmt: skip
    return SliderFigure(slider, lambda s: draw_coupling(x, s, index, span))


# --- the batch size against the noise ----------------------------------------


def draw_batch_noise(population, batch_size: int, smallest: int = 2) -> Figure:
    """Histograms of the batch means and variances of `population` for one size.

    The axes are fixed by the `smallest` batch size, so that the histograms
    narrow as `batch_size` grows.
    """
    population = onp.asarray(population, dtype=onp.float64)
    means, variances = batch_statistics(population, batch_size)
    mu, var = population.mean(), population.var()
    wide = 3.5 * mean_noise(population, smallest)
    _, wide_vars = batch_statistics(population, smallest)
    edges = (onp.linspace(mu - wide, mu + wide, 61),
             onp.linspace(0, onp.quantile(wide_vars, 0.98), 61))  # fmt: skip
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, values, truth, bins, name in zip(
        axes, (means, variances), (mu, var), edges, ("mean", "variance")
    ):
        ax.hist(onp.clip(values, bins[0], bins[-1]), bins=bins, color="tab:blue")
        ax.axvline(truth, color="k", ls="--", lw=1.5,
                   label=f"{name} of all {len(population):,} images")  # fmt: skip
        ax.set_xlim(bins[0], bins[-1])
        ax.set_xlabel(f"batch {name}")
        ax.legend(loc="upper right", fontsize=9)
        ax.set_title(f"spread over batches: {values.std():.3f}", fontsize=11)
    axes[1].set_title(f"spread over batches: {variances.std():.3f}, average "
                      f"{variances.mean():.3f}", fontsize=11)  # fmt: skip
    axes[0].set_ylabel(f"number of batches (of {len(means):,})")
    fig.suptitle(
        f"Batches of {batch_size}: the batch mean strays by {means.std():.3f}"
        f" (standard deviation; $\\sigma/\\sqrt{{{batch_size}}}$ = "
        f"{population.std() / math.sqrt(batch_size):.3f})"
    )
    return fig


def batch_noise_slider(
    population, batch_size: int = 16,
    sizes: Sequence[int] = (2, 4, 8, 16, 32, 64, 128, 256, 1024),
):  # fmt: skip
    """A slider over the batch sizes `sizes`, starting at `batch_size`."""
    slider = _slider(
        "SelectionSlider", options=list(sizes), value=batch_size,
        description="batch size", continuous_update=True,
    )  # fmt: skip
    smallest = min(sizes)
    return SliderFigure(
        slider, lambda b: draw_batch_noise(population, b, smallest=smallest)
    )


# --- the momentum against the lag ---------------------------------------------


def draw_momentum(
    momentum: float, mean: float = 5.0, std: float = 2.0, batch_size: int = 16,
    steps: int = 250, seed: int = 0,
) -> Figure:  # fmt: skip
    """The moving mean of batch means under `momentum`, and its memory.

    Batch means of `batch_size` values drawn from N(`mean`, `std`²); the
    moving mean starts at 0. Left: the batch means and the moving mean over
    `steps` steps. Right: the share of the weight that the latest k batches
    carry, :math:`1 - \\lambda^k`.
    """
    rng = onp.random.default_rng(seed)
    batch_means = rng.normal(mean, std, size=(steps, batch_size)).mean(axis=1)
    average = moving_average(batch_means, momentum)
    k = batches_for_share(momentum)
    noise = settled_noise(std / math.sqrt(batch_size), momentum)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    t = onp.arange(1, steps + 1)
    left.plot(t, batch_means, ".", color="tab:blue", alpha=0.4, label="batch mean")
    left.plot(t, average, color="tab:orange", lw=2, label="moving mean")
    left.axhline(mean, color="grey", ls="--", label="true mean")
    left.axvline(k, color="tab:orange", ls=":", lw=1.5)
    left.set(xlabel="training step", ylabel="mean", ylim=(-0.3, mean + 2),
             xlim=(0, steps))  # fmt: skip
    left.set_title(f"90% of the way from 0 after {k} steps, then off by "
                   f"{noise:.2f} (sd)", fontsize=11)  # fmt: skip
    left.legend(loc="lower right", fontsize=9)
    latest = onp.arange(1, 401)
    right.plot(latest, 100 * (1 - momentum**latest), color="tab:orange", lw=2)
    right.axhline(90, color="grey", ls="--", lw=1)
    right.axvline(k, color="tab:orange", ls=":", lw=1.5)
    ticks = [1, 3, 10, 30, 100, 300]
    right.set(xscale="log", xlim=(1, 400), ylim=(0, 102), xticks=ticks,
              xticklabels=[str(t) for t in ticks], xlabel="the latest k batches",
              ylabel="% of the weight they carry")  # fmt: skip
    right.set_title(f"the last {k} batches carry 90%, the last 10 "
                    f"{100 * (1 - momentum**10):.0f}%", fontsize=11)  # fmt: skip
    fig.suptitle(f"Momentum {momentum:g}: each batch weighs {momentum:g} times "
                 f"the one after it")  # fmt: skip
    return fig


def momentum_slider(
    momentum: float = 0.9,
    choices: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99),
):  # fmt: skip
    """A slider over the momenta `choices`, starting at `momentum`."""
    slider = _slider(
        "SelectionSlider", options=list(choices), value=momentum,
        description="momentum", continuous_update=True,
    )  # fmt: skip
    return SliderFigure(slider, draw_momentum)
