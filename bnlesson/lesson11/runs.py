r"""Lesson 11's Figure 1 experiment: test error against the batch size.

:func:`normalized_lenet` puts batch, group or layer norm into a ReLU LeNet;
:func:`train_error` trains it on a fixed number of examples at a learning
rate scaled linearly with the batch size (as Wu and He do), optionally
accumulating the gradients of several batches; :func:`batch_size_sweep`
repeats it for every normalization, batch size and seed, and
:func:`error_table` summarizes the runs as the table behind the figure.
"""

from __future__ import annotations

import time
from typing import Sequence

import mxnet as mx
import numpy as onp
import pandas as pd
from mxnet import autograd
from mxnet.gluon import nn

from bnlesson.core.arguments import check_whole
from bnlesson.core.config import set_seed
from bnlesson.data import Batches
from bnlesson.lesson03 import _lenet_blocks, sequential
from bnlesson.lesson11 import GroupNorm, LayerNorm
from bnlesson.training.loop import endless, sgd_steps
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.sgd import sgd_setup

#: The normalizations :func:`normalized_lenet` can put after each layer.
NORMS = ("batch", "group", "layer")


def normalized_lenet(norm, num_groups=2):
    """LeNet with ReLU and `norm` between each layer and its activation.

    ``Conv2D(6, 5)``, ``Conv2D(16, 5)`` (each followed by norm, ReLU,
    ``MaxPool2D(2, 2)``), ``Dense(120)``, ``Dense(84)`` (norm, ReLU), then
    ``Dense(10)``. `norm` is ``"batch"`` (Gluon's ``nn.BatchNorm``),
    ``"group"`` (:class:`GroupNorm` with `num_groups` groups, which must
    divide 6, 16, 120 and 84) or ``"layer"`` (:class:`LayerNorm`).
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")
    make = {"batch": lambda n, dims: nn.BatchNorm(),
            "group": lambda n, dims: GroupNorm(n, dims, num_groups),
            "layer": lambda n, dims: LayerNorm(n, dims)}[norm]  # fmt: skip

    def stage(layer, n, dims):
        return [layer, make(n, dims), nn.Activation("relu")]

    return sequential(_lenet_blocks(stage))


def train_error(
    norm: str,
    batch_size: int,
    train_data: tuple,
    test_iter,
    num_examples: int,
    lr_per_example: float,
    device,
    *,
    accumulate: int = 1,
    net=None,
) -> dict:
    r"""Train :func:`normalized_lenet` on `num_examples` examples; its test error.

    Steps of `batch_size` examples, :math:`\lfloor` `num_examples` /
    `batch_size` :math:`\rfloor` of them, at the learning rate
    :math:`\eta = ` `lr_per_example` :math:`\times` `batch_size` (the
    linear scaling rule Wu and He use), so every batch size sees the same
    examples for the same number of epochs. With `accumulate` :math:`k > 1`
    the gradients of :math:`k` consecutive batches are summed before one
    update of :math:`\eta = ` `lr_per_example` :math:`\times k \times`
    `batch_size`: the gradient of a :math:`k` times larger batch, while
    batch norm still normalizes each batch of `batch_size` alone.

    Parameters
    ----------
    train_data : (X, y)
        NumPy arrays of the training examples, reshuffled every epoch from
        NumPy's global generator (seed it first).
    test_iter : iterable of (X, y)
        Where the test error is measured, in prediction mode.
    net : mxnet.gluon.Block, optional
        The network to train (re-initialized); by default a fresh
        ``normalized_lenet(norm)``.

    Returns
    -------
    dict
        ``test_error`` (a fraction) and ``ms_per_step`` (per update).
    """
    check_whole("batch_size", batch_size, "batch_size=16")
    check_whole("accumulate", accumulate, "accumulate=8")
    net = normalized_lenet(norm) if net is None else net
    lr = lr_per_example * batch_size * accumulate
    trainer, loss = sgd_setup(net, lr, device)
    batches = endless(Batches(*train_data, batch_size, shuffle=True))
    num_steps = num_examples // (batch_size * accumulate)
    start = time.perf_counter()
    if accumulate == 1:
        sgd_steps(net, batches, num_steps, trainer, loss, device, check_at=())
    else:
        _accumulating_steps(net, batches, num_steps, accumulate, trainer, loss, device)
    mx.nd.waitall()
    ms = 1000 * (time.perf_counter() - start) / max(num_steps, 1)
    return {"test_error": 1 - evaluate_accuracy(net, test_iter), "ms_per_step": ms}


def _accumulating_steps(net, batches, num_steps, k, trainer, loss, device) -> None:
    """`num_steps` updates, each with the summed gradients of `k` batches."""
    params = [p for p in net.collect_params().values() if p.grad_req != "null"]
    for p in params:
        p.grad_req = "add"
    for _ in range(num_steps):
        n = 0
        for _, (X, y) in zip(range(k), batches):
            X, y = X.as_in_ctx(device), y.as_in_ctx(device)
            with autograd.record():
                l = loss(net(X), y)
            l.backward()
            n += X.shape[0]
        trainer.step(n)
        for p in params:  # zero_grad() calls a legacy operator
            for g in p.list_grad():
                g[:] = 0


def batch_size_sweep(
    norms: Sequence[str],
    batch_sizes: Sequence[int],
    seeds: Sequence[int],
    train_data: tuple,
    test_iter,
    num_examples: int,
    lr_per_example: float,
    device,
    accumulate: int = 1,
    verbose: bool = True,
) -> pd.DataFrame:
    """:func:`train_error` for every norm, batch size and seed: one row each.

    Each run starts from :func:`bnlesson.core.config.set_seed` with its seed
    (weights and batch order); with `verbose`, one line per norm and batch
    size gives the mean error over the seeds.

    Returns
    -------
    pandas.DataFrame
        Columns ``norm``, ``batch_size``, ``seed``, ``test_error``,
        ``ms_per_step``.
    """
    if len(set(seeds)) < 2:
        raise ValueError(f"a range over seeds needs two or more seeds, not {seeds}")
    rows = []
    for norm in norms:
        for b in batch_sizes:
            errors = []
            for seed in seeds:
                set_seed(seed)
                result = train_error(
                    norm, b, train_data, test_iter, num_examples, lr_per_example,
                    device, accumulate=accumulate,
                )  # fmt: skip
                rows.append({"norm": norm, "batch_size": b, "seed": seed, **result})
                errors.append(result["test_error"])
            if verbose:
                print(f"{norm} norm, batch {b}: test error {onp.mean(errors):.3f} "
                      f"(mean of {len(seeds)} seeds)")  # fmt: skip
    return pd.DataFrame(rows)


def error_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test error in percent by batch size (rows) and norm: mean, min, max of seeds."""
    table = runs.assign(test_error=100 * runs["test_error"])
    by_run = table.groupby(["batch_size", "norm"])["test_error"]
    table = by_run.agg(["mean", "min", "max"])
    return table.unstack("norm").sort_index(ascending=False).round(1)
