r"""Lesson 09's training runs: what the instruments of :mod:`bnlesson.lesson09` record.

* :func:`train_watching` trains one network of lesson 07's kind with SGD
  and records, at regular steps, the test accuracy, the percentiles of one
  hidden layer's sigmoid inputs (one step earlier too) and, optionally, the
  loss landscape along the gradient. It returns a :class:`Watch`.
* :func:`instability` turns those percentiles into a drift in first widths
  :math:`D` over three spans of time.
* :func:`train_early` follows the first steps of training from inside:
  the update-to-weight ratio of every layer and the saturated sigmoids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as onp
import pandas as pd
from mxnet import np
from mxnet.gluon import nn

from bnlesson.core.config import device_or_default
from bnlesson.lesson07 import record_steps
from bnlesson.lesson07.network import sigmoid_input, sigmoid_positions
from bnlesson.lesson09 import probe_landscape
from bnlesson.lesson09.inside import (
    gradient_shift,
    layer_stats,
    saturated_fraction,
    update_ratio,
)  # fmt: skip
from bnlesson.training.loop import StepLog, Watcher, endless, sgd_steps
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.recording import column_percentiles, drift
from bnlesson.training.sgd import require_np, sgd_setup

__all__ = ["Early", "Watch", "instability", "train_early", "train_watching"]


@dataclass
class Watch:
    """What :func:`train_watching` recorded, one row per recording.

    Attributes
    ----------
    name : str
        A label for tables and plots.
    steps : numpy.ndarray of int, shape (R,)
        Training steps done at each recording.
    test_acc : numpy.ndarray, shape (R,)
        Test accuracy (prediction mode) at each recording.
    percentiles : numpy.ndarray, shape (R, U, 3)
        15th, 50th and 85th percentiles of each unit's sigmoid input
        (:func:`bnlesson.lesson07.network.sigmoid_input`, in training mode) over
        the probe batch.
    before : numpy.ndarray, shape (R, U, 3)
        The same, one training step before each recording.
    landscape : pandas.DataFrame
        The probes of :func:`bnlesson.lesson09.probe_landscape` with a
        ``step`` column; empty when none was asked for.
    seconds : float
        Wall time of the run.
    shift : pandas.DataFrame
        When asked for, :func:`bnlesson.lesson09.inside.gradient_shift` at every
        recording, with ``step`` and ``layer`` columns; else empty.
    """

    name: str
    steps: onp.ndarray
    test_acc: onp.ndarray
    percentiles: onp.ndarray
    before: onp.ndarray
    landscape: pd.DataFrame
    seconds: float
    shift: pd.DataFrame = field(default_factory=pd.DataFrame)

    @classmethod
    def from_log(cls, log: StepLog, name: str, seconds: float) -> Watch:
        """The Watch of :func:`train_watching`'s log: its finished recordings."""
        steps = log.steps("test_acc")
        probes = log.values("landscape")
        shifts = log.values("shift") if "shift" in log else []
        return cls(
            name, steps, log.array("test_acc"), log.array("percentiles"),
            onp.array(log.values("before", at=steps)),
            pd.concat(probes, ignore_index=True) if probes else pd.DataFrame(),
            seconds,
            pd.concat(shifts, ignore_index=True) if shifts else pd.DataFrame(),
        )  # fmt: skip


def _start(net, probe, lr: float, device):
    """Initialize `net` as lesson 07 does; return the device-side probe and trainer."""
    require_np()
    device = device_or_default(device)
    trainer, loss = sgd_setup(net, lr, device)
    probe = np.array(probe, ctx=device)
    net(probe[:2])  # settle deferred shapes before anything reads the weights
    return probe, trainer, loss


def _percentiles(net, probe, layer: int) -> onp.ndarray:
    # in training mode: prediction mode would hide the noise layers' noise
    values = sigmoid_input(net, probe, layer, training=True).asnumpy()
    return column_percentiles(values)


def train_watching(
    net, train_iter: Iterable, test_iter: Iterable, probe, num_steps: int, lr: float,
    every: int, *, landscape: tuple | None = None, etas: Sequence[float] = (),
    layer: int = -1, name: str = "", device=None, shift: bool = False,
) -> Watch:  # fmt: skip
    r"""Train `net` for `num_steps` SGD steps of rate `lr`, recording every `every`.

    Each step updates :math:`w \leftarrow w - \eta\,\nabla\ell_B(w)` on the
    next mini-batch :math:`B` of `train_iter` (softmax cross-entropy, Xavier
    initialization). At every recording (:func:`bnlesson.lesson07.record_steps`)
    it stores the test accuracy on `test_iter`, the percentiles of hidden
    layer `layer`'s sigmoid inputs over the `probe` images (also one step
    earlier), and, when `landscape` is an ``(X, y)`` batch, the probe
    :func:`bnlesson.lesson09.probe_landscape` at step sizes `etas`, and
    with `shift` also :func:`bnlesson.lesson09.inside.gradient_shift` on that batch
    at rate `lr`.

    Raises
    ------
    ValueError
        For a bad step count, interval, rate or step sizes.
    TrainingDiverged
        If the training loss is not finite at a recording.
    """
    schedule = set(record_steps(num_steps, every))
    if shift and landscape is None:
        raise ValueError("the gradient shift is measured on the landscape batch")
    if landscape is not None and (not etas or min(etas) <= 0):
        raise ValueError(f"the landscape probe needs positive step sizes: {etas!r}")
    probe, trainer, loss_fn = _start(net, probe, lr, device)
    if landscape is not None:
        landscape = tuple(np.array(a, ctx=probe.ctx) for a in landscape)
    test = [(X.as_in_ctx(probe.ctx), y.as_in_ctx(probe.ctx)) for X, y in test_iter]
    watcher = _Watching(net, probe, layer, schedule, test, landscape, etas, name)
    watcher.shift_lr = lr if shift else None
    sgd_steps(net, endless(train_iter), num_steps, trainer, loss_fn, probe.ctx,
              watcher=watcher, check_at=schedule)  # fmt: skip
    return watcher.watch()


class _Watching(Watcher):
    """:func:`train_watching`'s watcher: what it records at the scheduled steps."""

    def __init__(self, net, probe, layer, schedule, test, landscape, etas, name):
        self.net, self.probe, self.layer, self.schedule = net, probe, layer, schedule
        self.test, self.landscape, self.etas, self.name = test, landscape, etas, name
        self.log, self.start = StepLog(), time.perf_counter()
        self.shift_lr = None

    def before(self, step: int) -> None:
        if step in self.schedule:
            self.log.add("before", step, _percentiles(self.net, self.probe, self.layer))

    def after(self, step: int, loss) -> None:
        if step not in self.schedule:
            return
        net, log = self.net, self.log
        log.add("test_acc", step, evaluate_accuracy(net, self.test, self.probe.ctx))
        log.add("percentiles", step, _percentiles(net, self.probe, self.layer))
        if self.landscape is not None:
            frame = probe_landscape(net, *self.landscape, self.etas)
            log.add("landscape", step, frame.assign(step=step))
        if self.shift_lr is not None:
            frame = gradient_shift(net, *self.landscape, self.shift_lr)
            log.add("shift", step, frame.rename_axis("layer").reset_index()
                    .assign(step=step))  # fmt: skip

    def so_far(self) -> Watch | None:
        return self.watch() if "test_acc" in self.log else None

    def watch(self) -> Watch:
        return Watch.from_log(self.log, self.name, time.perf_counter() - self.start)


def instability(watch: Watch) -> pd.DataFrame:
    r"""The drift :math:`D` of every unit, in first widths, over three spans of time.

    :func:`bnlesson.training.recording.drift` compares two recordings of a unit's
    percentiles. Here it is taken between

    * ``one step``: each recording and the step before it, averaged over
      the recordings;
    * ``one interval``: consecutive recordings, averaged;
    * ``whole run``: the first and the last recording (lesson 07's).

    Returns
    -------
    pandas.DataFrame
        One row per unit, the three columns above.
    """
    p, b = watch.percentiles, watch.before
    if len(p) < 2:
        raise ValueError("instability needs at least two recordings")
    pairs = [(b[r], p[r]) for r in range(len(p))]
    steps = [(p[r], p[r + 1]) for r in range(len(p) - 1)]
    return pd.DataFrame({
        "one step": onp.mean([drift(onp.stack(x)) for x in pairs], axis=0),
        "one interval": onp.mean([drift(onp.stack(x)) for x in steps], axis=0),
        "whole run": drift(p),
    })  # fmt: skip


@dataclass
class Early:
    """What :func:`train_early` recorded.

    Attributes
    ----------
    update_ratios : pandas.DataFrame
        Index ``step`` (from 1), one column per Dense layer (``"layer 1"``,
        ..., ``"layer 4 (output)"``): :func:`bnlesson.lesson09.inside.update_ratio`
        of its weight.
    saturation : pandas.DataFrame
        Index ``step`` (from 0), one column per hidden layer: the
        :func:`bnlesson.lesson09.inside.saturated_fraction` of its sigmoids.
    activations, gradients : list of numpy.ndarray
        :func:`bnlesson.lesson09.inside.layer_stats` after the last step.
    """

    update_ratios: pd.DataFrame
    saturation: pd.DataFrame
    activations: list
    gradients: list


def train_early(
    net,
    train_iter: Iterable,
    X,
    y,
    num_steps: int,
    lr: float,
    every: int,
    device=None,
) -> Early:
    r"""Train `net` for `num_steps` SGD steps, watching every layer from inside.

    After every step it records each Dense layer's update ratio
    :math:`\|\Delta W\| / \|W\|`; before the first step and after every
    `every` steps, the saturated fraction of each hidden layer's sigmoids
    on the batch ``(X, y)``; after the last step, :func:`layer_stats` on it.

    Raises
    ------
    ValueError
        For a bad step count, interval or rate.
    TrainingDiverged
        At the first step whose loss is not finite; its ``history`` is the
        :class:`Early` so far (without `activations` and `gradients`).
    """
    record_steps(num_steps, every)  # both whole numbers of at least 1, or ValueError
    X, trainer, loss_fn = _start(net, X, lr, device)
    watcher = _Early(net, X, np.array(y, ctx=X.ctx), every)
    sgd_steps(net, endless(train_iter), num_steps, trainer, loss_fn, X.ctx,
              watcher=watcher)  # fmt: skip
    return watcher.early(num_steps)


class _Early(Watcher):
    """:func:`train_early`'s watcher: update ratios, and saturation every few steps."""

    def __init__(self, net, X, y, every: int):
        self.net, self.X, self.y, self.every, self.log = net, X, y, every, StepLog()
        self.dense = [block.weight for block in net if isinstance(block, nn.Dense)]
        self.names = [f"layer {i}" for i in range(1, len(self.dense) + 1)]
        self.names[-1] += " (output)"

    def _saturation(self, done: int) -> None:
        h, _ = layer_stats(self.net, self.X, self.y)
        self.log.add("saturation", done, [saturated_fraction(a) for a in h])

    def before(self, step: int) -> None:
        if (step - 1) % self.every == 0:
            self._saturation(step - 1)
        self.weights = [w.data().copy() for w in self.dense]

    def after(self, step: int, loss) -> None:
        ratios = [update_ratio(a, w.data()) for a, w in zip(self.weights, self.dense)]
        self.log.add("update_ratios", step, ratios)

    def so_far(self) -> Early:
        return self._early([], [])

    def early(self, num_steps: int) -> Early:
        """The run's Early: the last saturation and layer statistics are taken now."""
        self._saturation(num_steps)
        return self._early(*layer_stats(self.net, self.X, self.y))

    def _early(self, activations: list, gradients: list) -> Early:
        hidden = range(1, len(sigmoid_positions(self.net)) + 1)
        saturation = self.log.frame("saturation", [f"layer {i}" for i in hidden])
        ratios = self.log.frame("update_ratios", self.names)
        return Early(ratios, saturation, activations, gradients)
