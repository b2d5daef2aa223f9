r"""How noisy batch norm's batch statistics are, per batch size (used by lesson 06).

:func:`batch_statistics` feeds a data set through a trained sequential
network up to one of its batch-norm layers, and compares the mean and
variance of random batches of what that layer normalizes with those of the
whole data set, for each batch size.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as onp
import pandas as pd
from mxnet import autograd, np

from bnlesson.core.arguments import is_whole
from bnlesson.training.metrics import parameter_device


def _layer_inputs(net, layer, X):
    """The input that `layer` (a child of the sequential `net`) receives for X."""
    children = list(net._children.values())
    if not any(child is layer for child in children):
        raise ValueError(
            "layer must be one of net's own layers (a child of the sequential "
            "net, e.g. batchnorm_layers(net)[0])"
        )
    for child in children:
        if child is layer:
            return X
        X = child(X)
    raise AssertionError("unreachable")  # pragma: no cover


def _per_example_moments(net, layer, X, batch_size: int = 500) -> tuple:
    """Each example's per-channel mean of x and of x*x, as NumPy (n, C) arrays.

    Also the number of values each example gives a channel: height x width
    after a convolution, 1 after a dense layer.
    """
    means, squares, values = [], [], 1
    device = parameter_device(net)
    with autograd.pause(train_mode=False):
        for start in range(0, len(X), batch_size):
            batch = np.array(X[start : start + batch_size], ctx=device)
            Z = _layer_inputs(net, layer, batch)
            axes = tuple(range(2, Z.ndim))  # spatial axes of a conv output
            values = math.prod(Z.shape[2:])
            Z = Z.asnumpy().astype(onp.float64)
            means.append(Z.mean(axis=axes) if axes else Z)
            squares.append((Z * Z).mean(axis=axes) if axes else Z * Z)
    return onp.concatenate(means), onp.concatenate(squares), values


def batch_statistics(
    net, layer, X, batch_sizes: Sequence[int], num_batches: int = 200, seed: int = 0
) -> pd.DataFrame:
    r"""Measure how noisy batch norm's batch statistics are, per batch size.

    Feeds all of `X` through `net` (prediction mode) up to `layer`, a
    batch-norm layer of a sequential `net`, and takes the values it
    normalizes: per channel (or unit) :math:`c`, the data set's mean
    :math:`\mu_c` and variance :math:`\sigma_c^2`. Then for each batch size
    :math:`b` it draws `num_batches` random batches (without replacement)
    and computes what the layer would use in training mode, the batch mean
    :math:`\mu_{B,c}` and biased variance :math:`\sigma_{B,c}^2` (over the
    batch, and over height and width after a convolution), and reports

    .. math::

        \text{mean\_error} = \sqrt{\operatorname{avg}_{B,c}
            \big((\mu_{B,c} - \mu_c) / \sigma_c\big)^2}, \qquad
        \text{var\_ratio} = \operatorname{avg}_{B,c}\,
            \sigma_{B,c}^2 / \sigma_c^2,

    and ``var_ratio_spread``, the standard deviation of that ratio. For
    independent values, ``mean_error`` is :math:`1/\sqrt{b\,v}`, where
    :math:`v` is the number of values one example gives a channel
    (:math:`v = H W` after a convolution, 1 after a dense layer), and
    ``var_ratio`` is :math:`(b - 1)/b` for a dense layer (the biased
    variance's shortfall).

    Parameters
    ----------
    net : mxnet.gluon.nn.HybridSequential or Sequential
        An initialized (usually trained) sequential network.
    layer : mxnet.gluon.Block
        One of `net`'s own layers, e.g. ``batchnorm_layers(net)[2]``.
    X : numpy.ndarray
        Inputs, e.g. images of shape (n, 1, 28, 28); n at least the largest
        batch size.
    batch_sizes : sequence of int
        The batch sizes to measure, each at least 2.
    num_batches : int
        Batches drawn per batch size.
    seed : int
        Seed of the batch draws.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``batch_size``; columns ``mean_error``, ``var_ratio``,
        ``var_ratio_spread``, ``values_per_example`` (:math:`v`) and
        ``mean_error_iid`` (:math:`1/\sqrt{b\,v}`, the error if all
        :math:`b\,v` values were independent).

    Raises
    ------
    ValueError
        If a batch size is not a whole number (``256.0`` too) from 2 to
        ``len(X)``.
    """
    X = onp.asarray(X)
    # A float such as 256.0 would fail in the draws, with a raw TypeError.
    if any(not is_whole(b) or b < 2 or b > len(X) for b in batch_sizes):
        raise ValueError(
            f"batch sizes must be whole numbers between 2 and len(X) = {len(X)}, "
            f"not {list(batch_sizes)}"
        )
    means, squares, values = _per_example_moments(net, layer, X)
    means, squares, mu, var = _varying(means, squares)
    rng = onp.random.default_rng(seed)
    rows = [_noise(b, means, squares, mu, var, rng, num_batches) for b in batch_sizes]
    table = pd.DataFrame(rows).set_index("batch_size")
    table["values_per_example"] = values
    table["mean_error_iid"] = 1 / onp.sqrt(table.index.to_numpy() * values)
    return table


def _varying(means: onp.ndarray, squares: onp.ndarray) -> tuple:
    """The per-example moments of the channels that vary, and their mean and var."""
    mu = means.mean(axis=0)
    var = squares.mean(axis=0) - mu * mu
    # A channel that never varies (e.g. a dead ReLU unit) has no noise to
    # measure and would divide by zero.
    live = var > 1e-12 * max(1.0, float(onp.abs(mu).max()))
    if not live.any():
        raise ValueError("every channel of the layer's input is constant")
    return means[:, live], squares[:, live], mu[live], var[live]


def _noise(b: int, means, squares, mu, var, rng, num_batches: int) -> dict:
    """One row of :func:`batch_statistics`: `num_batches` random batches of `b`."""
    draws = [rng.choice(len(means), b, replace=False) for _ in range(num_batches)]
    idx = onp.stack(draws)
    batch_mu = means[idx].mean(axis=1)  # (num_batches, C)
    batch_var = squares[idx].mean(axis=1) - batch_mu * batch_mu
    ratio = batch_var / var
    return {
        "batch_size": b,
        "mean_error": float(onp.sqrt((((batch_mu - mu) ** 2) / var).mean())),
        "var_ratio": float(ratio.mean()),
        "var_ratio_spread": float(ratio.std()),
    }
