r"""Which part of the batch-norm network's wobble the moving statistics cause.

Between two recordings of lesson 07, the test accuracy and the percentiles
of a sigmoid input change for two reasons: SGD changed the weights (a
noisy step at every mini-batch), and, with batch norm, prediction mode
normalizes with the *moving* statistics, an exponential average whose
weights fall by a factor 0.9 per batch (the last 10 batches carry 65% of
the weight, the last 22 batches 90%). :func:`frozen_weights` separates the
two: it keeps the trained weights fixed and lets only the moving statistics
move, then replaces them by the paper's population statistics (its Algorithm 2,
computed by lesson 05's :func:`bnlesson.lesson05.stale.precise_running_stats`),
which do not move at all.
"""

from __future__ import annotations

import itertools
from typing import Iterable

import numpy as onp
from mxnet.gluon import nn

from bnlesson.core.arguments import check_whole
from bnlesson.lesson05 import refresh_running_stats, running_stats_kept
from bnlesson.lesson05.stale import precise_running_stats
from bnlesson.lesson07.network import sigmoid_input
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.recording import column_percentiles


def _batch_norm_layers(net) -> list[nn.BatchNorm]:
    """`net`'s Gluon batch-norm layers, or a ValueError if it has none."""
    layers = [block for block in net if isinstance(block, nn.BatchNorm)]
    if not layers:
        raise ValueError(
            "net has no nn.BatchNorm layer: build it with mlp('gluon') "
            "(the scratch layer keeps its statistics in plain arrays)"
        )
    return layers


def frozen_weights(net, train_iter: Iterable, test_iter: Iterable, probe, *,
                   snapshots: int = 20, apart: int = 25,
                   population_batches: int = 200) -> dict:  # fmt: skip
    r"""Test accuracy and sigmoid-input percentiles with the weights held fixed.

    With `net`'s trained weights frozen, the moving statistics are moved on
    `apart` training batches at a time (forward and backward in training
    mode, no optimizer step: :func:`bnlesson.lesson05.refresh_running_stats`),
    `snapshots` times; after each move the test accuracy on `test_iter` and
    the 15th, 50th and 85th percentiles of every last-layer sigmoid input
    over `probe` are measured in prediction mode, as lesson 07's recordings
    are. With 25 batches apart, a snapshot keeps :math:`0.9^{25} = 7\%` of
    the weight of the one before. Their spread is the part of the wobble the
    moving statistics cause, since the weights do not change. Last, the
    same measures with population statistics
    (:func:`bnlesson.lesson05.stale.precise_running_stats` over
    `population_batches` batches), which do not wobble. The network's
    moving statistics are put back at the end.

    Parameters
    ----------
    net : mxnet.gluon.nn.Sequential
        A trained :func:`.network.mlp` with ``norm="gluon"``.
    train_iter : iterable of (X, y)
        Training mini-batches, iterable again and again.
    test_iter : iterable of (X, y)
        Held-out batches for the accuracy.
    probe : mxnet.np.ndarray
        The inputs of the percentiles.
    snapshots, apart, population_batches : int
        At least 1 each.

    Returns
    -------
    dict
        ``"test_acc"`` (snapshots,), ``"percentiles"`` (snapshots, units, 3),
        ``"population test_acc"`` (a float) and ``"population percentiles"``
        (units, 3).
    """
    for name, value in [("snapshots", snapshots), ("apart", apart)]:
        check_whole(name, value, f"{name}=20")
    _batch_norm_layers(net)
    batches = itertools.chain.from_iterable(itertools.repeat(train_iter))

    def measure():
        Z = sigmoid_input(net, probe).asnumpy()
        return evaluate_accuracy(net, test_iter), column_percentiles(Z)

    with running_stats_kept(net):
        accuracies, percentiles = [], []
        for _ in range(snapshots):
            refresh_running_stats(net, batches, num_batches=apart)
            acc, p = measure()
            accuracies.append(acc)
            percentiles.append(p)
        precise_running_stats(net, batches, population_batches)
        population_acc, population_p = measure()
    return {
        "test_acc": onp.array(accuracies),
        "percentiles": onp.stack(percentiles),
        "population test_acc": population_acc,
        "population percentiles": population_p,
    }
