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

:class:`FastBatchNorm` follows the conventions of :mod:`bnlesson.lesson01`
(``momentum`` weights the old moving value, biased batch variance) and
updates its moving statistics in the forward pass. The lesson times each
speed-up with :func:`bnlesson.lesson04.profile`.
"""

from __future__ import annotations

import numpy as onp
from mxnet import autograd, np, npx

from bnlesson.lesson01 import (
    EPS,
    MOMENTUM,
    batch_norm,
    check_batch,
    check_stats,
    stat_shape,
)
from bnlesson.lesson02 import BatchNorm, check_input

# The profiling helper lesson 04 shows; this lesson times its layers with it.
from bnlesson.lesson04 import profile  # noqa: F401


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


# Shown in lesson 08, "Making it fast"
def mean_over_axes(X):
    """Per-channel mean by MXNet's generic reduction: ``(1, C)`` or ``(1, C, 1, 1)``."""
    return X.mean(axis=(0,) if X.ndim == 2 else (0, 2, 3), keepdims=True)


# Shown in lesson 08, "Making it fast"
def as_is(v, X):
    """No spreading: `v` broadcasts against `X` as it is."""
    return v


# Shown in lesson 08, "Making it fast"
def channel_mean(X):
    r""":func:`mean_over_axes` through fast kernels.

    Global average pooling gives each image's channel means :math:`P_{nc}`,
    and a matrix-vector product averages them over the batch:
    :math:`\mu_c = \frac{1}{N} \mathbf{1}^\top P_{\cdot c}`.
    """
    N, C = X.shape[:2]
    P = X
    if X.ndim == 4:  # on the CPU, global average pooling is an MKL-DNN kernel
        P = npx.pooling(X, kernel=X.shape[2:], pool_type="avg", global_pool=True)
        P = P.reshape(N, C)
    weights = np.full((N,), 1.0 / N, dtype=X.dtype, ctx=X.ctx)
    return np.dot(weights, P).reshape(stat_shape(X))


# Shown in lesson 08, "Making it fast"
def per_example(v, X):
    """Spread the per-channel `v` over one example of 4-D `X`: ``(1, C, H, W)``.

    MXNet's CPU kernels broadcast along the batch axis alone faster than
    along the batch and pixel axes; the result broadcasts as `v` does.
    """
    if X.ndim == 2:
        return v
    return np.broadcast_to(v, (1, *X.shape[1:]))


# Shown in lesson 08, "Making it fast"
class BatchNormTraining(autograd.Function):
    """Training-mode batch norm whose ``backward`` is :func:`bn_backward`.

    ``forward(gamma, beta, X)`` returns ``Y`` and keeps the batch statistics
    in ``self.mean`` and ``self.var``. `mean_of` and `spread` compute and
    broadcast per-channel values (the lesson swaps them to time each
    speed-up).

    Notes
    -----
    The code is shaped by quirks of MXNet 1.9.1's ``autograd.Function``, which
    the lesson leaves out:

    * under ``npx.set_np()``, ``backward`` receives and must return classic
      ``NDArray`` s, hence ``as_np_ndarray()`` and ``as_nd_ndarray()``;
    * it stops writing input gradients at the first input that needs none,
      so ``X``, which may be raw data without a gradient buffer, comes last;
      and it never writes them for ``grad_req='add'`` (hence the fallbacks of
      :func:`batch_norm_fast` and :class:`FastBatchNorm`);
    * ``backward`` runs later, on another thread, possibly after
      ``Trainer.step()`` has queued an update of ``gamma`` that waits for
      this very gradient: reading ``gamma`` there would hang (a deadlock),
      so ``forward`` saves ``gamma * s``, a new array;
    * a Function runs outside MXNet's graph: hybridizing a Block that calls
      it does not fuse its operators, so it cannot reach the one compiled
      operator per direction of ``nn.BatchNorm``.
    """

    def __init__(self, eps, mean_of=channel_mean, spread=per_example):
        super().__init__()
        self.eps, self.mean_of, self.spread = eps, mean_of, spread

    def forward(self, gamma, beta, X):
        mean_of, spread = self.mean_of, self.spread
        self.mean = mean_of(X)
        d = X - spread(self.mean, X)
        self.var = mean_of(d * d)  # d * d: on the CPU the generic d ** 2 is slower
        s = 1.0 / np.sqrt(self.var + self.eps)
        X_hat = d * spread(s, X)
        self.save_for_backward(X_hat, gamma * s)
        return spread(gamma, X) * X_hat + spread(beta, X)

    def backward(self, dY):
        mean_of, spread = self.mean_of, self.spread
        dY = dY.as_np_ndarray()
        X_hat, gamma_s = self.saved_tensors
        m = X_hat.size // X_hat.shape[1]
        mean_dY, mean_dY_X_hat = mean_of(dY), mean_of(dY * X_hat)
        dX = spread(gamma_s, X_hat) * (
            dY - spread(mean_dY, X_hat) - X_hat * spread(mean_dY_X_hat, X_hat)
        )
        dgamma, dbeta = m * mean_dY_X_hat, m * mean_dY
        return dgamma.as_nd_ndarray(), dbeta.as_nd_ndarray(), dX.as_nd_ndarray()


# Not shown in lesson 08 (its section "Making it fast" imports it): the
# fallbacks and the dtype check are engine details, documented here.
def batch_norm_fast(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    r""":func:`bnlesson.lesson01.batch_norm` with the hand-written gradient.

    Same arguments, results and errors, but for one more: in training mode
    (unless it falls back, below) `X` must be float32 or float64, the dtypes
    of MXNet's CPU matrix product (neither it nor pooling takes integers); the
    lecture's function also takes float16 and integer input. In training mode
    :math:`y = \gamma (x - \mu_B)/\sqrt{\sigma_B^2 + \epsilon} + \beta` comes
    from :class:`BatchNormTraining` (backward: :func:`bn_backward`) and the
    moving statistics become :math:`\lambda \hat\mu + (1 - \lambda)\mu_B`,
    :math:`\lambda \hat\sigma^2 + (1 - \lambda)\sigma_B^2`. Recording with
    ``gamma`` or ``beta`` lacking a gradient buffer falls back to
    :func:`~bnlesson.lesson01.batch_norm`: the Function would not write theirs.
    In prediction mode there is no gradient to write by hand: one scale and
    one shift per channel do the work.

    Raises
    ------
    ValueError
        For what :func:`~bnlesson.lesson01.batch_norm` refuses
        (:func:`~bnlesson.lesson01.check_stats`,
        :func:`~bnlesson.lesson01.check_batch`), and for a training input of
        another dtype than float32 or float64, saying how to convert it.
    """
    check_stats(
        X, eps, momentum,
        gamma=gamma, beta=beta, moving_mean=moving_mean, moving_var=moving_var,
    )  # fmt: skip
    if not autograd.is_training():  # one scale and one shift per channel
        scale = gamma / np.sqrt(moving_var + eps)
        shift = beta - moving_mean * scale
        Y = X * per_example(scale, X) + per_example(shift, X)
        return Y, moving_mean, moving_var
    check_batch(X)
    if autograd.is_recording() and (gamma.grad is None or beta.grad is None):
        return batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum)
    if X.dtype not in (onp.float32, onp.float64):  # float16 fails later
        raise ValueError(
            f"batch_norm_fast trains on float32 or float64 input only (on "
            f"the CPU its matrix product takes no other dtype), but X has "
            f"dtype {X.dtype}; convert it with X.astype('float32')."
        )
    normalize = BatchNormTraining(eps)
    Y = normalize(gamma, beta, X)
    moving_mean = momentum * moving_mean + (1.0 - momentum) * normalize.mean
    moving_var = momentum * moving_var + (1.0 - momentum) * normalize.var
    return Y, moving_mean, moving_var


# Not shown in lesson 08 (its section "Making it fast" imports it and compares
# it with nn.BatchNorm); the cases it hands to batch_norm are engine details.
class FastBatchNorm(BatchNorm):
    """:class:`bnlesson.lesson02.BatchNorm` computed by :func:`batch_norm_fast`.

    Same Parameters, moving statistics, defaults and errors, but for one
    more: it trains on float32 or float64 input only (a ``ValueError`` says
    how to convert another; :func:`batch_norm_fast`). Parameters whose
    ``grad_req`` is not ``'write'`` (frozen, or ``'add'``) use the lecture's
    :func:`~bnlesson.lesson01.batch_norm`, right in every case and dtype.
    """

    def forward(self, X):
        check_input(X, self.gamma.shape)
        if self.moving_mean.ctx != X.ctx:
            self.moving_mean = self.moving_mean.copyto(X.ctx)
            self.moving_var = self.moving_var.copyto(X.ctx)
        fast = self.gamma.grad_req == "write" and self.beta.grad_req == "write"
        compute = batch_norm_fast if fast else batch_norm
        Y, self.moving_mean, self.moving_var = compute(
            X, self.gamma.data(X.ctx), self.beta.data(X.ctx),
            self.moving_mean, self.moving_var, eps=EPS, momentum=MOMENTUM,
        )  # fmt: skip
        return Y
