r"""Lesson 09 inside the network: per-layer statistics and the gradient-based shift.

:func:`gradient_shift` is Santurkar et al.'s (NeurIPS 2018, Section 2.2)
internal covariate shift measured through the gradients; :func:`layer_stats`,
:func:`saturated_fraction` and :func:`update_ratio` are the per-layer
statistics of the lesson's "inside the network" (Karpathy's makemore style).
"""

from __future__ import annotations

import math
import warnings

import numpy as onp
import pandas as pd
from mxnet import autograd, gluon, np
from mxnet.gluon import nn

from bnlesson.core.arguments import check_finite
from bnlesson.lesson07.network import sigmoid_positions
from bnlesson.lesson09 import _check_probe_labels, loss_and_grad, preserved, trainable

__all__ = [
    "SATURATION_MARGIN", "gradient_shift", "layer_stats", "saturated_fraction",
    "update_ratio",
]  # fmt: skip

_LOSS = gluon.loss.SoftmaxCrossEntropyLoss()

#: A sigmoid output within this distance of 0 or 1 counts as saturated, as in
#: lesson 06 (:func:`bnlesson.lesson06.sigmoid_saturation`, ``margin=0.01``):
#: there the slope :math:`h(1 - h)` is below 0.0099, 4% of its largest value 1/4.
SATURATION_MARGIN = 0.01


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
