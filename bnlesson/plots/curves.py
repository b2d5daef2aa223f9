"""Learning curves, gamma and beta, and sample images (lessons 03-05).

Library code here returns axes and never calls ``plt.show()``: the notebook
decides when a figure is shown. Figures are small (d2l's 3.5 x 2.5 inches).
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
#: Fashion-MNIST's classes, by label (the same as
#: :data:`bnlesson.data.CLASS_NAMES`, kept here so that plotting needs no data
#: code; a test checks that the two agree).
CLASS_NAMES = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip


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
    layer : bnlesson.lesson02.BatchNorm or mxnet.gluon.nn.BatchNorm
        An initialized layer (see :func:`bnlesson.lesson03.batchnorm_layers`).
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


def show_images(
    images, labels, num_cols: int = 8, scale: float = 1.1, class_names=CLASS_NAMES
):
    """Draw grey images in a grid, each titled with its Fashion-MNIST class.

    Parameters
    ----------
    images : array of shape (n, 1, 28, 28) or (n, 28, 28)
        NumPy or ``mxnet.np``; values in [0, 1].
    labels : sequence of int
        Class indices, shown as names.
    num_cols : int
        Images per row.
    scale : float
        Inches per image.
    class_names : sequence of str
        The name of each class; Fashion-MNIST's by default.

    Returns
    -------
    axes : numpy.ndarray of matplotlib.axes.Axes
    """
    images = images.asnumpy() if hasattr(images, "asnumpy") else onp.asarray(images)
    images = images.reshape(len(images), 28, 28)
    num_rows = -(-len(images) // num_cols)
    _, axes = d2l.plt.subplots(
        num_rows, num_cols, figsize=(num_cols * scale, num_rows * scale * 1.15),
        squeeze=False,
    )  # fmt: skip
    names = [class_names[int(label)] for label in labels]
    for ax, image, name in itertools.zip_longest(axes.ravel(), images, names):
        ax.axis("off")
        if image is not None:
            ax.imshow(image, cmap="gray_r")
            ax.set_title(name, fontsize=8)
    return axes
