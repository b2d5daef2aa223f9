r"""Lesson 09's training runs: what the instruments of :mod:`bnlesson.lesson09` record.

* :func:`train_watching` trains one network of lesson 07's kind with SGD
  and records, at regular steps, the test accuracy, the percentiles of one
  hidden layer's sigmoid inputs (one step earlier too) and, optionally, the
  loss landscape along the gradient. It returns a :class:`Watch`.
* :func:`instability` turns those percentiles into a drift in first widths
  :math:`D` over three spans of time.
* :func:`train_early` follows the first steps of training from inside:
  the update-to-weight ratio of every layer and the saturated sigmoids.

The records they return, and the watchers that record them, are in
:mod:`bnlesson.lesson09.recorders`.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as onp
import pandas as pd
from mxnet import np

from bnlesson.core.config import device_or_default
from bnlesson.lesson07 import record_steps
from bnlesson.lesson09.recorders import Early, EarlyRecorder, Watch, WatchRecorder
from bnlesson.training.loop import endless, sgd_steps
from bnlesson.training.recording import drift
from bnlesson.training.sgd import require_np, sgd_setup

__all__ = ["instability", "train_early", "train_watching"]


def _start(net, probe, lr: float, device):
    """Initialize `net` as lesson 07 does; return the device-side probe and trainer."""
    require_np()
    device = device_or_default(device)
    trainer, loss = sgd_setup(net, lr, device)
    probe = np.array(probe, ctx=device)
    net(probe[:2])  # settle deferred shapes before anything reads the weights
    return probe, trainer, loss


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
    watcher = WatchRecorder(net, probe, layer, schedule, test, landscape, etas, name)
    watcher.shift_lr = lr if shift else None
    sgd_steps(net, endless(train_iter), num_steps, trainer, loss_fn, probe.ctx,
              watcher=watcher, check_at=schedule)  # fmt: skip
    return watcher.watch()


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
    watcher = EarlyRecorder(net, X, np.array(y, ctx=X.ctx), every)
    sgd_steps(net, endless(train_iter), num_steps, trainer, loss_fn, X.ctx,
              watcher=watcher)  # fmt: skip
    return watcher.early(num_steps)
