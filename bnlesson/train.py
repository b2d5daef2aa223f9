"""Training and evaluation loops that keep the device busy and record a History.

Unlike d2l's ``train_ch6``, nothing waits for the device inside an epoch: the
loss sum and the count of correct predictions are accumulated as MXNet arrays
on the device, and the host reads them once, at the end of the epoch. Reading
them after every batch (``float(l.sum())``, as ``d2l.Accumulator`` does)
would stall MXNet's asynchronous engine once per batch.
"""

from __future__ import annotations

import math
from typing import Iterable, NamedTuple

from d2l import mxnet as d2l
from mxnet import autograd, np, npx

from . import divergence, lesson03, live
from .divergence import TrainingDiverged
from .history import History
from .sgd import check_batches, check_num_epochs, require_np, sgd_setup

__all__ = ["History", "TrainingDiverged", "evaluate_accuracy", "train", "train_epoch"]


def _correct(y_hat, y):
    """Number of correct predictions, as a float32 array (exact below 2**24)."""
    return (y_hat.argmax(axis=1).astype(y.dtype) == y).astype("float32").sum()


def _parameter_device(net):
    params = list(net.collect_params().values())
    return params[0].list_ctx()[0] if params else d2l.try_gpu()


def evaluate_accuracy(net, data_iter: Iterable, device=None) -> float:
    r"""Return the fraction of examples of `data_iter` that `net` classifies right.

    .. math:: \text{accuracy} = \frac{1}{n} \sum_{i=1}^{n}
        [\arg\max_k \hat y_{ik} = y_i]

    The network runs in prediction mode (batch norm uses its moving
    statistics), without recording, even if called inside
    ``autograd.record()``. The count stays on the device until the end.

    Parameters
    ----------
    net : mxnet.gluon.Block
        An initialized classifier returning one score per class.
    data_iter : iterable of (X, y)
        Batches of inputs and integer labels, on any device.
    device : mxnet.Context, optional
        Where to compute; defaults to the device of `net`'s first parameter.

    Returns
    -------
    accuracy : float
        In [0, 1].
    """
    require_np()
    device = _parameter_device(net) if device is None else device
    correct, n = np.zeros((), ctx=device), 0
    with autograd.pause(train_mode=False):
        for X, y in data_iter:
            X, y = X.as_in_ctx(device), y.as_in_ctx(device)
            correct = correct + _correct(net(X), y)
            n += y.shape[0]
    if n == 0:
        raise ValueError("evaluate_accuracy: data_iter yielded no examples")
    return correct.item() / n


class Epoch(NamedTuple):
    """What :func:`train_epoch` returns: totals over the epoch, and its trace."""

    loss_sum: float
    correct: float
    examples: int
    seconds: float
    params_finite: bool
    trace: divergence.Trace


def train_epoch(net, train_iter, loss, trainer, device) -> Epoch:
    """One pass over `train_iter`: loss sum, correct count, examples, seconds.

    Also returns whether the parameters are finite after the last update and
    the :class:`bnlesson.divergence.Trace` that says, if not, what went
    non-finite first.
    """
    timer = d2l.Timer()
    loss_sum, correct = np.zeros((), ctx=device), np.zeros((), ctx=device)
    n, trace = 0, divergence.Trace(net, device)
    for X, y in train_iter:
        X, y = X.as_in_ctx(device), y.as_in_ctx(device)
        with autograd.record():
            y_hat = net(X)
            l = loss(y_hat, y)
        l.backward()
        trainer.step(X.shape[0])
        batch_loss = l.sum()
        trace.add(X, batch_loss)
        loss_sum = loss_sum + batch_loss
        correct = correct + _correct(y_hat, y)
        n += X.shape[0]
    # The loop only queued work; wait for it so the time is the real one.
    npx.waitall()
    seconds = timer.stop()
    totals = np.stack([loss_sum, correct, trace.health()]).asnumpy()  # one read
    loss_total, correct_total, health = (float(v) for v in totals)
    return Epoch(loss_total, correct_total, n, seconds, math.isfinite(health), trace)


def train(
    net, train_iter: Iterable, test_iter: Iterable, num_epochs: int, lr: float,
    device=None, *, verbose: bool = True, live: bool | None = None,
    name: str | None = None,
) -> History:  # fmt: skip
    r"""Train a classifier with minibatch SGD and the softmax cross-entropy loss.

    The lecture's loop (d2l's ``train_ch6``): `net` gets fresh Xavier weights
    and moving statistics on `device` (:func:`bnlesson.sgd.sgd_setup`), then
    each step on a batch of size :math:`b` updates every parameter by
    :math:`w \leftarrow w - \frac{\eta}{b} \sum_{i=1}^{b} \nabla_w \ell_i`
    (:math:`\eta` = `lr`). After each epoch the test accuracy is measured in
    prediction mode and, if `verbose`, one line is printed (``time``: the
    epoch's training only)::

        epoch 1, loss 0.6847, train acc 0.752, test acc 0.792, time 3.7 sec

    Parameters
    ----------
    net : mxnet.gluon.Block
        The network, e.g. :func:`bnlesson.lesson03.lenet`; re-initialized.
    train_iter, test_iter : iterable of (X, y)
        Batches iterated once per epoch: a list, a ``DataLoader``, a
        :class:`bnlesson.data.Batches`. `num_epochs` is at least 1.
    device : mxnet.Context, optional
        Defaults to ``d2l.try_gpu()``: the first GPU, else the CPU.
    live : bool, optional
        Redraw a plot of the curves after each epoch; None: in a notebook.
    name : str, optional
        ``History.name``, the run's label in plots.

    Raises
    ------
    ValueError
        For a bad `num_epochs` or `lr`, an empty or one-shot `train_iter` or
        `test_iter` (before training), or an epoch without batches.
    TrainingDiverged
        If an epoch's loss, or a weight after its last update, is NaN or
        infinite; it says whether the inputs, the loss or the parameters went
        non-finite first, in which batch, and carries the epochs before.
    """
    require_np()
    check_num_epochs(num_epochs)
    check_batches("train_iter", train_iter)
    check_batches("test_iter", test_iter)
    device = d2l.try_gpu() if device is None else device
    trainer, loss = sgd_setup(net, lr, device)
    history = History(device=str(device), lr=lr, name=name)
    board = _live_plot(num_epochs) if _want_live(live) else None
    for epoch in range(1, num_epochs + 1):
        result = train_epoch(net, train_iter, loss, trainer, device)
        _check_epoch(result, net, epoch, lr, history)
        _record(history, result, evaluate_accuracy(net, test_iter, device))
        if verbose:
            print(_epoch_line(history), flush=True)
        if board is not None:
            board.add(epoch, (history.loss[-1], history.train_acc[-1],
                              history.test_acc[-1]))  # fmt: skip
    return history


def _check_epoch(result: Epoch, net, epoch: int, lr: float, history: History):
    """Refuse an epoch without batches; raise TrainingDiverged for a NaN one."""
    if result.examples == 0:
        raise ValueError(
            f"train_iter yielded no batches in epoch {epoch}: it must give "
            f"the same batches every time it is iterated"
        )
    if not (math.isfinite(result.loss_sum) and result.params_finite):
        cause, batch = result.trace.first_non_finite()
        raise divergence.diverged(
            result.loss_sum, lr, epoch=epoch, history=history, cause=cause,
            batch=batch, has_batch_norm=bool(lesson03.batchnorm_layers(net)),
        )  # fmt: skip


def _want_live(want: bool | None) -> bool:
    return live.in_ipython_kernel() if want is None else want


def _live_plot(num_epochs: int) -> live.LivePlot:
    # Not d2l.Animator: it switches matplotlib to SVG (which nbval compares
    # as text, so every run would differ) and calls clear_output, which
    # would also erase the lines printed for the previous epochs. Shown
    # before the first epoch, so it sits above the printed lines.
    board = live.LivePlot(xlim=(1, num_epochs) if num_epochs > 1 else None)
    board.show()
    return board


def _record(history: History, result: Epoch, test_acc: float) -> None:
    n = result.examples
    # The examples of the epochs before, recovered exactly (a whole number)
    # from the rate over them.
    examples = round(history.examples_per_sec * sum(history.seconds)) + n
    history.loss.append(result.loss_sum / n)
    history.train_acc.append(result.correct / n)
    history.test_acc.append(test_acc)
    history.seconds.append(result.seconds)
    history.examples_per_sec = examples / sum(history.seconds)


def _epoch_line(history: History) -> str:
    return (
        f"epoch {len(history.loss)}, loss {history.loss[-1]:.4f}, "
        f"train acc {history.train_acc[-1]:.3f}, test acc {history.test_acc[-1]:.3f}, "
        f"time {history.seconds[-1]:.1f} sec"
    )
