r"""Lesson 11: group norm and layer norm, for batches too small to normalize.

The code of ``notebooks/11_group_norm.ipynb``. Batch norm takes a channel's
statistics over the batch; group norm (Wu and He, 2018) takes them over a
group of channels *within one example*, layer norm over all of an
example's channels. :func:`group_norm` and :func:`layer_norm` are the two
functions, as short as lesson 01's ``batch_norm``; :class:`GroupNorm` and
:class:`LayerNorm` wrap them as layers; :func:`gluon_group_norm` runs
Gluon's own (legacy) ``nn.GroupNorm`` for comparison. The paper's Figure 1
experiment is in :mod:`bnlesson.lesson11.runs`.
"""

from __future__ import annotations

import mxnet as mx
from mxnet import autograd, np
from mxnet.gluon import nn

from bnlesson.core.arguments import check_whole

EPS = 1e-5


def check_norm_input(X, gamma, beta, num_groups: int = 1, eps: float = EPS) -> None:
    """Refuse what :func:`group_norm` and :func:`layer_norm` cannot normalize.

    `X` must be 2-D (batch, features) or 4-D (batch, channels, height,
    width) with at least one channel, `num_groups` a whole number that
    divides the channels, `gamma` and `beta` of shape ``(1, C)`` or
    ``(1, C, 1, 1)`` (one value per channel), `eps` a finite number > 0.

    Raises
    ------
    ValueError
        Naming the argument, the value received and what to use instead.
    """
    if X.ndim not in (2, 4):
        raise ValueError(
            f"group_norm and layer_norm accept a 2-D input (batch, features) or "
            f"a 4-D input (batch, channels, height, width), but got a "
            f"{X.ndim}-D input of shape {tuple(X.shape)}. Flatten it to 2-D or "
            f"add the missing axes."
        )
    C = X.shape[1]
    if C == 0:
        raise ValueError(f"the input of shape {tuple(X.shape)} has no channels")
    check_whole("num_groups", num_groups, "num_groups=2")
    if C % num_groups:
        divisors = [g for g in range(1, C + 1) if C % g == 0]
        raise ValueError(
            f"group_norm: {C} channels cannot be split into {num_groups} groups "
            f"of equal size; use a number of groups that divides {C}: "
            f"{divisors}"
        )
    expected = (1, C) if X.ndim == 2 else (1, C, 1, 1)
    for name, value in (("gamma", gamma), ("beta", beta)):
        if tuple(value.shape) != expected:
            raise ValueError(
                f"{name} has shape {tuple(value.shape)}, but an input of shape "
                f"{tuple(X.shape)} needs {expected} (one value per channel); "
                f"reshape it with .reshape{expected}."
            )
    if not (isinstance(eps, (int, float)) and 0 < eps < float("inf")):
        raise ValueError(f"eps must be a finite number > 0, not {eps!r}. Use 1e-5.")


# Shown in lesson 11, "2 · Group norm and layer norm from scratch"
def group_norm(X, gamma, beta, num_groups, eps=1e-5):
    r"""Group normalization (Wu and He, 2018): statistics per example and group.

    The :math:`C` channels of each example are split into `num_groups`
    groups :math:`g` of :math:`C/G` consecutive channels; each group is
    normalized with its own mean and (biased) variance over its channels and
    pixels :math:`S_{n,g}`, then scaled and shifted per channel:

    .. math::

        \mu_{n,g} = \frac{1}{|S_{n,g}|}\sum_{i \in S_{n,g}} x_i, \quad
        \sigma^2_{n,g} = \frac{1}{|S_{n,g}|}\sum_{i \in S_{n,g}}
        (x_i - \mu_{n,g})^2, \quad
        y_i = \gamma_c \frac{x_i - \mu_{n,g}}{\sqrt{\sigma^2_{n,g} + \epsilon}}
        + \beta_c.

    No statistic crosses examples, so there is no training or prediction
    mode and no running statistics. One group is layer norm
    (:func:`layer_norm`), :math:`C` groups instance norm.

    Parameters
    ----------
    X : mxnet.np.ndarray
        ``(N, C)`` or ``(N, C, H, W)``.
    gamma, beta : mxnet.np.ndarray
        ``(1, C)`` or ``(1, C, 1, 1)``: one scale and shift per channel.
    num_groups : int
        Divides :math:`C`.
    eps : float
        Added to the variance.

    Raises
    ------
    ValueError
        From :func:`check_norm_input`.
    """
    check_norm_input(X, gamma, beta, num_groups, eps)
    groups = X.reshape(X.shape[0], num_groups, -1)  # (N, G, C/G * H * W)
    mean = groups.mean(axis=2, keepdims=True)
    centered = groups - mean
    var = (centered * centered).mean(axis=2, keepdims=True)
    X_hat = (centered / np.sqrt(var + eps)).reshape(X.shape)
    return gamma * X_hat + beta


# Shown in lesson 11, "2 · Group norm and layer norm from scratch"
def layer_norm(X, gamma, beta, eps=1e-5):
    r"""Layer normalization: each example normalized over all its channels.

    .. math::

        \mu_n = \frac{1}{|S_n|}\sum_{i \in S_n} x_i, \quad
        \sigma^2_n = \frac{1}{|S_n|}\sum_{i \in S_n} (x_i - \mu_n)^2, \quad
        y_i = \gamma_c \frac{x_i - \mu_n}{\sqrt{\sigma^2_n + \epsilon}} + \beta_c,

    with :math:`S_n` all channels (and pixels) of example :math:`n`: group
    norm with one group. `X`, `gamma`, `beta`, `eps` as in :func:`group_norm`.
    """
    check_norm_input(X, gamma, beta, 1, eps)
    axes = tuple(range(1, X.ndim))  # everything but the batch axis
    mean = X.mean(axis=axes, keepdims=True)
    centered = X - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    return gamma * centered / np.sqrt(var + eps) + beta


# Shown in lesson 11, "2 · Group norm and layer norm from scratch"
def gluon_group_norm(X, num_groups, gamma, beta, head, eps=1e-5):
    """Gluon's ``nn.GroupNorm`` on `X`: its output and gradients.

    ``nn.GroupNorm`` is a legacy operator: it runs on ``mx.nd`` arrays with
    NumPy mode off, so `X` goes in as one and the results come back as
    ``mxnet.np`` arrays. Its `gamma` and `beta` hold one value per *group*.
    The gradients are those of ``(head * Y).sum()``.

    Returns
    -------
    Y, dX, dgamma, dbeta : mxnet.np.ndarray
    """
    with mx.util.np_array(False), mx.util.np_shape(False):
        layer = nn.GroupNorm(num_groups=num_groups, epsilon=eps)
        layer.initialize(ctx=X.ctx)
        layer.gamma.set_data(gamma.as_nd_ndarray())
        layer.beta.set_data(beta.as_nd_ndarray())
        x = X.as_nd_ndarray()
        x.attach_grad()
        with autograd.record():
            Y = layer(x)
        Y.backward(head.as_nd_ndarray())
        results = [Y, x.grad, layer.gamma.grad(), layer.beta.grad()]
    return [a.as_np_ndarray() for a in results]


def check_layer_sizes(num_features, num_dims) -> None:
    """Refuse sizes a :class:`GroupNorm` or :class:`LayerNorm` cannot be built for."""
    if not isinstance(num_features, int) or num_features < 1:
        raise ValueError(f"num_features must be an int >= 1, not {num_features!r}")
    if num_dims not in (2, 4):
        raise ValueError(f"num_dims must be 2 (Dense) or 4 (Conv2D), not {num_dims!r}")


# Shown in lesson 11, "2 · Group norm and layer norm from scratch"
class GroupNorm(nn.Block):
    """A group-norm layer: :func:`group_norm` with learned gamma and beta.

    gamma (ones) and beta (zeros) have one value per channel, shape
    ``(1, C)`` after a Dense layer (`num_dims` 2) or ``(1, C, 1, 1)`` after
    a Conv2D layer (`num_dims` 4). Nothing else: no running statistics.
    """

    def __init__(self, num_features, num_dims, num_groups):
        check_layer_sizes(num_features, num_dims)
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.num_groups = num_groups
        self.gamma = self.params.get("gamma", shape=shape, init=mx.init.One())
        self.beta = self.params.get("beta", shape=shape, init=mx.init.Zero())

    def forward(self, X):
        gamma, beta = self.gamma.data(X.ctx), self.beta.data(X.ctx)
        return group_norm(X, gamma, beta, self.num_groups)


# Shown in lesson 11, "2 · Group norm and layer norm from scratch"
class LayerNorm(GroupNorm):
    """A layer-norm layer: :func:`layer_norm` with learned gamma and beta."""

    def __init__(self, num_features, num_dims):
        super().__init__(num_features, num_dims, num_groups=1)

    def forward(self, X):
        return layer_norm(X, self.gamma.data(X.ctx), self.beta.data(X.ctx))
