r"""Stale running statistics (lesson 05): the paper's exact average, and repeats.

Gluon's moving statistics are an exponential average of batch statistics
taken while the weights changed; :func:`bnlesson.lesson05.refresh_running_stats`
recomputes them for the final weights with the same exponential average.
:func:`precise_running_stats` computes instead what the paper prescribes for
inference (Ioffe & Szegedy 2015, Algorithm 2, step 10): the plain average,
over training mini-batches, of each batch's mean and unbiased variance, with
the final weights ("precise batch norm" in Wu & Johnson 2021).
:func:`stale_and_refreshed` trains one network and measures all of these,
one run of :func:`bnlesson.lesson05.over_seeds`.
"""

from __future__ import annotations

import itertools
import numbers
from typing import Iterable

import numpy as onp
from mxnet import autograd, np
from mxnet.gluon import nn

from bnlesson.lesson03 import batchnorm_layers, lenet, train
from bnlesson.lesson05 import accuracy_in_training_mode, refresh_running_stats
from bnlesson.training.metrics import evaluate_accuracy, parameter_device

__all__ = ["precise_running_stats", "stale_and_refreshed"]


# Shown in lesson 05, "The paper's way: an exact average"
def precise_running_stats(net, data_iter: Iterable, num_batches: int | None = None):
    r"""Set the running statistics of `net`'s batch-norm layers to exact averages.

    For each ``nn.BatchNorm`` layer, over the batches :math:`B` of `data_iter`
    run through the network in training mode with its final weights (each
    layer sees the input it saw in training, normalized by batch statistics
    upstream),

    .. math::

        \mathrm{E}[x] = \operatorname{avg}_B \mu_B, \qquad
        \mathrm{Var}[x] = \operatorname{avg}_B \frac{m}{m - 1}\,\sigma_B^2,

    per channel, where :math:`\mu_B` and :math:`\sigma_B^2` are the batch's
    mean and biased variance over :math:`m` values (the batch size after a
    dense layer, batch size x height x width after a convolution). Every
    batch weighs the same: this is the paper's Algorithm 2, step 10, not the
    exponential average of training or of
    :func:`bnlesson.lesson05.refresh_running_stats`. The statistics are
    accumulated in float64; no weight changes and no gradient is computed.

    Parameters
    ----------
    net : mxnet.gluon.nn.HybridSequential or Sequential
        An initialized sequential network whose ``nn.BatchNorm`` layers are
        its own children (lesson 03's ``lenet("gluon")``).
    data_iter : iterable of (X, y)
        Training batches; the labels are not used.
    num_batches : int, optional
        Use only the first `num_batches` batches (default: all, one pass).

    Raises
    ------
    ValueError
        If `num_batches` is not None or a whole number of at least 1, if
        `data_iter` holds no batch, or if `net` has batch-norm layers that
        are not its own children (then nothing is changed).
    """
    _check_sequential(net)
    data_iter = _check_batches(data_iter, num_batches)
    device = parameter_device(net)
    sums, used = {}, 0  # per batch-norm layer: summed means and variances
    with autograd.train_mode():  # each layer gets the input it got in training
        for X, _ in itertools.islice(data_iter, num_batches):
            X = X.as_in_ctx(device)
            for i, layer in enumerate(net):
                if isinstance(layer, nn.BatchNorm):
                    Z = X.asnumpy().astype(onp.float64)
                    axes = (0, *range(2, Z.ndim))  # every axis but the channels
                    m = Z.size // Z.shape[1]  # values behind one statistic
                    mean, var = sums.get(i, (0.0, 0.0))
                    sums[i] = (mean + Z.mean(axis=axes),
                               var + Z.var(axis=axes) * m / (m - 1))  # fmt: skip
                X = layer(X)
            used += 1
    for i, (mean, var) in sums.items():
        net[i].running_mean.set_data(np.array(mean / used, ctx=device))
        net[i].running_var.set_data(np.array(var / used, ctx=device))


def _check_sequential(net) -> None:
    """Refuse a network whose batch-norm layers the walk over its children misses."""
    children = list(net._children.values())  # what `for layer in net` walks
    gluon_layers = [bn for bn in batchnorm_layers(net) if isinstance(bn, nn.BatchNorm)]
    if not all(any(bn is child for child in children) for bn in gluon_layers):
        raise ValueError(
            "precise_running_stats walks the layers of a sequential network one "
            "by one, but some nn.BatchNorm layers of net sit inside other blocks. "
            "Pass a flat nn.HybridSequential or nn.Sequential, e.g. "
            'lenet("gluon").'
        )


def _check_batches(data_iter: Iterable, num_batches) -> Iterable:
    """`data_iter`'s batches, the first one already drawn; refuse no batches."""
    count = isinstance(num_batches, numbers.Integral) and not isinstance(
        num_batches, bool
    )
    if num_batches is not None and (not count or num_batches < 1):
        raise ValueError(
            f"num_batches must be None (every batch) or a whole number of at "
            f"least 1, not {num_batches!r}"
        )
    batches = iter(data_iter)
    first = next(batches, None)
    if first is None:
        raise ValueError(
            "precise_running_stats: data_iter holds no batches, so the running "
            "statistics were left as they were. Pass the training batches "
            "(X, y), e.g. train_iter (an iterator already used up?)"
        )
    return itertools.chain([first], batches)


# Shown in lesson 05, "One run, or every run?"
def stale_and_refreshed(train_iter, test_iter, num_epochs, lr, device=None) -> dict:
    """Train lesson 03's LeNet with Gluon batch norm; measure its four test accuracies.

    A fresh ``lenet("gluon")`` is trained with :func:`bnlesson.lesson03.train`
    (no log), then measured on `test_iter`: in prediction mode with the
    running statistics from training (the last epoch's test accuracy), in
    training mode at batch size 256
    (:func:`bnlesson.lesson05.accuracy_in_training_mode`), in prediction mode
    after :func:`bnlesson.lesson05.refresh_running_stats` (an exponential
    average over 50 batches of `train_iter`), and in prediction mode after
    :func:`precise_running_stats` (the exact average over one pass of
    `train_iter`). One run of :func:`bnlesson.lesson05.over_seeds`.

    Parameters
    ----------
    train_iter, test_iter : bnlesson.data.Batches
        Training and test batches; `test_iter` needs the arrays ``X`` and ``y``.
    num_epochs : int
    lr : float
    device : mxnet.Context, optional
        Where to train (default :func:`bnlesson.core.config.default_device`).

    Returns
    -------
    dict
        The four accuracies, named as in lesson 05's table.
    """
    net = lenet("gluon")
    net.hybridize()
    history = train(
        net, train_iter, test_iter, num_epochs, lr, device, verbose=False, plot=False
    )
    training_mode = accuracy_in_training_mode(net, test_iter.X, test_iter.y, 256)
    refresh_running_stats(net, train_iter, num_batches=50)
    refreshed = evaluate_accuracy(net, test_iter)
    precise_running_stats(net, train_iter)
    return {
        "prediction mode, from training": history.test_acc[-1],
        "training mode, batch 256": training_mode,
        "prediction mode, refreshed": refreshed,
        "prediction mode, precise": evaluate_accuracy(net, test_iter),
    }
