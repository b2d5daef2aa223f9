r"""Lesson 09's training runs: what the instruments of :mod:`bnlesson.lesson09` record.

* :func:`train_watching` trains one network of lesson 07's kind with SGD
  and records, at regular steps, the test accuracy, the percentiles of one
  hidden layer's sigmoid inputs (one step earlier too) and, optionally, the
  loss landscape along the gradient. It returns a :class:`Watch`.
* :func:`instability` turns those percentiles into lesson 07's drift
  :math:`D` over three spans of time.
* :func:`train_early` follows the first steps of training from inside:
  the update-to-weight ratio of every layer and the saturated sigmoids.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as onp
import pandas as pd
from mxnet import autograd, np
from mxnet.gluon import nn

from bnlesson.core.config import default_device
from bnlesson.lesson03 import batchnorm_layers
from bnlesson.lesson07 import record_steps
from bnlesson.lesson07.network import sigmoid_input
from bnlesson.lesson09 import (
    layer_stats,
    probe_landscape,
    saturated_fraction,
    update_ratio,
)  # fmt: skip
from bnlesson.training.divergence import diverged
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
    """

    name: str
    steps: onp.ndarray
    test_acc: onp.ndarray
    percentiles: onp.ndarray
    before: onp.ndarray
    landscape: pd.DataFrame
    seconds: float


def _start(net, probe, lr: float, device):
    """Initialize `net` as lesson 07 does; return the device-side probe and trainer."""
    require_np()
    device = default_device() if device is None else device
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
    layer: int = -1, name: str = "", device=None,
) -> Watch:  # fmt: skip
    r"""Train `net` for `num_steps` SGD steps of rate `lr`, recording every `every`.

    Each step updates :math:`w \leftarrow w - \eta\,\nabla\ell_B(w)` on the
    next mini-batch :math:`B` of `train_iter` (softmax cross-entropy, Xavier
    initialization). At every recording (:func:`bnlesson.lesson07.record_steps`)
    it stores the test accuracy on `test_iter`, the percentiles of hidden
    layer `layer`'s sigmoid inputs over the `probe` images (also one step
    earlier), and, when `landscape` is an ``(X, y)`` batch, the probe
    :func:`bnlesson.lesson09.probe_landscape` at step sizes `etas`.

    Raises
    ------
    ValueError
        For a bad step count, interval, rate or step sizes.
    TrainingDiverged
        If the training loss is not finite at a recording.
    """
    schedule = set(record_steps(num_steps, every))
    if landscape is not None and (not etas or min(etas) <= 0):
        raise ValueError(f"the landscape probe needs positive step sizes: {etas!r}")
    probe, trainer, loss_fn = _start(net, probe, lr, device)
    if landscape is not None:
        landscape = tuple(np.array(a, ctx=probe.ctx) for a in landscape)
    test = [(X.as_in_ctx(probe.ctx), y.as_in_ctx(probe.ctx)) for X, y in test_iter]
    batches = itertools.chain.from_iterable(itertools.repeat(train_iter))
    rows, probes = [], []
    start = time.perf_counter()
    for step in range(1, num_steps + 1):
        if step in schedule:
            before = _percentiles(net, probe, layer)
        X, y = (a.as_in_ctx(probe.ctx) for a in next(batches))
        with autograd.record():
            loss = loss_fn(net(X), y)
        loss.backward()
        trainer.step(X.shape[0])
        if step not in schedule:
            continue
        if not math.isfinite(mean_loss := loss.mean().item()):
            raise diverged(
                mean_loss, lr, step=step,
                history=_watch(name, rows, probes, time.perf_counter() - start)
                if rows else None,
                has_batch_norm=bool(batchnorm_layers(net)),
            )  # fmt: skip
        acc = evaluate_accuracy(net, test, probe.ctx)
        rows.append((step, acc, _percentiles(net, probe, layer), before))
        if landscape is not None:
            probes.append(probe_landscape(net, *landscape, etas).assign(step=step))
    return _watch(name, rows, probes, time.perf_counter() - start)


def _watch(name: str, rows: list, probes: list, seconds: float) -> Watch:
    """A Watch from the recordings (step, accuracy, percentiles, before)."""
    steps, acc, percentiles, before = (onp.array(column) for column in zip(*rows))
    frame = pd.concat(probes, ignore_index=True) if probes else pd.DataFrame()
    return Watch(name, steps, acc, percentiles, before, frame, seconds)


def instability(watch: Watch) -> pd.DataFrame:
    r"""Lesson 07's drift :math:`D` of every unit, over three spans of time.

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
        ..., ``"layer 4 (output)"``): :func:`bnlesson.lesson09.update_ratio`
        of its weight.
    saturation : pandas.DataFrame
        Index ``step`` (from 0), one column per hidden layer: the
        :func:`bnlesson.lesson09.saturated_fraction` of its sigmoids.
    activations, gradients : list of numpy.ndarray
        :func:`bnlesson.lesson09.layer_stats` after the last step.
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
    """
    record_steps(num_steps, every)  # both positive integers, or ValueError
    X, trainer, loss_fn = _start(net, X, lr, device)
    y = np.array(y, ctx=X.ctx)
    dense = [block.weight for block in net if isinstance(block, nn.Dense)]
    names = [f"layer {i}" for i in range(1, len(dense) + 1)]
    names[-1] += " (output)"
    batches = itertools.chain.from_iterable(itertools.repeat(train_iter))
    ratios, saturation = [], {}
    for step in range(num_steps + 1):
        if step % every == 0 or step == num_steps:
            h, _ = layer_stats(net, X, y)
            saturation[step] = [saturated_fraction(a) for a in h]
        if step == num_steps:
            break
        Xb, yb = (a.as_in_ctx(X.ctx) for a in next(batches))
        weights = [w.data().copy() for w in dense]
        with autograd.record():
            loss = loss_fn(net(Xb), yb)
        loss.backward()
        trainer.step(Xb.shape[0])
        ratios.append([update_ratio(a, w.data()) for a, w in zip(weights, dense)])
    activations, gradients = layer_stats(net, X, y)
    index = pd.RangeIndex(1, num_steps + 1, name="step")
    hidden = [f"layer {i}" for i in range(1, len(activations) + 1)]
    sat = pd.DataFrame.from_dict(saturation, orient="index", columns=hidden)
    return Early(pd.DataFrame(ratios, index=index, columns=names),
                 sat.rename_axis("step"), activations, gradients)  # fmt: skip
