"""What lesson 09's runs record, and the watchers that record it during training.

:class:`Watch` is what :func:`bnlesson.lesson09.runs.train_watching`
returns, recorded by :class:`WatchRecorder`; :class:`Early` is what
:func:`bnlesson.lesson09.runs.train_early` returns, recorded by
:class:`EarlyRecorder`. Both recorders are watchers of the shared training
loop (:class:`bnlesson.training.loop.Watcher`): they measure the network
before and after the steps they are given, and hand over what they have so
far when the run diverges.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as onp
import pandas as pd
from mxnet.gluon import nn

from bnlesson.lesson07.network import sigmoid_input, sigmoid_positions
from bnlesson.lesson09 import probe_landscape
from bnlesson.lesson09.inside import (
    gradient_shift,
    layer_stats,
    saturated_fraction,
    update_ratio,
)  # fmt: skip
from bnlesson.training.loop import StepLog, Watcher
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.recording import column_percentiles


@dataclass
class Watch:
    """What :func:`~.runs.train_watching` recorded, one row per recording.

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
        """The Watch of ``train_watching``'s log: its finished recordings."""
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


def _percentiles(net, probe, layer: int) -> onp.ndarray:
    # in training mode: prediction mode would hide the noise layers' noise
    values = sigmoid_input(net, probe, layer, training=True).asnumpy()
    return column_percentiles(values)


class WatchRecorder(Watcher):
    """``train_watching``'s watcher: what it records at the scheduled steps."""

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


@dataclass
class Early:
    """What :func:`~bnlesson.lesson09.runs.train_early` recorded.

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


class EarlyRecorder(Watcher):
    """``train_early``'s watcher: update ratios, and saturation every few steps."""

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
