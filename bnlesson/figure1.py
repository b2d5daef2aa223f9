r"""Figure 1 of the batch-normalization paper: an MLP of sigmoids, with and without BN.

Ioffe and Szegedy (2015, section 4.1) train a network of three fully
connected hidden layers of 100 sigmoid units on MNIST, with mini-batches of
60, and show two things: with batch norm the test accuracy rises sooner and
higher (their panel a), and the input of a typical sigmoid of the last
hidden layer keeps a stable distribution, while without batch norm its
15th, 50th and 85th percentiles wander (panels b and c).

This module builds the two networks (:func:`mlp`), trains one while
recording, every few steps, the test accuracy and those three percentiles
(:func:`train_recording`, which returns a :class:`Recording`), and measures
how far the percentiles moved (:func:`drift`).

Recording is kept cheap so that it does not change what it measures: the
training loop never waits for the device between recordings (no
``.item()`` per step), and a recording runs the network once, in prediction
mode and without autograd, on a fixed batch of held-out images.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as onp
import pandas as pd
from d2l import mxnet as d2l
from mxnet import autograd, gluon, np, npx
from mxnet.gluon import nn

from .models import NORM_LAYERS
from .train import (
    TrainingDiverged,
    check_lr,
    evaluate_accuracy,
    initialize,
    require_np,
)

#: The percentiles the paper plots: a low one, the median and a high one.
PERCENTILES = (15, 50, 85)
#: The paper's hidden layers: three of 100 sigmoid units.
HIDDEN = (100, 100, 100)

__all__ = [
    "DRIFT_PARTS", "HIDDEN", "PERCENTILES", "Recording", "drift", "mlp", "record_steps",
    "sigmoid_input", "steps_to_reach", "train_recording",
]  # fmt: skip


def mlp(
    norm: str = "none", hidden: Sequence[int] = HIDDEN, num_outputs: int = 10
) -> nn.Block:
    r"""Return the paper's fully connected sigmoid network, with or without BN.

    Each hidden layer computes :math:`\sigma(Wx + b)`; with batch norm it
    computes :math:`\sigma(\mathrm{BN}(Wx))` instead: the bias :math:`b` is
    dropped because BN subtracts the batch mean, which removes any constant,
    and its shift :math:`\beta` takes the bias's role. For the paper's
    network (``hidden=(100, 100, 100)``, 10 classes)::

        Dense(100) [BN] sigmoid  Dense(100) [BN] sigmoid
        Dense(100) [BN] sigmoid  Dense(10)

    The first Dense layer flattens its input, so images of shape
    ``(N, 1, 28, 28)`` go in directly.

    Parameters
    ----------
    norm : {"none", "gluon", "scratch"}
        Which normalization goes before each sigmoid, as in
        :data:`bnlesson.models.NORM_LAYERS`: none, Gluon's compiled
        ``nn.BatchNorm`` (fast), or the lesson's
        :class:`bnlesson.layers.BatchNorm` (readable, slow).
    hidden : sequence of int
        Units of each hidden layer, at least one layer.
    num_outputs : int
        Units of the output layer (classes).

    Returns
    -------
    net : mxnet.gluon.nn.HybridSequential or mxnet.gluon.nn.Sequential
        Hybridizable unless ``norm="scratch"``; not initialized.

    Raises
    ------
    ValueError
        For an unknown `norm`, no hidden layer, or a size below 1.
    """
    try:
        make_norm = NORM_LAYERS[norm]
    except (KeyError, TypeError):
        choices = ", ".join(repr(name) for name in NORM_LAYERS)
        raise ValueError(f"norm must be one of {choices}, not {norm!r}") from None
    hidden = list(hidden)
    if not hidden:
        raise ValueError("hidden must name at least one hidden layer, e.g. (100,)")
    for size in [*hidden, num_outputs]:
        if int(size) != size or size < 1:
            raise ValueError(f"layer sizes must be positive integers, not {size!r}")
    blocks: list = []
    for units in hidden:
        norm_layers = [] if make_norm is None else [make_norm(units, 2)]
        blocks += [nn.Dense(units, use_bias=make_norm is None), *norm_layers,
                   nn.Activation("sigmoid")]  # fmt: skip
    blocks.append(nn.Dense(num_outputs))
    hybrid = all(isinstance(block, nn.HybridBlock) for block in blocks)
    net = nn.HybridSequential() if hybrid else nn.Sequential()
    net.add(*blocks)
    return net


def _sigmoid_positions(net) -> list[int]:
    return [
        i for i, block in enumerate(net)
        if isinstance(block, nn.Activation) and block._act_type == "sigmoid"
    ]  # fmt: skip


def _layer_position(net, layer: int) -> int:
    positions = _sigmoid_positions(net)
    if not positions:
        raise ValueError("net has no sigmoid layer: build it with bnlesson.figure1.mlp")
    if int(layer) != layer or not -len(positions) <= layer < len(positions):
        raise ValueError(
            f"layer must index one of the {len(positions)} hidden layers "
            f"(0 to {len(positions) - 1}, or -1 for the last), not {layer!r}"
        )
    return positions[layer]


def sigmoid_input(net, X, layer: int = -1):
    r"""Return what the sigmoids of hidden layer `layer` receive for inputs `X`.

    That is the pre-activation :math:`Wx + b`, or :math:`\mathrm{BN}(Wx)`
    when the network has batch norm, computed in prediction mode (BN uses
    its moving statistics) without recording, even inside
    ``autograd.record()``.

    Parameters
    ----------
    net : mxnet.gluon.nn.Sequential
        A network from :func:`mlp`, initialized.
    X : mxnet.np.ndarray
        A batch of inputs, on the network's device.
    layer : int
        Which hidden layer, from 0; -1 (the default) is the last one, the
        layer of the paper's figure.

    Returns
    -------
    mxnet.np.ndarray
        Shape ``(N, units)``, one column per sigmoid unit.
    """
    stop = _layer_position(net, layer)
    with autograd.pause(train_mode=False):
        for block in list(net)[:stop]:
            X = block(X)
    return X


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


@dataclass
class Recording:
    """What :func:`train_recording` saw, one row per recording.

    Attributes
    ----------
    steps : numpy.ndarray of int, shape (R,)
        The training steps (mini-batches) done at each recording.
    test_acc : numpy.ndarray, shape (R,)
        Test accuracy at each recording.
    loss : numpy.ndarray, shape (R,)
        Mean training loss over the steps since the previous recording.
    percentiles : numpy.ndarray, shape (R, U, 3)
        The 15th, 50th and 85th percentiles (:data:`PERCENTILES`) of each
        recorded unit's sigmoid input over the probe batch.
    units : tuple of int
        The recorded units of the layer, in the order of axis 1 above.
    layer : int
        The hidden layer the units belong to (-1: the last).
    lr, batch_size : float, int
        The run's learning rate and training batch size.
    seconds : float
        Wall time of the whole run, recordings included.
    record_seconds : float
        The part of `seconds` spent recording.
    name : str, optional
        A label for plots and tables.
    """

    steps: onp.ndarray
    test_acc: onp.ndarray
    loss: onp.ndarray
    percentiles: onp.ndarray
    units: tuple
    layer: int = -1
    lr: float = math.nan
    batch_size: int = 0
    seconds: float = 0.0
    record_seconds: float = 0.0
    name: str | None = None
    num_steps: int = field(default=0)

    @property
    def overhead(self) -> float:
        """Wall time over wall time without the recordings (1.0 = free)."""
        return self.seconds / (self.seconds - self.record_seconds)

    @property
    def ms_per_step(self) -> float:
        """Milliseconds per training step, recordings excluded."""
        return 1e3 * (self.seconds - self.record_seconds) / self.num_steps

    def unit_percentiles(self, unit: int) -> onp.ndarray:
        """Return the ``(R, 3)`` percentiles of `unit` (a unit number of the layer)."""
        if unit not in self.units:
            raise ValueError(f"unit {unit!r} was not recorded; recorded: {self.units}")
        return self.percentiles[:, self.units.index(unit), :]

    def drift(self, part: str = "total") -> onp.ndarray:
        """Return :func:`drift` of every recorded unit, shape ``(U,)``."""
        return drift(self.percentiles, part)

    def to_frame(self, unit: int | None = None) -> pd.DataFrame:
        """Return one row per recording (index ``step``): test_acc, loss, and,
        for a `unit`, its columns ``p15``, ``p50``, ``p85``."""
        frame = pd.DataFrame(
            {"test_acc": self.test_acc, "loss": self.loss},
            index=pd.Index(self.steps, name="step"),
        )
        if unit is not None:
            for q, column in zip(PERCENTILES, self.unit_percentiles(unit).T):
                frame[f"p{q}"] = column
        return frame


#: The parts of :func:`drift`: the shift of the median, the change of the width, both.
DRIFT_PARTS = ("median", "width", "total")


def drift(percentiles, part: str = "total") -> float | onp.ndarray:
    r"""How far a unit's input distribution moved from the first to the last recording.

    With :math:`m_t` the median and :math:`w_t = p_{85,t} - p_{15,t}` the
    width of the middle 70% at recording :math:`t = 1, \dots, R`, the drift
    is the shift of the median plus the change of the width, both in units
    of the first width:

    .. math::

        D = \underbrace{\frac{|m_R - m_1|}{w_1}}_{\text{median}}
          + \underbrace{\frac{|w_R - w_1|}{w_1}}_{\text{width}}.

    :math:`D = 0` means the same location and spread at the end as at the
    start; :math:`D = 1` means a move (or a stretch, or a shrink) as large
    as the distribution's own first width. Recordings between the first
    and the last do not count.

    Parameters
    ----------
    percentiles : array, shape (R, 3) or (R, U, 3)
        The 15th, 50th and 85th percentiles of one unit (or of U units) at
        R >= 2 recordings, as in :attr:`Recording.percentiles`.
    part : {"total", "median", "width"}
        :math:`D`, or only one of its two terms.

    Returns
    -------
    float or numpy.ndarray of shape (U,)

    Raises
    ------
    ValueError
        For fewer than two recordings, a last axis other than 3, a first
        width that is not positive (a constant unit has no scale to compare
        with), or an unknown `part`.
    """
    if part not in DRIFT_PARTS:
        raise ValueError(f"part must be one of {DRIFT_PARTS}, not {part!r}")
    p = onp.asarray(percentiles, dtype=onp.float64)
    if p.ndim not in (2, 3) or p.shape[-1] != 3:
        raise ValueError(
            f"percentiles must have shape (R, 3) or (R, U, 3): the 15th, 50th and "
            f"85th percentiles at R recordings; got shape {p.shape}"
        )
    if p.shape[0] < 2:
        raise ValueError("drift needs at least two recordings (a first and a last)")
    first, last = p[0], p[-1]
    width0, width1 = first[..., 2] - first[..., 0], last[..., 2] - last[..., 0]
    if onp.any(~(width0 > 0)):
        raise ValueError(
            "the 85th percentile must exceed the 15th at the first recording: a "
            "unit whose input is constant on the probe batch has no width to "
            "measure the drift against (leave it out of the recorded units)"
        )
    shift = onp.abs(last[..., 1] - first[..., 1]) / width0
    stretch = onp.abs(width1 - width0) / width0
    d = {"median": shift, "width": stretch, "total": shift + stretch}[part]
    return float(d) if d.ndim == 0 else d


def steps_to_reach(recording: Recording, accuracy: float) -> int | None:
    """Return the first recorded step whose test accuracy is at least `accuracy`.

    None when the run never got there.
    """
    if not 0 <= accuracy <= 1:
        raise ValueError(f"accuracy must be in [0, 1], not {accuracy!r}")
    hits = onp.flatnonzero(recording.test_acc >= accuracy)
    return int(recording.steps[hits[0]]) if hits.size else None


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
    net,
    train_iter: Iterable,
    test_iter: Iterable,
    probe,
    num_steps: int,
    lr: float,
    every: int | None,
    *,
    units: Sequence[int] | None = None,
    layer: int = -1,
    device=None,
    name: str | None = None,
) -> Recording:
    r"""Train `net` for `num_steps` SGD steps, recording as the paper's Figure 1 does.

    Each step takes the next mini-batch of `train_iter` (a new epoch starts
    when it runs out) and updates every weight :math:`w` by
    :math:`w \leftarrow w - \frac{\eta}{b}\sum_{i=1}^{b}\nabla_w \ell_i`
    (softmax cross-entropy :math:`\ell`, batch size :math:`b`,
    :math:`\eta` = `lr`). After every `every` steps, and after the last one
    (see :func:`record_steps`), it records

    * the test accuracy on `test_iter` (:func:`bnlesson.train.evaluate_accuracy`),
    * the mean training loss since the previous recording,
    * the 15th, 50th and 85th percentiles, over the images of `probe`, of
      the sigmoid input (:func:`sigmoid_input`) of each unit in `units` of
      hidden layer `layer`.

    `net` is (re)initialized with Xavier weights and fresh moving statistics
    on `device` (:func:`bnlesson.train.initialize`) and hybridized
    when it can be. The steps never wait for the device; each recording
    waits once, and its time is measured apart (:attr:`Recording.overhead`).

    Parameters
    ----------
    net : mxnet.gluon.nn.Sequential
        A network from :func:`mlp`.
    train_iter : iterable of (X, y)
        Training mini-batches, e.g. a shuffled :class:`bnlesson.data.Batches`;
        iterated again for each epoch.
    test_iter : iterable of (X, y)
        Held-out batches for the accuracy; copied to `device` once.
    probe : array, shape (N, ...)
        The fixed batch of held-out inputs the percentiles are taken over
        (NumPy or ``mxnet.np``).
    num_steps : int
        Training steps (mini-batches), at least 1.
    lr : float
        Learning rate :math:`\eta`, positive.
    every : int or None
        Record after every `every` steps; None records nothing (to time the
        bare training loop).
    units : sequence of int, optional
        Unit numbers of the layer to record; all of them by default.
    layer : int
        The hidden layer, -1 (the last) by default.
    device : mxnet.Context, optional
        Defaults to ``d2l.try_gpu()``: the first GPU, else the CPU.
    name : str, optional
        Stored as :attr:`Recording.name`.

    Returns
    -------
    Recording

    Raises
    ------
    ValueError
        For a step count, interval, rate, layer or unit out of range, or an
        empty probe or training iterator.
    TrainingDiverged
        If the training loss is not finite at a recording (or at the end).
    """
    require_np()
    schedule = record_steps(num_steps, every)
    check_lr(lr)
    if len(probe) == 0:
        raise ValueError("probe must hold at least one input")
    _layer_position(net, layer)  # a bad layer fails before any work
    device = d2l.try_gpu() if device is None else device
    initialize(net, device)  # fresh weights and moving statistics
    if isinstance(net, nn.HybridBlock):
        # One compiled graph per step, its memory planned once per input
        # shape: ~30% faster for the BN net than imperative execution.
        net.hybridize(static_alloc=True, static_shape=True)
    probe = np.array(probe, ctx=device)
    test = [(X.as_in_ctx(device), y.as_in_ctx(device)) for X, y in test_iter]
    width = sigmoid_input(net, probe[:1], layer).shape[1]
    units = _check_units(units, width)
    unit_index = np.array(units, dtype="int64", ctx=device)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()

    rows: list = []
    loss_sum, examples, batch_size = np.zeros((), ctx=device), 0, 0
    record_seconds, pending = 0.0, set(schedule)
    start = time.perf_counter()
    batches = _batches_forever(train_iter)
    for step in range(1, num_steps + 1):
        X, y = next(batches)
        X, y = X.as_in_ctx(device), y.as_in_ctx(device)
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(X.shape[0])
        # Stays on the device: reading it here would stall every step.
        loss_sum = loss_sum + l.sum()
        examples += X.shape[0]
        batch_size = max(batch_size, X.shape[0])
        if step in pending:
            npx.waitall()  # bill the queued training to training, not recording
            tic = time.perf_counter()
            mean_loss = _finite_mean_loss(loss_sum, examples, step, lr)
            acc = evaluate_accuracy(net, test, device)
            values = sigmoid_input(net, probe, layer)[:, unit_index].asnumpy()
            rows.append((step, acc, mean_loss, _percentiles(values)))
            loss_sum, examples = np.zeros((), ctx=device), 0
            record_seconds += time.perf_counter() - tic
    npx.waitall()
    seconds = time.perf_counter() - start
    if not rows and not math.isfinite(loss_sum.item()):
        raise TrainingDiverged(f"the training loss is not finite at rate {lr}", lr=lr)
    return Recording(
        steps=onp.array([r[0] for r in rows], dtype=int),
        test_acc=onp.array([r[1] for r in rows]),
        loss=onp.array([r[2] for r in rows]),
        percentiles=onp.array([r[3] for r in rows]).reshape(len(rows), len(units), 3),
        units=units, layer=layer, lr=lr, batch_size=batch_size, seconds=seconds,
        record_seconds=record_seconds, name=name, num_steps=num_steps,
    )  # fmt: skip


def _finite_mean_loss(loss_sum, examples: int, step: int, lr: float) -> float:
    """The mean training loss since the last record, or TrainingDiverged."""
    mean_loss = loss_sum.item() / examples
    if not math.isfinite(mean_loss):
        raise TrainingDiverged(
            f"the training loss became {mean_loss} by step {step} at learning "
            f"rate {lr}: lower the learning rate (try {lr / 10:g}).", lr=lr
        )  # fmt: skip
    return mean_loss


def _percentiles(values: onp.ndarray) -> onp.ndarray:
    """Return the :data:`PERCENTILES` of each column of `values`, shape ``(U, 3)``."""
    return onp.percentile(values, PERCENTILES, axis=0).T
