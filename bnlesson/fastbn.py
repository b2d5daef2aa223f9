r"""Batch normalization from scratch, made fast enough to train with on a CPU.

:func:`bnlesson.layers.batch_norm` is the readable lecture formula. Inside
LeNet (batch 256, 2-core CPU) it makes each training step about 12x as slow
as LeNet without batch normalization. This module computes the same thing,
still from scratch (no ``npx.batch_norm``, no ``nn.BatchNorm``), and LeNet
with :class:`FastBatchNorm` trains at about 2x the cost of plain LeNet
(Gluon's ``nn.BatchNorm``: about 1.3x).

Where the time went, measured on one ``(256, 6, 24, 24)`` activation (the
first conv layer of LeNet) with MXNet 1.9.1's CPU build:

* a reduction such as ``X.mean(axis=(0, 2, 3))`` takes about 9 ms, against
  0.5 ms for an elementwise product ``X * X`` (and grouping the axes
  differently does not help: ``X.sum(axis=(2, 3)).sum(axis=0)`` ~5 ms);
* ``x ** 2`` takes about 9 ms too (a generic power kernel), 20x ``x * x``;
* above all, the *backward* of each broadcast operation between ``X`` and a
  per-channel ``(1, C, 1, 1)`` array (``X - mean``, ``/ std``, ``gamma *``,
  ``+ beta``) sums the incoming gradient over ``(0, 2, 3)`` with that slow
  kernel: 25 to 50 ms each. Autograd's forward + backward of the lecture
  formula takes 135 to 220 ms (depending on the machine's load), against
  6 to 7 ms for ``npx.batch_norm``.

The remedies, each used below with its reason:

1. **Write the gradient by hand** (an :class:`mxnet.autograd.Function`), so
   autograd does not differentiate the formula operation by operation. With
   :math:`\hat x = (x - \mu_B) / \sqrt{\sigma_B^2 + \epsilon}`, the
   incoming gradient :math:`g = \partial \ell / \partial y` and the
   :math:`m` values of one channel (:math:`m = N` for a 2-D input,
   :math:`NHW` for a 4-D one):

   .. math::

       \frac{\partial \ell}{\partial \beta} = \sum_i g_i, \qquad
       \frac{\partial \ell}{\partial \gamma} = \sum_i g_i \hat x_i, \qquad
       \frac{\partial \ell}{\partial x_i} = \frac{\gamma}{\sqrt{\sigma_B^2 + \epsilon}}
       \Big( g_i - \frac{1}{m}\sum_j g_j
             - \hat x_i \,\frac{1}{m}\sum_j g_j \hat x_j \Big).

   The backward pass needs two per-channel means and a few elementwise
   operations. Alone, this brings the layer above from ~200 ms to ~45 ms.
2. **Compute per-channel means with fast kernels** (:func:`channel_mean`):
   global average pooling (an MKL-DNN kernel, ~0.6 ms instead of ~9 ms)
   gives each image's channel means, and a matrix-vector product averages
   them over the batch. Layer: ~45 ms to ~18 ms.
3. **Broadcast only along the batch axis** (:func:`per_example`): an
   elementwise operation between ``X`` and a ``(1, C, 1, 1)`` array takes
   about twice as long as one with a ``(1, C, H, W)`` array, so per-channel
   values are first spread over one example's ``C * H * W`` positions
   (cheap: 3,456 numbers for LeNet's first layer). Layer: ~18 ms to ~12 ms.

The conventions are those of :mod:`bnlesson.layers` (and of Gluon's
``nn.BatchNorm``): ``momentum`` weights the *old* moving value, the batch
variance is biased, and the moving statistics are updated by the
training-mode forward pass (Gluon updates them in ``backward()``).
"""

from __future__ import annotations

from mxnet import autograd, np, npx

from .layers import (
    EPS,
    MOMENTUM,
    BatchNorm,
    batch_norm,
    check_batch,
    check_input,
    check_stats,
    stat_shape,
)


def channel_mean(X):
    r"""Mean of `X` per feature (2-D input) or per channel (4-D input).

    The same numbers as ``X.mean(axis=(0,) or (0, 2, 3), keepdims=True)``,
    of shape ``(1, C)`` or ``(1, C, 1, 1)``, computed several times faster on
    MXNet's CPU build.

    For a 4-D input, the mean of channel :math:`c` is the batch average of
    each image's mean over the pixels, and the latter is what global average
    pooling computes:

    .. math::

        \mu_c = \frac{1}{N}\sum_n P_{nc}, \qquad
        P_{nc} = \frac{1}{HW}\sum_{h,w} x_{nchw}
        \quad (\text{global average pooling}).

    The batch average :math:`\frac{1}{N}\sum_n P_{nc}` (or, for a 2-D
    input, :math:`\frac{1}{N}\sum_n x_{nc}`) is the matrix-vector product
    :math:`\frac{1}{N}\mathbf{1}^\top P`.

    Parameters
    ----------
    X : mxnet.np.ndarray
        Shape ``(N, C)`` or ``(N, C, H, W)``.

    Returns
    -------
    mxnet.np.ndarray
        Shape ``(1, C)`` or ``(1, C, 1, 1)``.
    """
    N, C = X.shape[:2]
    P = X
    if X.ndim == 4:
        # Global average pooling is an MKL-DNN kernel: ~0.6 ms for a
        # (256, 6, 24, 24) array, where X.mean(axis=(2, 3)) takes ~5 ms.
        P = npx.pooling(X, kernel=X.shape[2:], pool_type="avg", global_pool=True)
        P = P.reshape(N, C)
    # The batch average as a matrix-vector product (1/N) 1^T P runs in BLAS:
    # ~0.04 ms for a (256, 120) P, where P.mean(axis=0) takes ~0.2 ms.
    weights = np.full((N,), 1.0 / N, dtype=X.dtype, ctx=X.ctx)
    return np.dot(weights, P).reshape(stat_shape(X))


def per_example(v, X):
    """Spread the per-channel array `v` over one example of `X`.

    ``(1, C, 1, 1)`` becomes ``(1, C, H, W)``; a 2-D ``(1, C)`` is returned
    as it is. The result broadcasts against `X` exactly as `v` does.

    Why: MXNet's CPU kernel for ``X * v`` (and ``+``, ``-``) takes about
    twice as long when `v` is broadcast along the pixel axes as well as the
    batch axis (~2.3 ms for a ``(256, 6, 24, 24)`` `X`) as when it is
    broadcast along the batch axis only (~1 ms); spreading `v` costs little
    (``C * H * W`` numbers, 3,456 for LeNet's first layer).
    """
    if X.ndim == 2:
        return v
    return np.broadcast_to(v, (1, *X.shape[1:]))


class _BatchNormTraining(autograd.Function):
    """Training-mode batch normalization with the gradient written by hand.

    ``forward(gamma, beta, X)`` returns ``Y`` and keeps the batch statistics
    in ``self.mean`` and ``self.var``; ``backward(dY)`` returns the gradients
    with respect to ``gamma``, ``beta`` and ``X``, in that order.

    Three quirks of MXNet 1.9.1's ``autograd.Function`` shape this class:

    * with ``npx.set_np()``, ``backward`` receives classic ``mx.nd.NDArray``
      gradients and must return classic ones (returning ``mxnet.np`` arrays
      fails), hence ``as_np_ndarray()`` and ``as_nd_ndarray()``;
    * it stops writing input gradients at the first input that needs none,
      and it never writes those of inputs attached with ``grad_req='add'``:
      ``X`` (which may need no gradient, e.g. raw input data) therefore
      comes last, and callers check that ``gamma`` and ``beta`` need a
      written gradient (see :func:`batch_norm_fast`);
    * ``backward`` runs later, on MXNet's custom-operator thread, after the
      code that follows ``loss.backward()`` (such as ``Trainer.step()``) has
      queued its own operations. It must therefore read only arrays that
      belong to this Function: reading the Parameter ``gamma`` there would
      wait for the update that ``Trainer.step()`` queued, which itself waits
      for this gradient, and training would hang.
    """

    def __init__(self, eps):
        super().__init__()
        self.eps = eps

    def forward(self, gamma, beta, X):
        mean = channel_mean(X)
        X_centered = X - per_example(mean, X)
        # x * x, not x ** 2: the generic power kernel is ~20x slower.
        var = channel_mean(X_centered * X_centered)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        X_hat = X_centered * per_example(inv_std, X)
        # Save gamma / sigma_B, a new array, and not gamma itself: backward()
        # runs after Trainer.step() has queued an update of gamma that waits
        # for this very backward, so reading gamma there would deadlock.
        self.save_for_backward(X_hat, gamma * inv_std)
        self.mean, self.var = mean, var
        return per_example(gamma, X) * X_hat + per_example(beta, X)

    def backward(self, dY):
        dY = dY.as_np_ndarray()
        X_hat, scale = self.saved_tensors
        m = X_hat.size // X_hat.shape[1]  # values per channel: N (2-D), N*H*W (4-D)
        mean_dY = channel_mean(dY)
        mean_dY_X_hat = channel_mean(dY * X_hat)
        dX = per_example(scale, X_hat) * (
            dY - per_example(mean_dY, X_hat) - X_hat * per_example(mean_dY_X_hat, X_hat)
        )
        dgamma, dbeta = m * mean_dY_X_hat, m * mean_dY
        return dgamma.as_nd_ndarray(), dbeta.as_nd_ndarray(), dX.as_nd_ndarray()


def batch_norm_fast(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    r"""Same as :func:`bnlesson.layers.batch_norm`, with a hand-written gradient.

    In training mode (``autograd.is_training()``) the output is

    .. math::

        y_i = \gamma \hat x_i + \beta, \qquad
        \hat x_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}},

    with the batch mean :math:`\mu_B` and biased variance :math:`\sigma_B^2`
    per feature (2-D input) or channel (4-D input), and the moving statistics
    become :math:`\lambda\hat\mu + (1-\lambda)\mu_B` and
    :math:`\lambda\hat\sigma^2 + (1-\lambda)\sigma_B^2` with
    :math:`\lambda` = `momentum`. Under ``autograd.record()`` the backward
    pass uses the closed-form gradient

    .. math::

        \frac{\partial \ell}{\partial x_i}
        = \frac{\gamma}{\sqrt{\sigma_B^2 + \epsilon}}
          \Big(g_i - \overline{g} - \hat x_i\, \overline{g \hat x}\Big),
        \qquad
        \frac{\partial \ell}{\partial \gamma} = m\, \overline{g \hat x},
        \qquad
        \frac{\partial \ell}{\partial \beta} = m\, \overline{g},

    where :math:`g = \partial \ell / \partial y`, the bars are per-channel
    means (:func:`channel_mean`) and :math:`m` is the number of values per
    channel. In prediction mode the moving statistics replace the batch ones
    and are returned unchanged.

    Parameters, return values and errors are those of
    :func:`bnlesson.layers.batch_norm`: the same arguments, the same
    ``(Y, moving_mean, moving_var)``, the same ``ValueError`` for a wrong
    rank or statistic shape.

    Notes
    -----
    The hand-written gradient is used when ``gamma`` and ``beta`` have
    gradient buffers (``attach_grad()``, as a Block's Parameters do);
    otherwise, because of the ``autograd.Function`` quirks described in
    :class:`_BatchNormTraining`, the lecture's :func:`~bnlesson.layers.batch_norm`
    (slow but differentiated by autograd) computes the result. Do not call
    it with arrays attached with ``grad_req='add'``: their gradients would
    not be written (:class:`FastBatchNorm` checks its Parameters' ``grad_req``
    and falls back to the lecture formula).
    """
    check_stats(
        X, gamma=gamma, beta=beta, moving_mean=moving_mean, moving_var=moving_var
    )
    if not autograd.is_training():
        # One scale and one shift per channel: two passes over X, no reduction.
        scale = gamma / np.sqrt(moving_var + eps)
        shift = beta - moving_mean * scale
        Y = X * per_example(scale, X) + per_example(shift, X)
        return Y, moving_mean, moving_var
    check_batch(X)
    if autograd.is_recording() and (gamma.grad is None or beta.grad is None):
        return batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum)
    normalize = _BatchNormTraining(eps)
    Y = normalize(gamma, beta, X)
    moving_mean = momentum * moving_mean + (1.0 - momentum) * normalize.mean
    moving_var = momentum * moving_var + (1.0 - momentum) * normalize.var
    return Y, moving_mean, moving_var


class FastBatchNorm(BatchNorm):
    """:class:`bnlesson.layers.BatchNorm` computed by :func:`batch_norm_fast`.

    Same Parameters (``gamma``, ``beta``), moving statistics, defaults
    (``momentum=0.9``, ``eps=1e-5``) and behaviour; only the computation of
    the forward and backward passes differs. Parameters whose ``grad_req``
    is not ``'write'`` (frozen, or accumulating with ``'add'``) fall back to
    the lecture's :func:`~bnlesson.layers.batch_norm`, which autograd
    differentiates correctly in every case.

    Parameters
    ----------
    num_features : int
        Outputs of a Dense layer or channels of a Conv2D layer.
    num_dims : int
        2 for Dense inputs ``(N, C)``, 4 for Conv2D inputs ``(N, C, H, W)``.
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
