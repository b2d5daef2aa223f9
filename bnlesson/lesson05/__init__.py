r"""Running statistics (lesson 05): modes, update conventions, refreshing.

The code of ``notebooks/05_running_statistics.ipynb``; a comment above each
definition the notebook shows names its section. :func:`accuracy_in_training_mode`
classifies in training mode (the "forgot to switch modes" bug),
:func:`torch_update` and :func:`d2l_update` are PyTorch's and the d2l book's
running-statistics rules, :func:`refresh_running_stats` recomputes the
running statistics of a trained network for its final weights (an
exponential average, as in training), :func:`batch_statistics` (used by
lesson 06, in :mod:`bnlesson.lesson05.batchnoise` and importable from
here) measures how far the statistics of one batch stray from those of the
whole data set, per batch size, and :func:`over_seeds` repeats a run over
seeds. The paper's exact average of the statistics, and the experiment
that compares it with the exponential one over seeds, are in
:mod:`bnlesson.lesson05.stale`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sized
from contextlib import contextmanager
from typing import Iterable, Sequence

import pandas as pd
from mxnet import autograd, np
from mxnet.gluon.parameter import DeferredInitializationError

from bnlesson.core.config import set_seed
from bnlesson.lesson05.batchnoise import batch_statistics
from bnlesson.training.metrics import parameter_device

__all__ = [
    "accuracy_in_training_mode",
    "batch_statistics",
    "d2l_update",
    "over_seeds",
    "refresh_running_stats",
    "running_stats_kept",
    "torch_update",
]


# Shown in lesson 05, "A trained network in both modes"
@contextmanager
def running_stats_kept(net):
    """Put back the running statistics a training-mode forward pass changed.

    cuDNN (Gluon's ``nn.BatchNorm`` on a GPU) updates them in the forward
    pass of training mode (apache/mxnet#14357); MXNet's CPU kernel only in
    ``backward()``. Inside this context an evaluation in training mode
    leaves them as they were on any device.
    """
    running = net.collect_params(".*running_mean|.*running_var")
    kept = {}
    for name, p in running.items():
        try:
            kept[name] = p.data().copy()
        except DeferredInitializationError:  # created by the first forward
            pass
    try:
        yield
    finally:
        for name, value in kept.items():
            running[name].set_data(value)


# Shown in lesson 05, "A trained network in both modes"
def accuracy_in_training_mode(net, X, y, batch_size):
    """Accuracy of `net` on NumPy arrays `X`, `y`, classified in training mode.

    Batch norm then normalizes with each batch's own statistics. Nothing is
    recorded and ``backward()`` never runs, so MXNet's CPU kernel leaves the
    running statistics as they are; cuDNN on a GPU updates them in the
    forward pass of training mode (apache/mxnet#14357), so
    :func:`running_stats_kept` puts them back. The batches go to the device
    of `net`'s parameters.
    """
    device = next(iter(net.collect_params().values())).list_ctx()[0]  # net's
    correct = 0
    # batch statistics, nothing recorded, the running statistics kept
    with autograd.train_mode(), running_stats_kept(net):
        for i in range(0, len(X), batch_size):
            X_batch = np.array(X[i : i + batch_size], ctx=device)
            y_hat = net(X_batch).argmax(axis=1)
            correct += int((y_hat.asnumpy() == y[i : i + batch_size]).sum())
    return correct / len(X)


# Shown in lesson 05, "From PyTorch to Gluon"
def torch_update(running_mean, running_var, X, momentum=0.1):
    r"""PyTorch's running-statistics update for a dense batch `X` of n rows.

    .. math:: r \leftarrow (1 - m)\,r + m\,s,

    with :math:`s` the batch mean and the *unbiased* batch variance
    :math:`\frac{1}{n-1}\sum (x - \mu_B)^2`.

    Raises
    ------
    ValueError
        If `X` has fewer than 2 rows: the unbiased variance divides by
        :math:`n - 1`. PyTorch refuses such a batch in training mode too
        ("Expected more than 1 value per channel when training").
    """
    n = X.shape[0]  # dense input: one statistic from n values
    if n < 2:  # as PyTorch does in training mode
        raise ValueError(
            f"torch_update: expected more than 1 value per feature, as PyTorch "
            f"does when training, but X of shape {tuple(X.shape)} has {n}: the "
            f"unbiased variance divides by n - 1 = {n - 1}. Pass 2 rows or more."
        )
    mean, var = X.mean(axis=0), X.var(axis=0) * n / (n - 1)  # unbiased
    return ((1 - momentum) * running_mean + momentum * mean,
            (1 - momentum) * running_var + momentum * var)  # fmt: skip


# Shown in lesson 05, "From PyTorch to Gluon"
def d2l_update(running_mean, running_var, X, momentum=0.1):
    r"""The d2l book's update, :math:`r \leftarrow (1 - m)\,r + m\,s`.

    Like :func:`torch_update`, but with the biased batch variance.
    """
    mean, var = X.mean(axis=0), X.var(axis=0)  # biased
    return ((1 - momentum) * running_mean + momentum * mean,
            (1 - momentum) * running_var + momentum * var)  # fmt: skip


def refresh_running_stats(net, data_iter: Iterable, num_batches: int = 50) -> None:
    r"""Recompute the moving statistics of `net`'s batch-norm layers, weights fixed.

    During training, each batch-norm layer's moving mean and variance are
    exponential averages of batch statistics taken while the weights were
    changing; with a large learning rate they can lag behind the final
    weights. This runs `num_batches` batches of `data_iter` through `net`
    in training mode, under ``record()``, and calls ``backward()`` without
    any optimizer step, so that only the statistics change (MXNet's CPU
    kernel updates them in ``backward()``, cuDNN on a GPU already in the
    forward pass, apache/mxnet#14357). The result is Gluon's exponential
    average (momentum 0.9): the last 10 batches carry 65% of its weight, the
    last 22 batches 90%, and after :math:`k` batches the old values keep
    :math:`0.9^k` (1% for :math:`k = 44`). The paper's exact average is
    :func:`bnlesson.lesson05.stale.precise_running_stats`.

    Parameters
    ----------
    net : mxnet.gluon.Block
        An initialized network (its parameters' gradients are overwritten).
    data_iter : iterable of (X, y)
        Training batches; the labels are not used.
    num_batches : int
        At least 1; fewer are used if `data_iter` runs out.

    Raises
    ------
    ValueError
        If `num_batches` is not a whole number of at least 1, or `data_iter`
        holds no batch (then nothing was refreshed, nor changed).
    """
    whole = isinstance(num_batches, numbers.Integral)
    if not whole or isinstance(num_batches, bool) or num_batches < 1:
        raise ValueError(
            f"num_batches must be a whole number of at least 1, not {num_batches!r}"
        )
    if isinstance(data_iter, Sized) and len(data_iter) == 0:
        raise ValueError(_NO_BATCHES)
    device = parameter_device(net)
    used = 0
    for X, _ in data_iter:
        if used == num_batches:
            break
        with autograd.record():
            out = net(X.as_in_ctx(device))
        out.backward()
        used += 1
    if used == 0:  # an empty iterator: known only once it is tried
        raise ValueError(_NO_BATCHES)


_NO_BATCHES = (
    "refresh_running_stats: data_iter holds no batches, so no running statistics "
    "were refreshed. Pass the training batches (X, y), e.g. train_iter; check "
    "the data it was made from (an empty slice, or an iterator already used up?)"
)


# Shown in lesson 05, "One run, or every run?"
def over_seeds(run, seeds: Sequence[int] = (0, 1, 2)) -> pd.DataFrame:
    """Repeat `run` once per seed; return each result and their mean and range.

    Each repeat starts from :func:`bnlesson.core.config.set_seed` with its seed,
    so the initial weights, the batch order and any noise differ between
    repeats and repeat exactly on the CPU.

    Parameters
    ----------
    run : callable
        ``run()`` trains and measures, returning a number or a mapping of
        names to numbers (one column each).
    seeds : sequence of int
        At least two seeds: a range needs two runs.

    Returns
    -------
    pandas.DataFrame
        One row per seed (``"seed 0"``, ...), then the rows ``"mean"``,
        ``"min"`` and ``"max"`` of each column.

    Raises
    ------
    ValueError
        If fewer than two distinct seeds are given.
    """
    seeds = list(seeds)
    if len(set(seeds)) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"over_seeds needs two or more distinct seeds, not {seeds}")
    rows = {}
    for seed in seeds:
        set_seed(seed)
        result = run()
        rows[f"seed {seed}"] = (
            dict(result) if hasattr(result, "keys") else {"value": result}
        )
    table = pd.DataFrame.from_dict(rows, orient="index").astype(float)
    return pd.concat([table, table.agg(["mean", "min", "max"])])
