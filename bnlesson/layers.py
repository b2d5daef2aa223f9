"""Batch normalization from scratch: the function (lesson 01) and the Block (02).

Both follow the 2019 MXNet lecture, written for the ``mxnet.np`` interface:
the readable formula, with the lecture's conventions (``momentum=0.9``
weights the *old* moving value, as Gluon's ``nn.BatchNorm`` does; biased
batch variance; the moving variance starts at one).
"""

from __future__ import annotations

from mxnet import autograd, init, np
from mxnet.gluon import nn

EPS = 1e-5
MOMENTUM = 0.9


def stat_shape(X) -> tuple:
    """Return the shape of gamma, beta and the moving statistics for input `X`.

    ``(1, C)`` for a 2-D (batch, features) input and ``(1, C, 1, 1)`` for a
    4-D (batch, channels, height, width) input; anything else is refused.
    """
    if X.ndim == 2:
        return (1, X.shape[1])
    if X.ndim == 4:
        return (1, X.shape[1], 1, 1)
    raise ValueError(
        f"batch_norm accepts a 2-D input (batch, features) or a 4-D input "
        f"(batch, channels, height, width), but got a {X.ndim}-D input of shape "
        f"{tuple(X.shape)}. Flatten it to 2-D or add the missing axes."
    )


def check_stats(X, **stats) -> None:
    expected = stat_shape(X)
    for name, value in stats.items():
        if tuple(value.shape) != expected:
            raise ValueError(
                f"batch_norm: {name} has shape {tuple(value.shape)}, but a "
                f"{X.ndim}-D input of shape {tuple(X.shape)} needs {expected} "
                f"(one value per {'feature' if X.ndim == 2 else 'channel'}); "
                f"reshape it with .reshape{expected}."
            )


def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    r"""Normalize `X` with batch statistics (training) or moving ones (prediction).

    In training mode (``autograd.is_training()``, i.e. inside
    ``autograd.record()``) the statistics are those of the batch, per feature
    (2-D input, axis 0) or per channel (4-D input, axes 0, 2 and 3):

    .. math::

        \mu_B = \frac{1}{m}\sum_i x_i, \qquad
        \sigma_B^2 = \frac{1}{m}\sum_i (x_i - \mu_B)^2, \qquad
        y_i = \gamma \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta,

    and the moving statistics become
    :math:`\hat\mu \leftarrow \lambda\hat\mu + (1-\lambda)\mu_B` and
    :math:`\hat\sigma^2 \leftarrow \lambda\hat\sigma^2 + (1-\lambda)\sigma_B^2`
    with :math:`\lambda` = `momentum`. In prediction mode
    :math:`\hat\mu, \hat\sigma^2` replace :math:`\mu_B, \sigma_B^2` and are
    returned unchanged.

    Parameters
    ----------
    X : mxnet.np.ndarray
        Input of shape ``(N, C)`` or ``(N, C, H, W)``.
    gamma, beta : mxnet.np.ndarray
        Scale and shift, shape ``(1, C)`` or ``(1, C, 1, 1)``.
    moving_mean, moving_var : mxnet.np.ndarray
        Moving statistics, same shape as `gamma`.
    eps : float
        Added to the variance for numerical stability (Gluon uses 1e-5).
    momentum : float
        Weight of the *old* moving value (the lecture and Gluon use 0.9).

    Returns
    -------
    Y : mxnet.np.ndarray
        The normalized, scaled and shifted input, shape of `X`.
    moving_mean, moving_var : mxnet.np.ndarray
        The updated (training) or unchanged (prediction) moving statistics.

    Raises
    ------
    ValueError
        If `X` is neither 2-D nor 4-D, or a statistic has the wrong shape.
    """
    check_stats(
        X, gamma=gamma, beta=beta, moving_mean=moving_mean, moving_var=moving_var
    )
    if not autograd.is_training():
        X_hat = (X - moving_mean) / np.sqrt(moving_var + eps)
    else:
        # One mean and variance per feature (2-D) or per channel (4-D): a
        # channel's statistics pool over the batch and every pixel position.
        axes = (0,) if X.ndim == 2 else (0, 2, 3)
        mean = X.mean(axis=axes, keepdims=True)
        var = ((X - mean) ** 2).mean(axis=axes, keepdims=True)
        X_hat = (X - mean) / np.sqrt(var + eps)
        moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
        moving_var = momentum * moving_var + (1.0 - momentum) * var
    Y = gamma * X_hat + beta
    return Y, moving_mean, moving_var


class BatchNorm(nn.Block):
    r"""Batch normalization layer built on :func:`batch_norm`.

    ``gamma`` (ones) and ``beta`` (zeros) are learnable Parameters that a
    ``Trainer`` updates; ``moving_mean`` (zeros) and ``moving_var`` (ones)
    are plain arrays, outside ``collect_params()``, updated by every
    training-mode forward pass with ``momentum=0.9`` and ``eps=1e-5``.

    Parameters
    ----------
    num_features : int
        Outputs of a Dense layer or channels of a Conv2D layer.
    num_dims : int
        2 for Dense inputs ``(N, C)``, 4 for Conv2D inputs ``(N, C, H, W)``.
    """

    def __init__(self, num_features: int, num_dims: int, **kwargs):
        super().__init__(**kwargs)
        if num_dims not in (2, 4):
            raise ValueError(
                f"num_dims must be 2 (after a Dense layer) or 4 (after a Conv2D "
                f"layer), not {num_dims}"
            )
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = self.params.get("gamma", shape=shape, init=init.One())
        self.beta = self.params.get("beta", shape=shape, init=init.Zero())
        # Created on the CPU; forward() moves them to the input's device.
        self.moving_mean = np.zeros(shape)
        self.moving_var = np.ones(shape)

    def forward(self, X):
        if self.moving_mean.ctx != X.ctx:
            self.moving_mean = self.moving_mean.copyto(X.ctx)
            self.moving_var = self.moving_var.copyto(X.ctx)
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma.data(X.ctx), self.beta.data(X.ctx),
            self.moving_mean, self.moving_var, eps=EPS, momentum=MOMENTUM,
        )  # fmt: skip
        return Y
