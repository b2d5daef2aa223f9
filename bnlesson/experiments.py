r"""Grids of training runs, one table row per run, and batch-statistics noise.

The PyTorch practice lecture compares settings with a *run builder*: list a
few values for each setting, and every combination becomes one run. Here
:func:`runs` builds those combinations and :func:`run_grid` trains each one
with :func:`bnlesson.train.train` and collects a pandas table::

    grid = {"norm": ["none", "gluon"], "lr": [0.1, 1.0]}
    table = run_grid(lambda run: lenet(run.norm), grid, (train_iter, test_iter),
                     num_epochs=3)

Every run starts from the same seed and the same data order, so a row does
not depend on which runs came before it, and one run re-run alone gives the
same numbers. A ``seed`` setting in the grid repeats runs with different
initializations and data orders, to see how much a result varies by chance.
A run whose loss becomes NaN (:class:`TrainingDiverged`, e.g. a learning
rate far too large) is a row marked ``diverged``, not a crash.

:func:`refresh_running_stats` recomputes the moving statistics of a trained
network for its final weights, and :func:`batch_statistics` measures how far
the statistics of one batch stray from those of the whole data set, per
batch size: the noise batch norm adds in training mode.
"""

from __future__ import annotations

import dataclasses
import itertools
import keyword
import math
from collections import namedtuple
from typing import Callable, Iterable, Mapping, Sequence

import numpy as onp
import pandas as pd
from mxnet import autograd, np
from mxnet.gluon import nn

from . import config
from .data import Batches
from .train import History, TrainingDiverged, train

#: Result columns of :func:`run_grid`, after the settings' columns.
RESULT_COLUMNS = (
    "final_test_acc",
    "best_test_acc",
    "final_train_acc",
    "final_loss",
    "sec_per_epoch",
    "epochs",
    "diverged",
)


def runs(grid: Mapping[str, Sequence]) -> list:
    """Return every combination of the grid's values, one namedtuple per run.

    The lecture's run builder: ``runs({"lr": [0.1, 1], "bn": [False, True]})``
    gives four runs, ``Run(lr=0.1, bn=False)``, ``Run(lr=0.1, bn=True)``,
    ``Run(lr=1, bn=False)``, ``Run(lr=1, bn=True)`` (the last setting varies
    fastest), whose fields read as ``run.lr`` and ``run.bn``.

    Parameters
    ----------
    grid : dict of str to list
        Setting name (a Python identifier) -> the values to try.

    Returns
    -------
    list of namedtuple ``Run``

    Raises
    ------
    ValueError
        If the grid is empty, a name is not an identifier, or a value list
        is empty or is a string (write ``["relu"]``, not ``"relu"``).
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(
            "grid must be a non-empty dict of setting name -> list of values, "
            f"e.g. {{'lr': [0.1, 1.0]}}, not {grid!r}"
        )
    lists = {}
    for name, values in grid.items():
        if (
            not isinstance(name, str)
            or not name.isidentifier()
            or keyword.iskeyword(name)
        ):
            raise ValueError(f"setting names must be Python identifiers, not {name!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(
                f"grid[{name!r}] must be a list of values; wrap a single value "
                f"in a list: [{values!r}]"
            )
        lists[name] = list(values)  # also accepts a range or a generator, once
        if not lists[name]:
            raise ValueError(f"grid[{name!r}] is empty: give at least one value")
    Run = namedtuple("Run", list(lists))
    return [Run(*values) for values in itertools.product(*lists.values())]


def label(run) -> str:
    """Return a run's settings as ``"name=value, ..."``, e.g. ``"lr=0.1, bn=True"``."""
    return ", ".join(f"{name}={value}" for name, value in run._asdict().items())


def _fresh(iterable, seed: int | None = None):
    # A Batches with its own seed counts its epochs to reshuffle differently
    # each time; a copy (sharing the arrays) starts again at epoch 0, so every
    # run sees the same order of examples whatever ran before it. (Without a
    # seed it shuffles from NumPy's global generator, which run_grid seeds.)
    if not isinstance(iterable, Batches):
        return iterable
    if seed is not None and iterable.shuffle:
        return dataclasses.replace(iterable, seed=seed)
    return dataclasses.replace(iterable)


def _data_for(data_source, run) -> tuple:
    if callable(data_source):
        pair = data_source(run)
    else:
        pair = data_source
    try:
        train_iter, test_iter = pair
    except (TypeError, ValueError):
        raise ValueError(
            "data must be a (train_iter, test_iter) pair, or a function of the "
            f"run returning one; got {type(pair).__name__}"
        ) from None
    seed = getattr(run, "seed", None)
    return _fresh(train_iter, seed), _fresh(test_iter, seed)


def _setting(run, name: str, default):
    value = getattr(run, name, default)
    if value is None:
        raise ValueError(
            f"give {name} either as an argument of run_grid or as a setting "
            f"in the grid, e.g. grid={{'{name}': [...]}}"
        )
    return value


def _row(run, history: History, diverged: bool) -> dict:
    # A diverged run has no final values (its last epoch ended with a NaN
    # loss); its best accuracy is that of the epochs completed before.
    done = bool(history.loss) and not diverged
    return {
        **run._asdict(),
        "final_test_acc": history.test_acc[-1] if done else math.nan,
        "best_test_acc": history.best_test_acc,
        "final_train_acc": history.train_acc[-1] if done else math.nan,
        "final_loss": history.loss[-1] if done else math.nan,
        "sec_per_epoch": history.sec_per_epoch,
        "epochs": len(history.loss),
        "diverged": diverged,
    }


def _progress(number: int, total: int, run, row: dict, err=None) -> str:
    head = f"run {number}/{total} ({label(run)}):"
    if err is not None:
        return f"{head} diverged in epoch {err.epoch} (loss not finite)"
    return (
        f"{head} test acc {row['final_test_acc']:.3f} "
        f"(best {row['best_test_acc']:.3f}), {row['sec_per_epoch']:.1f} s/epoch"
    )


def run_grid(
    build_net: Callable,
    grid: Mapping[str, Sequence],
    data: tuple | Callable,
    num_epochs: int | None = None,
    lr: float | None = None,
    *,
    seed: int = 0,
    device=None,
    hybridize: bool = True,
    measure: Callable | None = None,
    sort_by: str = "final_test_acc",
    verbose: bool = True,
) -> pd.DataFrame:
    r"""Train one network per combination of settings; return one row per run.

    For each run of :func:`runs` (`grid`), in order: seed every generator
    with `seed`, build the network with ``build_net(run)``, train it with
    :func:`bnlesson.train.train` (minibatch SGD, Xavier initialization) and
    record the results. ``run.lr``, ``run.num_epochs`` and ``run.seed``
    are used when the grid has those settings, else the arguments `lr`,
    `num_epochs` and `seed`; a ``seed`` setting also reseeds the shuffling
    of a :class:`bnlesson.data.Batches` training set.

    Parameters
    ----------
    build_net : callable
        ``build_net(run) -> net``, e.g. ``lambda run: lenet(run.norm)``.
    grid : dict of str to list
        The settings and their values (see :func:`runs`).
    data : (train_iter, test_iter) or callable
        The data of every run, or ``data(run) -> (train_iter, test_iter)``
        for settings that change it (``run.batch_size``). A
        :class:`bnlesson.data.Batches` is copied per run so that each run
        sees the same shuffles.
    num_epochs : int, optional
        Epochs per run, unless the grid has ``num_epochs``.
    lr : float, optional
        Learning rate, unless the grid has ``lr``.
    seed : int
        The seed every run starts from (:func:`bnlesson.config.set_seed`),
        unless the grid has a ``seed`` setting.
    device : mxnet.Context, optional
        Passed to :func:`bnlesson.train.train` (first GPU, else CPU).
    hybridize : bool
        Hybridize networks that can be (a ``HybridBlock``): same numbers,
        less Python overhead per step, which matters for small batches.
    measure : callable, optional
        ``measure(net, train_iter, test_iter) -> dict``, called after each
        run that did not diverge; its items become extra columns (NaN for
        diverged runs), e.g. an accuracy measured another way.
    sort_by : str
        The column to sort by, largest first.
    verbose : bool
        Print one line per run, e.g.
        ``run 2/4 (norm=gluon, lr=0.1): test acc 0.812 (best 0.812), 2.1 s/epoch``.

    Returns
    -------
    table : pandas.DataFrame
        Indexed by ``run`` (1, 2, ... in grid order), one column per
        setting, then ``final_test_acc``, ``best_test_acc``,
        ``final_train_acc`` (training mode, during the last epoch),
        ``final_loss``, ``sec_per_epoch`` (median training seconds),
        ``epochs`` (completed), ``diverged`` and the columns of `measure`;
        sorted by `sort_by`, best first, diverged runs (NaN accuracy) last.
        ``table.attrs["histories"]`` maps each run number to its
        :class:`bnlesson.train.History` (named by :func:`label`).

    Raises
    ------
    ValueError
        For a bad grid, or when `lr` or `num_epochs` is given neither way.
    """
    plan = runs(grid)
    known = (*plan[0]._fields, *RESULT_COLUMNS)
    if measure is None and sort_by not in known:
        raise ValueError(f"sort_by must be one of {known}, not {sort_by!r}")
    rows, histories = [], {}
    for number, run in enumerate(plan, start=1):
        epochs = _setting(run, "num_epochs", num_epochs)
        rate = _setting(run, "lr", lr)
        train_iter, test_iter = _data_for(data, run)
        config.set_seed(getattr(run, "seed", seed))
        net = build_net(run)
        if hybridize and isinstance(net, nn.HybridBlock):
            net.hybridize()
        err = None
        try:
            history = train(
                net, train_iter, test_iter, epochs, rate, device,
                verbose=False, live=False, name=label(run),
            )  # fmt: skip
        except TrainingDiverged as diverged:
            err, history = diverged, diverged.history
        rows.append(_row(run, history, err is not None))
        if measure is not None and err is None:
            rows[-1].update(measure(net, train_iter, test_iter))
        histories[number] = history
        if verbose:
            print(_progress(number, len(plan), run, rows[-1], err), flush=True)
    table = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="run"))
    # A stable sort keeps grid order among equal accuracies.
    table = table.sort_values(
        sort_by, ascending=False, na_position="last", kind="mergesort"
    )
    table.attrs["histories"] = histories
    return table


def refresh_running_stats(net, data_iter: Iterable, num_batches: int = 50) -> None:
    r"""Recompute the moving statistics of `net`'s batch-norm layers, weights fixed.

    During training, each batch-norm layer's moving mean and variance are
    exponential averages of batch statistics taken while the weights were
    changing; with a large learning rate they can lag behind the final
    weights. This runs `num_batches` batches of `data_iter` through `net`
    in training mode and calls ``backward()`` (which is where Gluon's
    ``nn.BatchNorm`` updates its statistics) without any optimizer step, so
    that only the statistics change: after :math:`k` batches the old values
    keep a weight of :math:`0.9^k` (1% for :math:`k = 44`).

    Parameters
    ----------
    net : mxnet.gluon.Block
        An initialized network (its parameters' gradients are overwritten).
    data_iter : iterable of (X, y)
        Training batches; the labels are not used.
    num_batches : int
        At least 1; fewer are used if `data_iter` runs out.
    """
    if num_batches < 1:
        raise ValueError(f"num_batches must be at least 1, not {num_batches}")
    device = next(iter(net.collect_params().values())).list_ctx()[0]
    for i, (X, _) in enumerate(data_iter):
        if i == num_batches:
            break
        with autograd.record():
            out = net(X.as_in_ctx(device))
        out.backward()


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
    """Each example's per-channel mean of x and of x*x, as NumPy (n, C) arrays."""
    means, squares = [], []
    with autograd.pause(train_mode=False):
        for start in range(0, len(X), batch_size):
            Z = _layer_inputs(net, layer, np.array(X[start : start + batch_size]))
            axes = tuple(range(2, Z.ndim))  # spatial axes of a conv output
            Z = Z.asnumpy().astype(onp.float64)
            means.append(Z.mean(axis=axes) if axes else Z)
            squares.append((Z * Z).mean(axis=axes) if axes else Z * Z)
    return onp.concatenate(means), onp.concatenate(squares)


def batch_statistics(
    net,
    layer,
    X,
    batch_sizes: Sequence[int],
    num_batches: int = 200,
    seed: int = 0,
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
    independent values, ``mean_error`` is :math:`1/\sqrt{b}` and
    ``var_ratio`` is :math:`(b - 1)/b` (the biased variance's shortfall).

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
        ``var_ratio_spread`` and ``mean_error_iid`` (:math:`1/\sqrt{b}`).
    """
    X = onp.asarray(X)
    if any(b < 2 or b > len(X) for b in batch_sizes):
        raise ValueError(
            f"batch sizes must be between 2 and len(X) = {len(X)}, not "
            f"{list(batch_sizes)}"
        )
    means, squares = _per_example_moments(net, layer, X)
    mu = means.mean(axis=0)
    var = squares.mean(axis=0) - mu * mu
    # A channel that never varies (e.g. a dead ReLU unit) has no noise to
    # measure and would divide by zero.
    live = var > 1e-12 * max(1.0, float(onp.abs(mu).max()))
    if not live.any():
        raise ValueError("every channel of the layer's input is constant")
    means, squares, mu, var = means[:, live], squares[:, live], mu[live], var[live]
    rng = onp.random.default_rng(seed)
    rows = []
    for b in batch_sizes:
        idx = onp.stack(
            [rng.choice(len(X), b, replace=False) for _ in range(num_batches)]
        )
        batch_mu = means[idx].mean(axis=1)  # (num_batches, C)
        batch_var = squares[idx].mean(axis=1) - batch_mu * batch_mu
        ratio = batch_var / var
        rows.append({
            "batch_size": b,
            "mean_error": float(onp.sqrt((((batch_mu - mu) ** 2) / var).mean())),
            "var_ratio": float(ratio.mean()),
            "var_ratio_spread": float(ratio.std()),
            "mean_error_iid": 1 / math.sqrt(b),
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("batch_size")
