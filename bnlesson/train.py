"""Training and evaluation loops that keep the device busy and record a History.

Unlike d2l's ``train_ch6``, nothing waits for the device inside an epoch: the
loss sum and the count of correct predictions are accumulated as MXNet arrays
on the device, and the host reads them once, at the end of the epoch. Reading
them after every batch (``float(l.sum())``, as ``d2l.Accumulator`` does)
would stall MXNet's asynchronous engine once per batch.
"""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Iterator, Sized
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple

import pandas as pd
from d2l import mxnet as d2l
from mxnet import autograd, gluon, init, np, npx
from mxnet.util import is_np_array

from . import divergence, models, plots
from .divergence import TrainingDiverged

FLOAT32_MAX = 3.4028235e38


@dataclass
class History:
    """Per-epoch metrics of one training run, as :func:`train` returns them.

    Attributes
    ----------
    loss, train_acc, test_acc : list of float
        Mean training loss, training accuracy (measured on the fly, in
        training mode, while the weights change) and test accuracy
        (prediction mode, after the epoch), one value per epoch.
    seconds : list of float
        Training time of each epoch, excluding the test evaluation.
    examples_per_sec : float
        Training examples processed per training second, over all epochs.
    device : str
        Where the run happened, e.g. ``"cpu(0)"`` or ``"gpu(0)"``.
    lr : float
        The learning rate.
    name : str, optional
        A label for tables and plots.
    """

    loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    examples_per_sec: float = 0.0
    device: str = ""
    lr: float = math.nan
    name: str | None = None

    @property
    def final_test_acc(self) -> float:
        """Test accuracy after the last epoch (NaN if there is none)."""
        return self.test_acc[-1] if self.test_acc else math.nan

    @property
    def best_test_acc(self) -> float:
        """Highest test accuracy of any epoch (NaN if there is none)."""
        return max(self.test_acc) if self.test_acc else math.nan

    @property
    def sec_per_epoch(self) -> float:
        """Median training seconds per epoch (robust to a slow first epoch)."""
        return statistics.median(self.seconds) if self.seconds else math.nan

    def to_frame(self) -> pd.DataFrame:
        """Return one row per epoch (index ``epoch``, from 1), one column per metric."""
        index = pd.RangeIndex(1, len(self.loss) + 1, name="epoch")
        columns = ("loss", "train_acc", "test_acc", "seconds")
        return pd.DataFrame({c: getattr(self, c) for c in columns}, index=index)


def require_np() -> None:
    if not is_np_array():
        raise RuntimeError(
            "bnlesson needs MXNet's NumPy interface: run `npx.set_np()` "
            "(from mxnet import npx) once before building and training nets."
        )


def check_num_epochs(num_epochs: int) -> None:
    """Refuse a number of epochs that is not a whole number of at least 1."""
    whole = isinstance(num_epochs, numbers.Integral)
    if not whole or isinstance(num_epochs, bool) or num_epochs < 1:
        raise ValueError(
            f"num_epochs must be a whole number of at least 1, not {num_epochs!r}"
        )


def check_lr(lr: float) -> None:
    """Refuse a learning rate MXNet's optimizers cannot take (they use float32)."""
    if not 0 < lr <= FLOAT32_MAX:
        raise ValueError(f"lr must be a positive float32 number, not {lr!r}")


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


def _diverged(epoch_result: Epoch, net, epoch: int, lr: float, history: History):
    cause, batch = epoch_result.trace.first_non_finite()
    has_bn = bool(models.batchnorm_layers(net))
    text = divergence.message(epoch_result.loss_sum, epoch, lr, cause, batch, has_bn)
    return TrainingDiverged(
        text, epoch=epoch, lr=lr, history=history, cause=cause, batch=batch
    )


def initialize(net, device) -> None:
    """Give `net` fresh Xavier weights on `device` and fresh moving statistics.

    ``initialize(force_reinit=True)`` re-draws every Parameter (Gluon's
    ``nn.BatchNorm`` keeps its running statistics in Parameters, reset
    alike); the from-scratch layers' moving statistics are plain arrays, so
    every block with a ``reset_running_stats()`` method is reset too. A
    second training run of the same net from the same seed thus repeats the
    first.
    """
    net.initialize(init.Xavier(), ctx=device, force_reinit=True)
    net.apply(_reset_running_stats)


def _reset_running_stats(block) -> None:
    reset = getattr(block, "reset_running_stats", None)
    if callable(reset):
        reset()


def check_batches(name: str, batches) -> None:
    """Refuse a data set that training cannot go through once per epoch."""
    if isinstance(batches, Iterator):
        raise ValueError(
            f"{name} is a one-shot iterator ({type(batches).__name__}): training "
            f"goes through it once per epoch, so from the second epoch on it "
            f"would be empty. Pass something that can be iterated again: a list "
            f"of (X, y) batches, a bnlesson.data.Batches or a "
            f"gluon.data.DataLoader."
        )
    if isinstance(batches, Sized) and len(batches) == 0:
        raise ValueError(
            f"{name} is empty: it holds no (X, y) batches. Check the data it was "
            f"made from (an empty slice or filter?)"
        )


def train(
    net,
    train_iter: Iterable,
    test_iter: Iterable,
    num_epochs: int,
    lr: float,
    device=None,
    *,
    verbose: bool = True,
    live: bool | None = None,
    name: str | None = None,
) -> History:
    r"""Train a classifier with minibatch SGD and the softmax cross-entropy loss.

    The lecture's loop (d2l's ``train_ch6``): `net` is (re)initialized with
    Xavier weights and fresh moving statistics on `device` (:func:`initialize`),
    then each step on a batch of size :math:`b`
    updates every parameter :math:`w` by
    :math:`w \leftarrow w - \frac{\eta}{b} \sum_{i=1}^{b} \nabla_w \ell_i`,
    with :math:`\eta` = `lr`. After each epoch the test accuracy is measured
    in prediction mode, and one line is printed::

        epoch 1, loss 0.6847, train acc 0.752, test acc 0.792, time 3.7 sec

    where ``time`` counts the training of that epoch only, not the test
    evaluation.

    Parameters
    ----------
    net : mxnet.gluon.Block
        The network, e.g. :func:`bnlesson.models.lenet`; its parameters are
        re-initialized (``force_reinit=True``).
    train_iter, test_iter : iterable of (X, y)
        Batches of images and integer labels, on any device. Both are
        iterated once per epoch, so they must be re-iterable (a list, a
        :class:`bnlesson.data.Batches`, a ``DataLoader``; not a generator).
    num_epochs : int
        At least 1.
    lr : float
        The learning rate :math:`\eta`, positive (and below float32's
        maximum, about 3.4e38).
    device : mxnet.Context, optional
        Defaults to ``d2l.try_gpu()``: the first GPU, else the CPU.
    verbose : bool
        Print the line above after every epoch.
    live : bool, optional
        Draw and update a plot of the curves as epochs finish; None means
        "when running in a notebook (an IPython kernel)".
    name : str, optional
        Stored as ``History.name``, the run's label in plots.

    Returns
    -------
    History
        The per-epoch metrics.

    Raises
    ------
    ValueError
        If `num_epochs` is not a whole number of at least 1, `lr` is not a
        positive float32 number, or `train_iter` or `test_iter` is empty or
        a one-shot iterator (checked before training; an epoch without
        batches is refused when it ends).
    RuntimeError
        If ``npx.set_np()`` has not been called.
    TrainingDiverged
        If the mean training loss of an epoch, or a weight after its last
        update, is NaN or infinite (checked at the end of each epoch). Its
        message and ``cause`` say whether the inputs, the loss or the
        parameters went non-finite first, and in which batch; it carries the
        epochs completed before.
    """
    require_np()
    check_num_epochs(num_epochs)
    check_lr(lr)
    check_batches("train_iter", train_iter)
    check_batches("test_iter", test_iter)
    device = d2l.try_gpu() if device is None else device
    initialize(net, device)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    history = History(device=str(device), lr=lr, name=name)
    # Not d2l.Animator: it switches matplotlib to SVG (which nbval compares
    # as text, so every run would differ) and calls clear_output, which
    # would also erase the lines printed for the previous epochs.
    board = _live_plot(num_epochs) if _want_live(live) else None
    examples = 0
    for epoch in range(1, num_epochs + 1):
        result = train_epoch(net, train_iter, loss, trainer, device)
        loss_sum, correct, n, seconds = result[:4]
        if n == 0:
            raise ValueError(
                f"train_iter yielded no batches in epoch {epoch}: it must give "
                f"the same batches every time it is iterated"
            )
        if not (math.isfinite(loss_sum) and result.params_finite):
            raise _diverged(result, net, epoch, lr, history)
        test_acc = evaluate_accuracy(net, test_iter, device)
        _record(history, loss_sum / n, correct / n, test_acc, seconds)
        examples += n
        history.examples_per_sec = examples / sum(history.seconds)
        if verbose:
            print(_epoch_line(history), flush=True)
        if board is not None:
            board.add(epoch, (loss_sum / n, correct / n, test_acc))
    return history


def _want_live(live: bool | None) -> bool:
    return plots.in_ipython_kernel() if live is None else live


def _live_plot(num_epochs: int) -> plots.LivePlot:
    # Shown before the first epoch, so it sits above the printed lines.
    board = plots.LivePlot(xlim=(1, num_epochs) if num_epochs > 1 else None)
    board.show()
    return board


def _record(history: History, loss, train_acc, test_acc, seconds) -> None:
    history.loss.append(loss)
    history.train_acc.append(train_acc)
    history.test_acc.append(test_acc)
    history.seconds.append(seconds)


def _epoch_line(history: History) -> str:
    return (
        f"epoch {len(history.loss)}, loss {history.loss[-1]:.4f}, "
        f"train acc {history.train_acc[-1]:.3f}, test acc {history.test_acc[-1]:.3f}, "
        f"time {history.seconds[-1]:.1f} sec"
    )
