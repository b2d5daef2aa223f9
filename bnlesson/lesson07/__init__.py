r"""Lesson 07: Figure 1 of the batch-normalization paper, and its recording loop.

Ioffe and Szegedy (2015, section 4.1) train a network of three fully
connected hidden layers of 100 sigmoid units on MNIST, with mini-batches of
60, and show two things: with batch norm the test accuracy rises sooner and
higher (their panel a), and the input of a typical sigmoid of the last
hidden layer keeps a stable distribution, while without batch norm its
15th, 50th and 85th percentiles wander (panels b and c).

``notebooks/07_paper_figure_1.ipynb`` shows :func:`train_recording`, the
loop that trains one of the two networks (:func:`.network.mlp`, the paper's
network) and records, every few steps, the test accuracy and those
percentiles; this is its copy, with checks of its arguments. What one
recording holds (:class:`bnlesson.training.recording.Recording`) and how far
the percentiles moved, in the units of the sigmoid's input
(:func:`.drift.absolute_drift`), are in their own modules, as are the
paper's initial weights (:data:`.network.PAPER_INIT`), Figure 1 with a zoom
(:func:`.figure.plot_figure1`) and the measure that tells the moving
statistics' share of the wobble from SGD's (:func:`.wobble.frozen_weights`).
"""

from __future__ import annotations

import itertools
import time
from typing import Iterable

from mxnet import autograd, np, npx

from bnlesson.core.arguments import check_whole
from bnlesson.core.config import default_device
from bnlesson.lesson07.network import layer_position, sigmoid_input
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.recording import Recording, check_loss, column_percentiles
from bnlesson.training.sgd import check_batches, check_lr, require_np, sgd_setup


def record_steps(num_steps: int, every: int) -> list[int]:
    """Return the steps after which :func:`train_recording` records.

    Every multiple of `every` up to `num_steps`, and `num_steps` itself, so
    that the trained network is always recorded.
    """
    check_whole("num_steps", num_steps, "num_steps=1000")
    check_whole("every", every, "every=100")
    steps = list(range(every, num_steps + 1, every))
    return steps if steps and steps[-1] == num_steps else [*steps, num_steps]


def _check_arguments(net, train_iter, probe, num_steps, lr, every) -> None:
    """Refuse, before any work, what :func:`train_recording` cannot run."""
    require_np()
    record_steps(num_steps, every)
    check_lr(lr)
    check_batches("train_iter", train_iter)
    if len(probe) == 0:
        raise ValueError("probe must hold at least one input")
    layer_position(net, -1)  # a network with sigmoids, or a ValueError


# Shown in lesson 07, "The recording loop"; the same code after the checks.
def train_recording(net, train_iter: Iterable, test_iter: Iterable, probe, *,
                    num_steps: int, lr: float, every: int, device=None,
                    name: str | None = None) -> Recording:  # fmt: skip
    r"""Train `net` for `num_steps` SGD steps, recording as the paper's Figure 1 does.

    Each step takes the next mini-batch of `train_iter` (a new epoch starts
    when it runs out) and updates every weight by
    :math:`w \leftarrow w - \frac{\eta}{b}\sum_{i=1}^{b}\nabla_w \ell_i`
    (:func:`bnlesson.training.sgd.sgd_setup`: fresh Xavier weights and moving
    statistics, softmax cross-entropy, :math:`\eta` = `lr`, hybridized).
    After every `every` steps and after the last one
    (:func:`record_steps`) it records the test accuracy on `test_iter`, the
    mean training loss since the previous recording, and the 15th, 50th and
    85th percentiles over the `probe` inputs of every sigmoid input
    (:func:`.network.sigmoid_input`, prediction mode) of the last hidden
    layer. The steps never wait for the device; each recording waits once
    and is timed apart (:attr:`Recording.overhead`).

    A recording must not change what it measures, nor cost much: it runs in
    prediction mode with autograd paused (nothing is learned, batch norm's
    moving statistics are read, not updated), so a run gives the same
    weights however often it records (``tests/lessons/test_lesson07.py``);
    it is one pass over `test_iter` and one over `probe` every `every`
    steps, a few percent of the run at the lesson's sizes (5.6% without
    and 6.7% with batch norm, recording every 500 steps of 60 images, in
    one measured run). Timing the recordings inside the run, after
    ``npx.waitall()`` has let the queued steps finish, measures that share
    directly; two separate runs with and without recording would measure
    the machine's other load, which changes a whole run's speed by more.

    Parameters
    ----------
    net : mxnet.gluon.nn.Sequential
        A network from :func:`.network.mlp`; its weights are re-drawn.
    train_iter, test_iter : iterable of (X, y)
        Training mini-batches (iterable again and again), held-out batches.
    probe : array, shape (N, ...)
        The fixed held-out inputs of the percentiles (NumPy or ``mxnet.np``).
    num_steps, every : int
        Training steps and the recording interval, both at least 1.
    lr : float
        Learning rate :math:`\eta`, positive.
    device : mxnet.Context, optional
        Defaults to :func:`~bnlesson.core.config.default_device`: the first GPU,
        else the CPU.
    name : str, optional
        The :class:`Recording`'s label.

    Raises
    ------
    ValueError
        For a step count, interval or rate out of range, an empty probe or
        training set, or a network without sigmoids.
    TrainingDiverged
        If the training loss is not finite at a recording; its ``step`` says
        when and its ``history`` holds the recordings before.
    """
    _check_arguments(net, train_iter, probe, num_steps, lr, every)
    device = default_device() if device is None else device
    trainer, loss = sgd_setup(net, lr, device, hybridize=True)
    probe = np.array(probe, ctx=device)
    batches = itertools.chain.from_iterable(itertools.repeat(train_iter))
    rows, loss_sum, n = [], np.zeros((), ctx=device), 0
    start, record_seconds = time.perf_counter(), 0.0
    for step in range(1, num_steps + 1):
        X, y = (a.as_in_ctx(device) for a in next(batches))
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(X.shape[0])
        loss_sum, n = loss_sum + l.sum(), n + X.shape[0]  # stays on the device
        if step % every == 0 or step == num_steps:
            npx.waitall()  # the queued steps are training time, not recording
            tic = time.perf_counter()
            mean_loss = check_loss(loss_sum.item() / n, lr=lr, step=step, rows=rows)
            acc = evaluate_accuracy(net, test_iter, device)
            Z = sigmoid_input(net, probe).asnumpy()  # (probe size, units)
            rows.append((step, acc, mean_loss, column_percentiles(Z)))
            loss_sum, n = np.zeros((), ctx=device), 0
            record_seconds += time.perf_counter() - tic
    return Recording.from_rows(
        rows, name=name, lr=lr, num_steps=num_steps,
        seconds=time.perf_counter() - start, record_seconds=record_seconds,
    )  # fmt: skip
