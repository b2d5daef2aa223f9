r"""Lesson 09: why does batch norm help? The instruments of its experiments.

The experiments of Santurkar et al. (NeurIPS 2018) on lesson 07's network:
noisy batch norm (:class:`NoiseLayer`, :func:`noisy_mlp`, read in training
mode by :func:`bnlesson.lesson07.network.sigmoid_input`), the loss landscape along the
gradient (:func:`probe_landscape`, :func:`landscape_summary`), and the per-layer
statistics of "inside the network" (:func:`layer_stats`,
:func:`saturated_fraction`, :func:`update_ratio`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from contextlib import contextmanager
from typing import Sequence

import numpy as onp
import pandas as pd
from mxnet import autograd, gluon, np
from mxnet.gluon import nn

from bnlesson.core.arguments import check_finite, is_number, not_a_number
from bnlesson.lesson07.network import HIDDEN, mlp, sigmoid_positions
from bnlesson.training.batchcheck import check_labels, num_classes

__all__ = [
    "SATURATION_MARGIN", "NoiseLayer", "PaperNoise", "by_step_size", "gradient_shift",
    "landscape_summary", "layer_stats", "loss_and_grad", "noisy_mlp", "norm",
    "preserved", "probe_landscape", "saturated_fraction", "trainable", "update_ratio",
]  # fmt: skip

#: A sigmoid output within this distance of 0 or 1 counts as saturated, as in
#: lesson 06 (:func:`bnlesson.lesson06.sigmoid_saturation`, ``margin=0.01``):
#: there the slope :math:`h(1 - h)` is below 0.0099, 4% of its largest value 1/4.
SATURATION_MARGIN = 0.01

_LOSS = gluon.loss.SoftmaxCrossEntropyLoss()


# Shown in lesson 09, "1 · Noisy batch norm" (without the checks and docstring)
class NoiseLayer(nn.Block):
    r"""Shift and scale every unit by random amounts redrawn at every training step.

    In training mode (inside ``autograd.record()``) each call draws, for
    every unit :math:`j`, a shift and a scale

    .. math::

        m_j \sim U(-a, a), \qquad s_j \sim U(1, b), \qquad
        y_{ij} = s_j\, x_{ij} + m_j,

    the same for all examples :math:`i` of the batch, so the distribution of
    unit :math:`j` over the batch moves by :math:`m_j` and stretches by
    :math:`s_j`, differently at every step. In prediction mode it applies
    the average transform, :math:`y = \tfrac{1 + b}{2}\, x`.

    Parameters
    ----------
    max_shift : float
        :math:`a \ge 0`.
    max_scale : float
        :math:`b \ge 1`.

    Raises
    ------
    ValueError
        If `max_shift` or `max_scale` is not a finite number (a string, a
        bool, inf: uniform draws from an infinite range are NaN, at training
        time), or out of range.
    """

    def __init__(self, max_shift: float = 3.0, max_scale: float = 3.0, **kwargs):
        check_finite("max_shift", max_shift, "max_shift=3.0")
        check_finite("max_scale", max_scale, "max_scale=3.0")
        if not (max_shift >= 0 and max_scale >= 1):
            raise ValueError(
                f"need max_shift >= 0 and max_scale >= 1 (the scale is drawn from "
                f"U(1, max_scale)), not {max_shift!r} and {max_scale!r}"
            )
        super().__init__(**kwargs)
        self.max_shift, self.max_scale = max_shift, max_scale

    def forward(self, X):
        if X.ndim != 2:
            raise ValueError(f"NoiseLayer takes (batch, units) inputs, not {X.shape}")
        if not autograd.is_training():
            return X * (1 + self.max_scale) / 2
        size = (1, X.shape[1])
        shift = np.random.uniform(-self.max_shift, self.max_shift, size, ctx=X.ctx)
        scale = np.random.uniform(1, self.max_scale, size, ctx=X.ctx)
        return X * scale + shift


# Shown in lesson 09, "1 · Noisy batch norm" (without the checks and docstring)
class PaperNoise(nn.Block):
    r"""Santurkar et al.'s noise: per example, from a distribution redrawn every step.

    In training mode each call first draws, for every unit :math:`j`, the
    mean and the standard deviation of this step's noise distribution,

    .. math::

        \mu_j \sim U(-a, a), \qquad \sigma_j \sim U(1, b),

    shared by the whole batch, and then perturbs every example :math:`i`
    with its own draw from it:

    .. math::

        y_{ij} = x_{ij} + \varepsilon_{ij}, \qquad
        \varepsilon_{ij} \sim \mathcal{N}(\mu_j, \sigma_j^2).

    Over the batch, unit :math:`j` moves by :math:`\mu_j` (a shift shared by
    the batch, new at every step) and its variance grows by
    :math:`\sigma_j^2 \ge 1`. This is our reading of Santurkar et al.
    (2018), Section 2.1: "i.i.d. noise sampled from a non-zero mean and
    non-unit variance distribution" that "changes at each time step". In
    prediction mode the noise's average over steps, zero, is added: the
    layer is the identity.

    Parameters
    ----------
    max_mean : float
        :math:`a \ge 0`.
    max_std : float
        :math:`b \ge 1`.
    """

    def __init__(self, max_mean: float = 3.0, max_std: float = 3.0, **kwargs):
        check_finite("max_mean", max_mean, "max_mean=3.0")
        check_finite("max_std", max_std, "max_std=3.0")
        if not (max_mean >= 0 and max_std >= 1):
            raise ValueError(
                f"need max_mean >= 0 and max_std >= 1 (the noise's standard "
                f"deviation is drawn from U(1, max_std)), not {max_mean!r} and "
                f"{max_std!r}"
            )
        super().__init__(**kwargs)
        self.max_mean, self.max_std = max_mean, max_std

    def forward(self, X):
        if X.ndim != 2:
            raise ValueError(f"PaperNoise takes (batch, units) inputs, not {X.shape}")
        if not autograd.is_training():
            return X
        size = (1, X.shape[1])  # this step's distribution, one per unit
        mean = np.random.uniform(-self.max_mean, self.max_mean, size, ctx=X.ctx)
        std = np.random.uniform(1, self.max_std, size, ctx=X.ctx)
        return X + mean + std * np.random.normal(size=X.shape, ctx=X.ctx)


#: The kinds of noise :func:`noisy_mlp` can insert.
NOISES = {"paper": PaperNoise, "shared": NoiseLayer}


def noisy_mlp(
    max_shift: float = 3.0,
    max_scale: float = 3.0,
    hidden: Sequence[int] = HIDDEN,
    kind: str = "shared",
) -> nn.Sequential:
    """Return lesson 07's ``mlp("gluon")`` with noise after every batch norm.

    `kind` ``"shared"`` inserts ``NoiseLayer(max_shift, max_scale)`` (one
    shift and scale per unit for the whole batch), ``"paper"``
    ``PaperNoise(max_shift, max_scale)`` (Santurkar et al.'s: per-example
    noise of mean up to `max_shift` and standard deviation 1 to
    `max_scale`). For the default `hidden`, the layers::

        Dense(100) BN noise sigmoid   Dense(100) BN noise sigmoid
        Dense(100) BN noise sigmoid   Dense(10)
    """
    if kind not in NOISES:
        raise ValueError(f"kind must be one of {sorted(NOISES)}, not {kind!r}")
    net = nn.Sequential()
    for block in mlp("gluon", hidden):
        net.add(block)
        if isinstance(block, nn.BatchNorm):
            net.add(NOISES[kind](max_shift, max_scale))
    return net


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


def _layer_of_each_parameter(net) -> tuple[list[int], list[int]]:
    """For :func:`trainable`'s parameters, the block index of each; and the
    block index of every Dense layer."""
    owner = {id(p): i for i, block in enumerate(net)
             for p in block.collect_params().values()}  # fmt: skip
    dense = [i for i, block in enumerate(net) if isinstance(block, nn.Dense)]
    return [owner[id(p)] for p in trainable(net)], dense


def gradient_shift(net, X, y, lr: float) -> pd.DataFrame:
    r"""Santurkar et al.'s gradient-based internal covariate shift (Section 2.2).

    For Dense layer :math:`k` with weight :math:`W_k`, compare its gradient
    in a simultaneous update of all layers with its gradient once the
    layers below have taken their step:

    .. math::

        G_k = \nabla_{W_k} \ell(w_1, \dots, w_L), \qquad
        G'_k = \nabla_{W_k} \ell(w_1 - \eta g_1, \dots,
               w_{k-1} - \eta g_{k-1}, w_k, \dots, w_L),

    with :math:`g` the gradient at :math:`w` and :math:`\eta` = `lr`, on the
    batch ``(X, y)`` in training mode. The layers below are every block
    before Dense :math:`k` (their batch norms' :math:`\gamma, \beta` too).
    The shift is :math:`\|G_k - G'_k\|`; 0 and a cosine of 1 mean the
    update below did not change what layer :math:`k` should do. The network
    is left as it was.

    Returns
    -------
    pandas.DataFrame
        One row per Dense layer above the first (``"layer 2"``, ...):
        ``l2`` :math:`\|G_k - G'_k\|`, ``relative`` :math:`\|G_k - G'_k\| /
        \|G_k\|` and ``cosine`` :math:`\langle G_k, G'_k\rangle /
        (\|G_k\| \|G'_k\|)`.
    """
    check_finite("lr", lr, "lr=0.5")
    if not lr > 0:
        raise ValueError(f"lr must be positive, not {lr!r}")
    _check_probe_labels(net, X, y)
    params = trainable(net)
    owners, dense = _layer_of_each_parameter(net)
    rows = {}
    with preserved(net):
        w = [p.data().copy() for p in params]
        _, g = loss_and_grad(net, X, y)
        for k, position in enumerate(dense[1:], start=2):
            for p, w_p, g_p, owner in zip(params, w, g, owners):
                p.set_data(w_p - lr * g_p if owner < position else w_p)
            _, g_after = loss_and_grad(net, X, y)
            i = params.index(net[position].weight)
            a, b = g[i].asnumpy().ravel(), g_after[i].asnumpy().ravel()
            size_a, size_b = onp.linalg.norm(a), onp.linalg.norm(b)
            rows[f"layer {k}"] = {
                "l2": float(onp.linalg.norm(a - b)),
                "relative": float(onp.linalg.norm(a - b) / size_a),
                "cosine": float(a @ b / (size_a * size_b)),
            }
    return pd.DataFrame(rows).T


def layer_stats(net, X, y) -> tuple[list, list]:
    r"""Return each hidden layer's sigmoid outputs :math:`h` and the gradients
    :math:`\partial\ell/\partial h` of the mean loss, in training mode.

    A zero array is added to every sigmoid output and its gradient read:
    :math:`\partial\ell/\partial(h + 0) = \partial\ell/\partial h`. Two lists
    of NumPy arrays of shape ``(N, units)``, from the first hidden layer on;
    the network is left as it was.
    """
    sigmoids = set(sigmoid_positions(net))
    outputs, taps = [], []
    with preserved(net), autograd.record():
        h = X
        for i, block in enumerate(net):
            h = block(h)
            if i in sigmoids:
                tap = np.zeros(h.shape, ctx=h.ctx)
                tap.attach_grad()
                h = h + tap
                outputs.append(h)
                taps.append(tap)
        loss = _LOSS(h, y).mean()
        loss.backward()
    return [h.asnumpy() for h in outputs], [t.grad.asnumpy() for t in taps]


def saturated_fraction(h, threshold: float = 1 - 2 * SATURATION_MARGIN) -> float:
    r"""The fraction of sigmoid outputs :math:`h` within :math:`(1 - t)/2` of 0 or 1.

    That is :math:`|2h - 1| > t`. The default :math:`t = 0.98` puts the line
    where lesson 06 does (:data:`SATURATION_MARGIN`): outputs within 0.01 of
    0 or 1, where :math:`\sigma' = h(1 - h) < 0.0099`, 4% of its largest
    value, 1/4. Since :math:`2\sigma(x) - 1 = \tanh(x/2)`, it is the rule
    :math:`|\tanh| > t` used for tanh units, applied to the sigmoid.

    If any output is NaN or infinite (a diverged network) the fraction is
    NaN, with a ``RuntimeWarning``: a NaN is neither saturated nor not, and
    counting it as "not saturated" would report a dead network as a healthy
    one. It is not an error here: a run that calls this
    (:func:`bnlesson.lesson09.runs.train_early`) reports the divergence
    itself, at its next step, with what it recorded before
    (:class:`bnlesson.training.divergence.TrainingDiverged`).

    Raises
    ------
    ValueError
        If `threshold` is not in (0, 1).
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), not {threshold!r}")
    h = _numpy(h)
    bad = int(h.size - onp.isfinite(h).sum())
    if bad:
        warnings.warn(
            f"saturated_fraction: {bad} of {h.size} outputs are NaN or infinite "
            f"(has the network diverged? lower the learning rate), so the "
            f"fraction is NaN, not a share of saturated units.",
            RuntimeWarning,
            stacklevel=2,
        )
        return math.nan
    return float((onp.abs(2 * h - 1) > threshold).mean())


def update_ratio(before, after) -> float:
    r"""How much one update changed a weight, relative to its size:
    :math:`\|w_\text{after} - w_\text{before}\| / \|w_\text{before}\|`."""
    before, after = _numpy(before), _numpy(after)
    if before.shape != after.shape:
        raise ValueError(f"shapes differ: {before.shape} and {after.shape}")
    size = onp.linalg.norm(before)
    if size == 0:
        raise ValueError("the weight before the update is all zeros: no scale")
    return float(onp.linalg.norm(after - before) / size)


def _numpy(x) -> onp.ndarray:
    return onp.asarray(x.asnumpy() if hasattr(x, "asnumpy") else x, dtype=onp.float64)
