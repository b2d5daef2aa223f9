r"""Lesson 08's section "Making it fast": batch norm with the hand-written gradient.

:class:`BatchNormTraining` is an ``autograd.Function`` whose backward pass is
the compact form of :func:`bnlesson.lesson08.bn_backward`; per-channel
means and their broadcasts go through faster kernels (:func:`channel_mean`,
:func:`per_example`; :func:`mean_over_axes` and :func:`as_is` are the
generic ones the lesson times them against). :func:`batch_norm_fast` is
lesson 01's ``batch_norm`` built on it, and :class:`FastBatchNorm` lesson
02's Block built on that; both follow the conventions of
:mod:`bnlesson.lesson01` (``momentum`` weights the old moving value, biased
batch variance) and update the moving statistics in the forward pass.
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
