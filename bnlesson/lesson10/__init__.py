r"""Lesson 10: batch norm when the batch is split across devices and machines.

The code of ``notebooks/10_batch_norm_across_devices.ipynb``; a comment above
each definition names the section that shows it. Data parallelism splits a
batch of :math:`B` examples into :math:`k` slices, one per device (or
machine), and sums the gradients; batch norm then normalizes each slice
with its own statistics, over :math:`B/k` examples. Synchronized batch norm
all-reduces, per channel, the count, the sum and the sum of squares,

.. math::

    \mu = \frac{1}{m}\sum_{d}\sum_{i \in d} x_i, \qquad
    \sigma^2 = \frac{1}{m}\sum_{d}\sum_{i \in d} x_i^2 - \mu^2,

so that every device normalizes with the statistics of the whole batch.
:mod:`bnlesson.lesson10.launcher` starts MXNet's parameter-server roles on
one machine and :mod:`bnlesson.lesson10.worker` is the worker they run.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import mxnet as mx
from mxnet import autograd, gluon, init, np
from mxnet.gluon import nn

from bnlesson.lesson02 import check_input
from bnlesson.lesson10.launcher import run_cluster
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.sgd import initialize


def two_devices(device):
    """Two devices for data parallelism: two GPUs if there are, else two CPU ones.

    MXNet keeps ``cpu(i)`` and ``cpu(i + 1)`` apart as devices (they share
    the processor), so the code that runs on two GPUs runs here too; `device`
    (the lessons' device) is the first unless two GPUs are present.
    """
    if mx.context.num_gpus() >= 2:
        return [mx.gpu(0), mx.gpu(1)]
    first = device.device_id if device.device_type == "cpu" else 0
    return [mx.cpu(first), mx.cpu(first + 1)]


# Shown in lesson 10, "Each device normalizes its own slice"
def standardize(X, eps=1e-5):
    """Batch norm without gamma and beta: each channel to mean 0, variance 1."""
    axes = (0,) if X.ndim == 2 else (0, 2, 3)
    mean = X.mean(axis=axes, keepdims=True)
    var = ((X - mean) ** 2).mean(axis=axes, keepdims=True)
    return (X - mean) / np.sqrt(var + eps)


# Shown in lesson 10, "Each device normalizes its own slice"
def slice_gap(X, num_slices):
    """Mean absolute gap between slice-wise and whole-batch normalized `X`."""
    slices = np.split(X, num_slices, axis=0)
    per_slice = np.concatenate([standardize(S) for S in slices], axis=0)
    return float(np.abs(per_slice - standardize(X)).mean())


# Shown in lesson 10, "Training on two devices"
def train_step(net, X, y, devices, trainer, loss):
    """One data-parallel SGD step: a slice of the batch per device (d2l's way)."""
    X_slices = gluon.utils.split_and_load(X, devices)
    y_slices = gluon.utils.split_and_load(y, devices)
    with autograd.record():
        losses = [loss(net(X_d), y_d) for X_d, y_d in zip(X_slices, y_slices)]
    autograd.backward(losses)  # each device's gradients, on its own copy
    trainer.step(X.shape[0])  # sums the copies' gradients, updates every copy


# Shown in lesson 10, "Training on two devices"
def train_on_devices(net, train_iter, test_iter, devices, num_epochs, lr):
    """Train `net` data-parallel on `devices`; the test accuracy after each epoch."""
    initialize(net, devices)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    accuracies = []
    for _ in range(num_epochs):
        for X, y in train_iter:
            train_step(net, X, y, devices, trainer, loss)
        accuracies.append(evaluate_accuracy(net, test_iter, devices[0]))
    return accuracies


# Shown in lesson 10, "Synchronized batch norm from scratch"
def global_stats(Xs):
    """Per-channel mean and variance of all of `Xs` together, on `Xs[0]`'s device."""
    axes = (0,) if Xs[0].ndim == 2 else (0, 2, 3)
    home = Xs[0].ctx
    count = sum(X.size // X.shape[1] for X in Xs)
    # Each device reduces its own slice; only the small sums travel.
    total = sum(X.sum(axis=axes, keepdims=True).as_in_ctx(home) for X in Xs)
    squares = sum((X * X).sum(axis=axes, keepdims=True).as_in_ctx(home) for X in Xs)
    mean = total / count
    return mean, squares / count - mean * mean


# Shown in lesson 10, "Synchronized batch norm from scratch"
def sync_batch_norm(Xs, gamma, beta, eps):
    """Normalize each device's batch in `Xs` with the statistics of all of them."""
    mean, var = global_stats(Xs)
    Ys = []
    for X in Xs:  # the global statistics go back to every device
        dev = X.ctx
        X_hat = (X - mean.as_in_ctx(dev)) / np.sqrt(var.as_in_ctx(dev) + eps)
        Ys.append(gamma.as_in_ctx(dev) * X_hat + beta.as_in_ctx(dev))
    return Ys


def check_slices(Xs, shape: tuple) -> None:
    """Refuse an empty list of slices, or a slice the layer was not built for."""
    if not isinstance(Xs, (list, tuple)) or not Xs:
        raise ValueError(
            "SyncedBatchNorm takes a list of slices, one per device (e.g. from "
            f"gluon.utils.split_and_load), not {type(Xs).__name__}"
        )
    for X in Xs:
        check_input(X, shape)


# Shown in lesson 10, "A layer that keeps running statistics"
class SyncedBatchNorm(nn.Block):
    """Batch norm over the slices of one batch on several devices.

    Called on a list of slices, it returns their normalized list. In training
    mode it normalizes with :func:`sync_batch_norm` and updates one pair of
    moving statistics (momentum 0.9, on the first slice's device) with the
    global ones; in prediction mode each slice uses those.
    """

    def __init__(self, num_features, num_dims, **kwargs):
        super().__init__(**kwargs)
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = self.params.get("gamma", shape=shape, init=init.One())
        self.beta = self.params.get("beta", shape=shape, init=init.Zero())
        self.moving_mean, self.moving_var = np.zeros(shape), np.ones(shape)

    def forward(self, Xs):
        check_slices(Xs, self.gamma.shape)
        home = Xs[0].ctx
        gamma, beta = self.gamma.data(home), self.beta.data(home)
        if not autograd.is_training():
            mean, var = self.moving_mean, self.moving_var
            return [gamma.as_in_ctx(X.ctx) * (X - mean.as_in_ctx(X.ctx))
                    / np.sqrt(var.as_in_ctx(X.ctx) + 1e-5) + beta.as_in_ctx(X.ctx)
                    for X in Xs]  # fmt: skip
        mean, var = global_stats(Xs)
        self.moving_mean = 0.9 * self.moving_mean.as_in_ctx(home) + 0.1 * mean
        self.moving_var = 0.9 * self.moving_var.as_in_ctx(home) + 0.1 * var
        return sync_batch_norm(Xs, gamma, beta, 1e-5)


# Shown in lesson 10, "MXNet's SyncBatchNorm"
def mxnet_sync_batch_norm(Xs):
    """MXNet's ``SyncBatchNorm`` in training mode on the slices `Xs` (forward only).

    A legacy layer: it is built outside NumPy mode and takes classic arrays.
    """
    devices = [X.ctx for X in Xs]
    with mx.util.np_array(False):
        layer = gluon.contrib.nn.SyncBatchNorm(
            in_channels=Xs[0].shape[1], num_devices=len(Xs)
        )
        layer.initialize(ctx=devices)
        with autograd.record():  # training mode: the batch's statistics
            Ys = [layer(X.as_nd_ndarray()) for X in Xs]
    return [Y.as_np_ndarray() for Y in Ys]


# Shown in lesson 10, "What synchronizing costs"
def per_device_batch_norm(Xs, gamma, beta, eps):
    """Each device's batch normalized with its own statistics (no exchange)."""
    Ys = []
    for X in Xs:
        dev = X.ctx
        mean, var = global_stats([X])
        X_hat = (X - mean) / np.sqrt(var + eps)
        Ys.append(gamma.as_in_ctx(dev) * X_hat + beta.as_in_ctx(dev))
    return Ys


# Shown in lesson 10, "What synchronizing costs"
def step_time(normalize, Xs, gamma, beta, repeat):
    """Median seconds of one forward and backward pass of `normalize`."""
    times = []
    for _ in range(repeat + 1):  # the first pass allocates memory: not counted
        start = time.perf_counter()
        with autograd.record():
            Ys = normalize(Xs, gamma, beta, 1e-5)
            losses = [(Y * Y).sum() for Y in Ys]
        autograd.backward(losses)
        gamma.grad.wait_to_read()
        for X in Xs:
            X.grad.wait_to_read()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def worker_command(out: Path, num_epochs: int, global_batch: int, lr: float,
                   per_class, seed: int, bad_data: bool) -> list[str]:  # fmt: skip
    """The command line of one worker (:mod:`bnlesson.lesson10.worker`)."""
    command = [sys.executable, "-m", "bnlesson.lesson10.worker", "--out", str(out),
               "--num-epochs", str(num_epochs), "--global-batch", str(global_batch),
               "--lr", str(lr), "--seed", str(seed)]  # fmt: skip
    if per_class is not None:
        command += ["--per-class", *map(str, per_class)]
    return command + (["--bad-data"] if bad_data else [])


# Shown in lesson 10, "Across machines: MXNet's parameter server"
def train_on_workers(num_workers, num_epochs, global_batch, lr, per_class=None,
                     seed=0, bad_worker=None, timeout=600.0):  # fmt: skip
    """Train the batch-norm LeNet with ``dist_sync`` on `num_workers` processes.

    A scheduler, one server and the workers run on this computer
    (:func:`bnlesson.lesson10.launcher.run_cluster`); worker `bad_worker`
    (if any) gets images without their channel axis. Returns each worker's
    result (:func:`bnlesson.lesson10.worker.train_shard`), ordered by rank.
    """
    folder = Path(tempfile.mkdtemp(prefix="lesson10_"))
    outs = [folder / f"worker_{i}.json" for i in range(num_workers)]
    commands = [
        worker_command(
            out, num_epochs, global_batch, lr, per_class, seed, i == bad_worker
        )
        for i, out in enumerate(outs)
    ]
    run_cluster(commands, timeout=timeout, logdir=folder)
    results = [json.loads(out.read_text()) for out in outs]
    shutil.rmtree(folder)  # kept only when a run fails: its logs tell why
    return sorted(results, key=lambda r: r["rank"])
