"""Lesson 01: batch normalization from scratch, the function.

The readable formula of the 2019 MXNet lecture, written for the ``mxnet.np``
interface, with the lecture's conventions: ``momentum=0.9`` weights the *old*
moving value, as Gluon's ``nn.BatchNorm`` does; the batch variance is biased;
the moving variance starts at one.

:func:`stat_shape`, :func:`check_stats`, :func:`check_batch` and
:func:`batch_norm` are cells of ``notebooks/01_batch_norm_function.ipynb``;
``tests/lessons/test_lesson01.py`` checks that the two copies agree. They
refuse what they cannot normalize with a message that says what to do: a
wrong rank, statistic shape or dtype, an input without features, an `eps`
<= 0, a `momentum` outside [0, 1], one value per feature in training mode.
"""

from __future__ import annotations

import numpy as onp
from mxnet import autograd, np

EPS = 1e-5
MOMENTUM = 0.9


# Shown in lesson 01, "Guarding the input"
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


# Shown in lesson 01, "Guarding the input"
def check_stats(X, eps, momentum, **stats) -> None:
    """Refuse statistics, `eps` or `momentum` that :func:`batch_norm` cannot use.

    Each of `stats` (``gamma=...``, ...) needs the shape :func:`stat_shape`
    gives and a float dtype: MXNet keeps an integer dtype through
    ``0.9 * moving_var``, truncating the moving averages (``0.9 * 1`` is 0).
    `X` needs at least one feature or channel (an empty one would leave
    MXNet's engine failing on the next, unrelated operation), `eps` must be
    a finite number > 0 (a constant feature has variance 0, and 0 / 0 is
    NaN) and `momentum` a number in [0, 1] (a weight; outside it the moving
    mean extrapolates).

    Raises
    ------
    ValueError
        Naming the argument, the value received and what to use instead.
    """
    expected = stat_shape(X)
    unit = "feature" if X.ndim == 2 else "channel"
    if X.shape[1] == 0:  # MXNet would fail on the next, unrelated operation
        raise ValueError(
            f"batch_norm: the input of shape {tuple(X.shape)} has no {unit}s "
            f"(axis 1 is empty); check the layer or slice that made it."
        )
    for name, value in stats.items():
        if tuple(value.shape) != expected:
            raise ValueError(
                f"batch_norm: {name} has shape {tuple(value.shape)}, but a "
                f"{X.ndim}-D input of shape {tuple(X.shape)} needs {expected} "
                f"(one value per {unit}); reshape it with .reshape{expected}."
            )
        if onp.dtype(value.dtype).kind != "f":  # MXNet: 0.9 * int32 is int32
            raise ValueError(
                f"batch_norm: {name} has dtype {value.dtype}, but the "
                f"statistics must be floats: MXNet keeps an integer array "
                f"integer in arithmetic with a Python float (0.9 * 1 gives 0, "
                f"var + 1e-5 drops the 1e-5); convert it with "
                f".astype('float32')."
            )
    number = (int, float, onp.floating)
    if not (isinstance(eps, number) and 0 < eps < float("inf")):
        raise ValueError(
            f"batch_norm: eps must be a finite number > 0, not {eps!r}: it keeps "
            f"(x - mean) / sqrt(var + eps) finite for a constant {unit} "
            f"(var 0). Use 1e-5."
        )
    if not (isinstance(momentum, number) and 0 <= momentum <= 1):
        raise ValueError(
            f"batch_norm: momentum must be a number in [0, 1], the weight of "
            f"the old moving value, not {momentum!r}. Use 0.9."
        )


# Shown in lesson 01, "Guarding the input"
def check_batch(X) -> None:
    r"""Refuse a training batch with fewer than two values per feature or channel.

    Training mode normalizes with the batch variance, taken over the
    :math:`m` values of each feature (:math:`m = N` for a 2-D input) or
    channel (:math:`m = NHW` for a 4-D input). With :math:`m = 1` every value
    equals its mean, :math:`\hat x = 0`: the output is ``beta`` whatever the
    input, ``gamma`` gets no gradient and the moving variance shrinks towards
    0. PyTorch refuses this case too.

    Raises
    ------
    ValueError
        If :math:`m < 2`, saying what to do instead.
    """
    m = X.shape[0] if X.ndim == 2 else X.shape[0] * X.shape[2] * X.shape[3]
    if m < 2:
        unit = "feature" if X.ndim == 2 else "channel"
        why = ""
        if m == 1:
            why = (
                ": one value has no variance, so the output would be beta for "
                "any input and gamma would learn nothing"
            )
        raise ValueError(
            f"batch norm in training mode needs at least 2 values per {unit} to "
            f"compute a variance, but the input of shape {tuple(X.shape)} has "
            f"{m}{why}. Train with batches of at least 2 examples (drop a last "
            f"batch of one), or normalize with the moving statistics: call it "
            f"outside autograd.record(), or inside autograd.predict_mode()."
        )


# Shown in lesson 01, "The function"
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
    gamma, beta, moving_mean, moving_var : mxnet.np.ndarray
        Scale, shift and moving statistics, shape ``(1, C)`` or ``(1, C, 1, 1)``.
    eps, momentum : float
        Added to the variance for stability, and the weight of the *old*
        moving value (the lecture and Gluon use 1e-5 and 0.9).

    Returns
    -------
    Y : mxnet.np.ndarray
        The normalized, scaled and shifted input, shape of `X`.
    moving_mean, moving_var : mxnet.np.ndarray
        The updated (training) or unchanged (prediction) moving statistics.

    Raises
    ------
    ValueError
        If `X` is neither 2-D nor 4-D or has no feature or channel, a
        statistic has the wrong shape or an integer dtype, `eps` is not a
        number > 0, `momentum` not a number in [0, 1] (:func:`check_stats`),
        or (in training) there are fewer than two values per feature or
        channel (:func:`check_batch`).
    """
    check_stats(
        X, eps, momentum,
        gamma=gamma, beta=beta, moving_mean=moving_mean, moving_var=moving_var,
    )  # fmt: skip
    if not autograd.is_training():
        X_hat = (X - moving_mean) / np.sqrt(moving_var + eps)
    else:
        # One mean and variance per feature (2-D) or per channel (4-D): a
        # channel's statistics pool over the batch and every pixel position.
        check_batch(X)  # a variance needs at least two values
        axes = (0,) if X.ndim == 2 else (0, 2, 3)
        mean = X.mean(axis=axes, keepdims=True)
        var = ((X - mean) ** 2).mean(axis=axes, keepdims=True)
        X_hat = (X - mean) / np.sqrt(var + eps)
        moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
        moving_var = momentum * moving_var + (1.0 - momentum) * var
    Y = gamma * X_hat + beta
    return Y, moving_mean, moving_var
