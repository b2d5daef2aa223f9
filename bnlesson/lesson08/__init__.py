r"""Lesson 08: the backward pass of batch norm, by hand, checked and made fast.

The code of ``notebooks/08_batch_norm_backward.ipynb``; a comment above each
definition names the section that shows it. Per feature or channel
with :math:`m` values, :math:`s = 1/\sqrt{\sigma_B^2 + \epsilon}`,
:math:`\hat x_i = (x_i - \mu_B)\, s`, :math:`y_i = \gamma \hat x_i + \beta`,
:math:`g_i = \partial \ell / \partial y_i` and bars for means over the
:math:`m` values:

.. math::

    \frac{\partial \ell}{\partial x_i}
    = \gamma s \Big(g_i - \overline{g} - \hat x_i\, \overline{g \hat x}\Big),
    \qquad
    \frac{\partial \ell}{\partial \gamma} = m\, \overline{g \hat x},
    \qquad
    \frac{\partial \ell}{\partial \beta} = m\, \overline{g}.

With :math:`\sigma = 1/s`, :math:`\mathbf{1} = (1, \dots, 1)` and, for
:math:`\epsilon = 0`, :math:`\|\hat x\|^2 = m`, the input gradient of a
feature is :math:`(\gamma/\sigma) P g` with the orthogonal projection
:math:`P = I - \mathbf{1}\mathbf{1}^\top/m - \hat x \hat x^\top/m`: it
removes the mean of :math:`g` and its component along :math:`\hat x`. After
a layer :math:`z = Wx`, scaling :math:`W` by :math:`c > 0` leaves the output
unchanged (up to :math:`\epsilon`) and divides :math:`\partial\ell/\partial W`
by :math:`c` (:func:`weight_gradient`; Ioffe and Szegedy 2015, section 3.3;
Arora, Li and Lyu 2019).

The section "Making it fast" (:class:`FastBatchNorm`, a layer whose
backward pass is the compact form) is :mod:`bnlesson.lesson08.fast`; its
names are importable from here, as the lesson imports them. The lesson
times each speed-up with :func:`bnlesson.lesson04.profile`.
"""

from __future__ import annotations

import numpy as onp
from mxnet import np

# The profiling helper lesson 04 shows; this lesson times its layers with it.
from bnlesson.lesson04 import profile  # noqa: F401
from bnlesson.lesson08.fast import (
    BatchNormTraining,
    FastBatchNorm,
    as_is,
    batch_norm_fast,
    channel_mean,
    mean_over_axes,
    per_example,
)

__all__ = [
    "BatchNormTraining", "FastBatchNorm", "as_is", "batch_norm_fast",
    "bn_backward", "bn_backward_graph", "bn_forward", "channel_mean",
    "mean_over_axes", "numerical_gradients", "per_example", "profile",
    "rel_error", "weight_gradient",
]  # fmt: skip


# Shown in lesson 08, "The forward pass as a graph"
def bn_forward(X, gamma, beta, eps: float) -> tuple:
    """Training-mode forward pass, one graph node per line; returns Y and a cache."""
    axes = (0,) if X.ndim == 2 else (0, 2, 3)
    mu = X.mean(axis=axes, keepdims=True)
    d = X - mu
    v = (d * d).mean(axis=axes, keepdims=True)
    s = 1 / np.sqrt(v + eps)
    X_hat = d * s
    Y = gamma * X_hat + beta
    return Y, (X_hat, d, s, gamma)


# Shown in lesson 08, "The backward pass, one node at a time"
def bn_backward_graph(dY, cache: tuple) -> tuple:
    """``(dX, dgamma, dbeta)``, node by node through :func:`bn_forward`."""
    X_hat, d, s, gamma = cache
    axes = (0,) if dY.ndim == 2 else (0, 2, 3)
    m = dY.size // dY.shape[1]  # values per feature or channel
    dbeta = dY.sum(axis=axes, keepdims=True)  # node 1: Y = gamma X_hat + beta
    dgamma = (dY * X_hat).sum(axis=axes, keepdims=True)
    dX_hat = gamma * dY
    ds = (dX_hat * d).sum(axis=axes, keepdims=True)  # node 2: X_hat = d s
    dd = dX_hat * s
    dv = -0.5 * s**3 * ds  # node 3: s = (v + eps)^(-1/2)
    dd = dd + dv * 2 * d / m  # node 4: v = mean(d^2)
    dmu = -dd.sum(axis=axes, keepdims=True)  # node 5: d = X - mu
    dX = dd + dmu / m  # node 6: mu = mean(X)
    return dX, dgamma, dbeta


# Shown in lesson 08, "The compact form"
def bn_backward(dY, cache: tuple) -> tuple:
    r""":func:`bn_backward_graph` simplified (the module docstring's math)."""
    X_hat, _, s, gamma = cache
    axes = (0,) if dY.ndim == 2 else (0, 2, 3)
    m = dY.size // dY.shape[1]  # values per feature or channel
    mean_dY = dY.mean(axis=axes, keepdims=True)
    mean_dY_X_hat = (dY * X_hat).mean(axis=axes, keepdims=True)
    dX = gamma * s * (dY - mean_dY - X_hat * mean_dY_X_hat)
    return dX, m * mean_dY_X_hat, m * mean_dY


# Shown in lesson 08, "Larger weights, smaller gradients"
def weight_gradient(W, X, gamma, beta, dY, eps: float = 1e-5) -> tuple:
    r"""Output and weight gradient of a bias-free dense layer followed by batch norm.

    ``Y = bn_forward(X @ W.T, ...)`` and, by the chain rule through
    :func:`bn_backward`,

    .. math:: \frac{\partial\ell}{\partial W}
              = \Big(\frac{\partial\ell}{\partial z}\Big)^\top X,
              \qquad \ell = \sum y\, g, \quad g = dY .

    Scaling `W` by :math:`c > 0` leaves ``Y`` unchanged up to `eps` and divides
    the gradient by :math:`c`. Returns ``(Y, dW)``; ``dW`` has the shape of `W`
    (units x inputs).
    """
    Y, cache = bn_forward(np.dot(X, W.T), gamma, beta, eps)
    return Y, np.dot(bn_backward(dY, cache)[0].T, X)


# Shown in lesson 08, "Check 1: against autograd"
def rel_error(a, b) -> float:
    r"""CS231n's relative error of two arrays (MXNet or NumPy).

    .. math:: \max_i |a_i - b_i| \,/\, \max(10^{-8}, |a_i| + |b_i|)
    """
    a, b = onp.asarray(a, dtype="float64"), onp.asarray(b, dtype="float64")
    scale = onp.maximum(1e-8, onp.abs(a) + onp.abs(b))
    return float(onp.max(onp.abs(a - b) / scale))


# Shown in lesson 08, "Check 2: finite differences"
def numerical_gradients(X, gamma, beta, dY, h: float = 1e-5, eps: float = 1e-5) -> list:
    r"""Centred differences of :math:`\ell = \sum_i y_i g_i` (``g = dY``).

    .. math:: \partial\ell/\partial a_j \approx (\ell(a + h e_j) - \ell(a - h e_j))/2h

    for each entry of `X`, `gamma`, `beta` (perturbed in place, restored),
    in their dtype. Returns three float64 NumPy arrays.
    """

    def loss():
        return float((bn_forward(X, gamma, beta, eps)[0] * dY).sum())

    grads = []
    for A in (X, gamma, beta):
        grad = onp.zeros(A.shape)
        for j in onp.ndindex(A.shape):
            old = A[j].copy()  # an array, not a float: MXNet would round it
            A[j] = old + h
            loss_plus = loss()
            A[j] = old - h
            loss_minus = loss()
            A[j] = old
            grad[j] = (loss_plus - loss_minus) / (2 * h)
        grads.append(grad)
    return grads
