r"""Figure 1 of the batch-normalization paper: an MLP of sigmoids, with and without BN.

Ioffe and Szegedy (2015, section 4.1) train a network of three fully
connected hidden layers of 100 sigmoid units on MNIST, with mini-batches of
60, and show two things: with batch norm the test accuracy rises sooner and
higher (their panel a), and the input of a typical sigmoid of the last
hidden layer keeps a stable distribution, while without batch norm its
15th, 50th and 85th percentiles wander (panels b and c).

This module trains one of the two networks (:func:`bnlesson.mlp.mlp`) while
recording, every few steps, the test accuracy and those three percentiles
(:func:`train_recording`, which returns a :class:`bnlesson.recording.Recording`);
:func:`bnlesson.recording.drift` measures how far the percentiles moved. The
network, the recording and the drift are imported here too, so that a lesson
finds all of Figure 1 in one module.

Recording is kept cheap so that it does not change what it measures: the
training loop never waits for the device between recordings (no
``.item()`` per step), and a recording runs the network once, in prediction
mode and without autograd, on a fixed batch of held-out images.
"""

from __future__ import annotations

import math
import time
from typing import Iterable, Sequence

import numpy as onp
from d2l import mxnet as d2l
from mxnet import autograd, np, npx

from . import divergence
from .lesson03 import batchnorm_layers
from .metrics import evaluate_accuracy
from .mlp import HIDDEN, layer_position, mlp, sigmoid_input, sigmoid_positions
from .recording import (
    DRIFT_PARTS,
    PERCENTILES,
    Recording,
    column_percentiles,
    drift,
    steps_to_reach,
)
from .sgd import require_np, sgd_setup

__all__ = [
    "DRIFT_PARTS", "HIDDEN", "PERCENTILES", "Recording", "drift", "mlp", "record_steps",
    "layer_position", "sigmoid_input", "sigmoid_positions", "steps_to_reach",
    "train_recording",
]  # fmt: skip


def record_steps(num_steps: int, every: int | None) -> list[int]:
    """Return the steps after which :func:`train_recording` records.

    Every multiple of `every` up to `num_steps`, and `num_steps` itself, so
    that the trained network is always recorded; none when `every` is None.
    """
    _check_positive_int("num_steps", num_steps)
    if every is None:
        return []
    _check_positive_int("every", every)
    steps = list(range(every, num_steps + 1, every))
    return steps if steps and steps[-1] == num_steps else [*steps, num_steps]


def _check_positive_int(name: str, value) -> None:
    integer = isinstance(value, (int, onp.integer)) and not isinstance(value, bool)
    if not integer or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


def _check_units(units, width: int) -> tuple:
    units = tuple(range(width)) if units is None else tuple(units)
    if not units:
        raise ValueError("units must name at least one unit of the layer")
    for unit in units:
        if int(unit) != unit or not 0 <= unit < width:
            raise ValueError(
                f"units must be unit numbers from 0 to {width - 1} (the layer has "
                f"{width} units), not {unit!r}"
            )
    if len(set(units)) != len(units):
        raise ValueError(f"units must not repeat: {units}")
    return tuple(int(unit) for unit in units)


def _batches_forever(train_iter: Iterable):
    """Yield batches of `train_iter`, starting a new epoch whenever one ends."""
    while True:
        empty = True
        for batch in train_iter:
            empty = False
            yield batch
        if empty:
            raise ValueError("train_iter yielded no batches")


def train_recording(
    net, train_iter: Iterable, test_iter: Iterable, probe, num_steps: int, lr: float,
    every: int | None, *, units: Sequence[int] | None = None, layer: int = -1,
    device=None, name: str | None = None,
) -> Recording:  # fmt: skip
    r"""Train `net` for `num_steps` SGD steps, recording as the paper's Figure 1 does.

    Each step takes the next mini-batch of `train_iter` (a new epoch starts
    when it runs out) and updates every weight by
    :math:`w \leftarrow w - \frac{\eta}{b}\sum_{i=1}^{b}\nabla_w \ell_i`
    (:func:`bnlesson.sgd.sgd_setup`: fresh Xavier weights and moving
    statistics, softmax cross-entropy, :math:`\eta` = `lr`; hybridized when
    it can be). After every `every` steps and the last (:func:`record_steps`;
    None: never) it records the test accuracy on `test_iter`, the mean
    training loss since the last recording, and the 15th, 50th and 85th
    percentiles over the `probe` inputs of the sigmoid input
    (:func:`sigmoid_input`) of each unit in `units` (all by default) of
    hidden layer `layer` (-1: the last). The steps never wait for the
    device; each recording waits once and is timed apart
    (:attr:`Recording.overhead`).

    Parameters
    ----------
    net : mxnet.gluon.nn.Sequential
        A network from :func:`mlp`; the :class:`Recording` is named `name`.
    train_iter, test_iter : iterable of (X, y)
        Training mini-batches (re-iterable), and held-out batches.
    probe : array, shape (N, ...)
        The fixed held-out inputs of the percentiles (NumPy or ``mxnet.np``).
    num_steps, every : int
        Training steps, at least 1, and the recording interval (or None).
    lr : float
        Learning rate :math:`\eta`, positive.
    device : mxnet.Context, optional
        Defaults to ``d2l.try_gpu()``: the first GPU, else the CPU.

    Raises
    ------
    ValueError
        For a step count, interval, rate, layer or unit out of range, or an
        empty probe or training iterator.
    TrainingDiverged
        If the training loss is not finite at a recording (or at the end);
        its ``step`` says when and its ``history`` holds the recordings before.
    """
    require_np()
    schedule = record_steps(num_steps, every)
    if len(probe) == 0:
        raise ValueError("probe must hold at least one input")
    layer_position(net, layer)  # a bad layer fails before any work
    device = d2l.try_gpu() if device is None else device
    # Hybridized: one compiled graph per step, its memory planned once per
    # input shape, faster for the BN net than imperative execution.
    trainer, loss = sgd_setup(net, lr, device, hybridize=True)
    probe = np.array(probe, ctx=device)
    test = [(X.as_in_ctx(device), y.as_in_ctx(device)) for X, y in test_iter]
    units = _check_units(units, sigmoid_input(net, probe[:1], layer).shape[1])
    recorder = _Recorder(net, test, probe, layer, units, lr, name, num_steps)
    _train(net, _batches_forever(train_iter), trainer, loss, schedule, recorder)
    return recorder.recording()


class _Recorder:
    """Takes the recordings of one :func:`train_recording` run and times them."""

    def __init__(self, net, test, probe, layer, units, lr, name, num_steps):
        self.net, self.test, self.probe, self.layer = net, test, probe, layer
        self.units, self.lr, self.name, self.num_steps = units, lr, name, num_steps
        self.unit_index = np.array(units, dtype="int64", ctx=probe.ctx)
        self.rows: list = []
        self.batch_size, self.record_seconds = 0, 0.0
        self.start = time.perf_counter()

    def record(self, step: int, loss_sum, examples: int) -> None:
        """One recording after `step`; TrainingDiverged if the loss is not finite."""
        npx.waitall()  # bill the queued training to training, not recording
        tic = time.perf_counter()
        mean_loss = self.finite_loss(loss_sum, examples, step)
        acc = evaluate_accuracy(self.net, self.test, self.probe.ctx)
        values = sigmoid_input(self.net, self.probe, self.layer)[:, self.unit_index]
        self.rows.append((step, acc, mean_loss, column_percentiles(values.asnumpy())))
        self.record_seconds += time.perf_counter() - tic

    def finite_loss(self, loss_sum, examples: int, step: int) -> float:
        """The mean loss since the last recording, or TrainingDiverged."""
        mean_loss = loss_sum.item() / max(examples, 1)
        if not math.isfinite(mean_loss):
            raise divergence.diverged(
                mean_loss, self.lr, step=step,
                history=self.recording() if self.rows else None,
                has_batch_norm=bool(batchnorm_layers(self.net)),
            )  # fmt: skip
        return mean_loss

    def recording(self) -> Recording:
        """What was recorded so far, as a :class:`Recording`."""
        rows = self.rows
        return Recording(
            steps=onp.array([r[0] for r in rows], dtype=int),
            test_acc=onp.array([r[1] for r in rows]),
            loss=onp.array([r[2] for r in rows]),
            percentiles=onp.array([r[3] for r in rows]).reshape(
                len(rows), len(self.units), 3),
            units=self.units, layer=self.layer, lr=self.lr,
            batch_size=self.batch_size, seconds=time.perf_counter() - self.start,
            record_seconds=self.record_seconds, name=self.name,
            num_steps=self.num_steps,
        )  # fmt: skip


def _train(net, batches, trainer, loss, schedule: list, recorder: _Recorder) -> None:
    """Take ``recorder.num_steps`` SGD steps, recording after those in `schedule`."""
    device = recorder.probe.ctx
    loss_sum, examples, pending = np.zeros((), ctx=device), 0, set(schedule)
    for step in range(1, recorder.num_steps + 1):
        X, y = next(batches)
        X, y = X.as_in_ctx(device), y.as_in_ctx(device)
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(X.shape[0])
        # Stays on the device: reading it here would stall every step.
        loss_sum = loss_sum + l.sum()
        examples += X.shape[0]
        recorder.batch_size = max(recorder.batch_size, X.shape[0])
        if step in pending:
            recorder.record(step, loss_sum, examples)
            loss_sum, examples = np.zeros((), ctx=device), 0
    npx.waitall()
    if not recorder.rows:
        recorder.finite_loss(loss_sum, examples, recorder.num_steps)
