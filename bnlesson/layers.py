"""Batch normalization from scratch: the function (lesson 01) and the Block (02).

Both follow the 2019 MXNet lecture, written for the ``mxnet.np`` interface:
the readable formula, with the lecture's conventions (``momentum=0.9``
weights the *old* moving value, as Gluon's ``nn.BatchNorm`` does; biased
batch variance; the moving variance starts at one).

They are the code of the lessons: :func:`stat_shape`, :func:`check_stats`,
:func:`check_batch` and :func:`batch_norm` are cells of
``notebooks/01_batch_norm_function.ipynb``, :class:`BatchNorm` (with
:func:`check_input`, which the lesson imports from here) is the Block of
``notebooks/02_batchnorm_block.ipynb``; ``tests/test_lesson01.py`` and
``tests/test_lesson02.py`` check that the two copies agree. Both refuse what
they cannot normalize with a message that says what to do: a wrong rank or
statistic shape, one value per feature in training mode, an input the Block
was not built for.
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
        If `X` is neither 2-D nor 4-D, a statistic has the wrong shape, or (in
        training) fewer than two values per feature or channel (:func:`check_batch`).
    """
    check_stats(
        X, gamma=gamma, beta=beta, moving_mean=moving_mean, moving_var=moving_var
    )
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


def check_input(X, shape: tuple) -> None:
    """Refuse an input that a layer with statistics of `shape` was not built for.

    A :class:`BatchNorm` built with ``num_features=C`` takes ``(N, C)``
    inputs (``num_dims=2``) or ``(N, C, H, W)`` inputs (``num_dims=4``); its
    ``gamma`` has shape `shape`, ``(1, C)`` or ``(1, C, 1, 1)``. The error
    names the expected and the actual input shape and the likely fix (another
    ``num_features`` or ``num_dims``, a channels-last input to transpose).
    """
    num_features, num_dims = shape[1], len(shape)
    if X.ndim == num_dims and X.shape[1] == num_features:
        return
    expected = "(batch, {})" if num_dims == 2 else "(batch, {}, height, width)"
    raise ValueError(
        f"this batch-norm layer (num_features={num_features}, num_dims={num_dims}) "
        f"expects an input of shape {expected.format(num_features)}, but got one "
        f"of shape {tuple(X.shape)}: {_input_hint(X, num_features, num_dims)}."
    )


def _input_hint(X, num_features: int, num_dims: int) -> str:
    if X.ndim not in (2, 4):
        return (
            "batch norm takes a 2-D (after a Dense layer) or a 4-D (after a "
            "Conv2D layer) input: flatten or reshape it"
        )
    if X.ndim != num_dims:
        return (
            f"for this {X.ndim}-D input build the layer with "
            f"num_features={X.shape[1]}, num_dims={X.ndim}"
        )
    if X.ndim == 4 and X.shape[3] == num_features:
        return (
            "it looks channels-last (NHWC), but MXNet puts the channels on "
            "axis 1: transpose it with X.transpose(0, 3, 1, 2)"
        )
    unit = "features" if X.ndim == 2 else "channels"
    return (
        f"the layer before it gives {X.shape[1]} {unit}: build this one with "
        f"num_features={X.shape[1]}"
    )


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

    def reset_running_stats(self) -> None:
        """Start the moving statistics afresh (zeros and ones), on their device.

        ``initialize(force_reinit=True)`` resets Parameters only, and the
        moving statistics are plain arrays: :func:`bnlesson.train.train`
        calls this so that a second training run starts like the first
        (Gluon's ``nn.BatchNorm`` keeps them in Parameters, reset alike).
        """
        self.moving_mean = np.zeros(self.gamma.shape, ctx=self.moving_mean.ctx)
        self.moving_var = np.ones(self.gamma.shape, ctx=self.moving_var.ctx)

    def forward(self, X):
        check_input(X, self.gamma.shape)
        if self.moving_mean.ctx != X.ctx:
            self.moving_mean = self.moving_mean.copyto(X.ctx)
            self.moving_var = self.moving_var.copyto(X.ctx)
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma.data(X.ctx), self.beta.data(X.ctx),
            self.moving_mean, self.moving_var, eps=EPS, momentum=MOMENTUM,
        )  # fmt: skip
        return Y
