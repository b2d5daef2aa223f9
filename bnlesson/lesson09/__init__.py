r"""Lesson 09: why does batch norm help? The instruments of its experiments.

The experiments of Santurkar et al. (NeurIPS 2018) on lesson 07's network:
noisy batch norm (:class:`PaperNoise`, their noise, and :class:`NoiseLayer`,
a variant; :func:`noisy_mlp`; read in training mode by
:func:`bnlesson.lesson07.network.sigmoid_input`), in
:mod:`bnlesson.lesson09.noise` and importable from here, and the loss
landscape along the gradient (:func:`probe_landscape`,
:func:`landscape_summary`), here. The per-layer instruments, their
gradient-based covariate shift included, are in
:mod:`bnlesson.lesson09.inside`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Sequence

import pandas as pd
from mxnet import autograd, gluon

from bnlesson.core.arguments import is_number, not_a_number
from bnlesson.lesson09.noise import NOISES, NoiseLayer, PaperNoise, noisy_mlp
from bnlesson.training.batchcheck import check_labels, num_classes

__all__ = [
    "NOISES", "NoiseLayer", "PaperNoise", "by_step_size", "landscape_summary",
    "loss_and_grad", "noisy_mlp", "norm", "preserved", "probe_landscape", "trainable",
]  # fmt: skip


_LOSS = gluon.loss.SoftmaxCrossEntropyLoss()


def trainable(net) -> list:
    """The parameters of `net` that gradient descent changes (not BN's statistics)."""
    return [p for p in net.collect_params().values() if p.grad_req != "null"]


@contextmanager
def preserved(net):
    """Put back every parameter of `net`, moving statistics included, on exit.

    A backward pass in training mode updates batch norm's moving statistics;
    a measurement must leave the network as it found it.
    """
    saved = [(p, p.data().copy()) for p in net.collect_params().values()]
    try:
        yield
    finally:
        for p, value in saved:
            p.set_data(value)


def norm(arrays) -> float:
    r"""The Euclidean norm :math:`\sqrt{\sum x^2}` of several arrays as one vector."""
    return math.sqrt(sum(float((a * a).sum()) for a in arrays))


def loss_and_grad(net, X, y, loss=None) -> tuple[float, list]:
    r"""Return the mean loss :math:`\ell(w)` of `net` on ``(X, y)`` in training
    mode and its gradient :math:`\nabla \ell(w)`, one array per parameter of
    :func:`trainable`.

    `loss(output, y)` gives one loss per example; softmax cross-entropy by
    default. The backward pass changes batch norm's moving statistics: call
    it inside :func:`preserved`.
    """
    loss = _LOSS if loss is None else loss
    with autograd.record():
        value = loss(net(X), y).mean()
    value.backward()
    return value.item(), [p.grad().copy() for p in trainable(net)]


# Shown in lesson 09, "2 · The loss landscape along the gradient" (without the
# checks and docstring)
def probe_landscape(net, X, y, etas: Sequence[float]) -> pd.DataFrame:
    r"""Walk along the gradient and record the loss and the gradient on the way.

    With :math:`g = \nabla\ell(w)` at the current weights :math:`w`, for each
    step size :math:`\eta` in `etas` it measures :math:`\ell(w - \eta g)`, the
    gradient change :math:`\|\nabla\ell(w - \eta g) - g\|` and the distance
    moved :math:`\|\eta g\|`, on the batch ``(X, y)`` in training mode, for
    the mean softmax cross-entropy (:func:`loss_and_grad`). The network is
    left exactly as it was (:func:`preserved`).
    Returns a DataFrame with columns ``eta``, ``loss``, ``grad_change``,
    ``distance``, whose first row is the start, :math:`\eta = 0`.

    Raises
    ------
    ValueError
        Before any computation: if `etas` is not a list of positive finite
        numbers (a single number, a string, NaN or inf), or if `y` is not
        one class number in ``[0, C)`` per example, ``C`` the outputs of
        `net`'s last ``Dense`` layer (else 10).
    """
    etas = _check_etas(etas)
    _check_probe_labels(net, X, y)  # softmax cross-entropy reads y as class numbers
    params = trainable(net)
    with preserved(net):
        w = [p.data().copy() for p in params]
        loss_w, g = loss_and_grad(net, X, y)
        rows = [(0.0, loss_w, 0.0, 0.0)]
        for eta in etas:
            for p, w_p, g_p in zip(params, w, g):
                p.set_data(w_p - eta * g_p)
            loss_eta, g_eta = loss_and_grad(net, X, y)
            change = norm([a - b for a, b in zip(g_eta, g)])
            rows.append((eta, loss_eta, change, eta * norm(g)))
    return pd.DataFrame(rows, columns=["eta", "loss", "grad_change", "distance"])


def _check_etas(etas) -> list[float]:
    if (
        is_number(etas)
        or isinstance(etas, (str, bytes))
        or not isinstance(etas, Iterable)
    ):
        raise ValueError(
            f"etas must be a list of step sizes, not {etas!r}: for one step "
            f"size write etas=[{etas!r}]"
        )
    etas = list(etas)
    for eta in etas:
        if not is_number(eta):
            raise ValueError(not_a_number("each of etas", eta, "etas=[0.5, 1.0]"))
    if not etas or not all(0 < eta < math.inf for eta in etas):
        raise ValueError(
            f"etas must be positive finite step sizes, at least one, not {etas}: "
            f"a NaN or infinite step gives a row of NaN"
        )
    return [float(eta) for eta in etas]


def _check_probe_labels(net, X, y) -> None:
    if y.ndim != 1 or X.ndim < 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must hold one label per example of X: X has shape "
            f"{tuple(X.shape)}, y has shape {tuple(y.shape)}"
        )
    check_labels("y", y, num_classes(net))


def landscape_summary(frame: pd.DataFrame) -> pd.Series:
    r"""The three numbers of Santurkar et al.'s Figure 4 for one probe.

    .. math::

        \text{loss variation} = \max_\eta \ell(w - \eta g) - \min_\eta \ell(w - \eta g),
        \quad
        \text{gradient change} = \max_\eta \|\nabla\ell(w - \eta g) - g\|,
        \quad
        \beta = \max_{\eta > 0}
            \frac{\|\nabla\ell(w - \eta g) - g\|}{\|\eta g\|},

    over the step sizes of `frame`, one probe of :func:`probe_landscape`
    (:math:`\eta = 0` included for the first two). For a loss whose gradient
    is :math:`L`-Lipschitz, :math:`\beta \le L`: it is the smoothness the walk
    actually met. Returns a Series ``loss_variation``, ``grad_change``,
    ``beta``.
    """
    missing = {"eta", "loss", "grad_change", "distance"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"frame lacks {sorted(missing)}: pass probe_landscape's result"
        )
    moved = frame[frame["eta"] > 0]
    if moved.empty or not (moved["distance"] > 0).all():
        raise ValueError("the probe never moved (no eta > 0 or a zero gradient)")
    return pd.Series({
        "loss_variation": frame["loss"].max() - frame["loss"].min(),
        "grad_change": frame["grad_change"].max(),
        "beta": (moved["grad_change"] / moved["distance"]).max(),
    })  # fmt: skip


# Shown in lesson 09, "2 · The loss landscape along the gradient"
def by_step_size(frame: pd.DataFrame) -> pd.DataFrame:
    r"""How far the loss and the gradient move, by step size, over many probes.

    `frame` stacks probes of :func:`probe_landscape` taken at several
    training steps (a ``step`` column, as in ``Watch.landscape``). For the
    probe at step :math:`t` and each step size :math:`\eta > 0`,

    .. math::

        \Delta\ell_t(\eta) = \ell(w_t - \eta g_t) - \ell(w_t),

    and the result has one row per :math:`\eta`: the median over the steps
    of ``loss_change`` :math:`\Delta\ell_t(\eta)` and of ``grad_change``
    :math:`\|\nabla\ell(w_t - \eta g_t) - g_t\|`.

    Raises
    ------
    ValueError
        If `frame` lacks one of the columns ``step``, ``eta``, ``loss``,
        ``grad_change``.
    """
    if not {"step", "eta", "loss", "grad_change"} <= set(frame.columns):
        raise ValueError(
            f"frame has columns {list(frame.columns)}, not step, eta, loss and "
            f"grad_change: pass the probes of train_watching (Watch.landscape)"
        )
    start = frame[frame["eta"] == 0].set_index("step")["loss"]
    moved = frame[frame["eta"] > 0]
    change = moved["loss"] - moved["step"].map(start)
    return moved.assign(loss_change=change).groupby("eta")[
        ["loss_change", "grad_change"]].median()  # fmt: skip
