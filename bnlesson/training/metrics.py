r"""What the training loop measures, without making the device wait inside an epoch.

Infrastructure for the training loop lesson 03 shows
(:func:`bnlesson.lesson03.train`): the test accuracy
(:func:`evaluate_accuracy`), the per-epoch sums of a training pass
(:class:`EpochMeter`), and the checks that refuse data training cannot use.

Unlike d2l's ``train_ch6``, nothing waits for the device inside an epoch: the
loss sum and the count of correct predictions are accumulated as MXNet arrays
on the device, and the host reads them once, at the end of the epoch. Reading
them after every batch (``float(l.sum())``, as ``d2l.Accumulator`` does)
would stall MXNet's asynchronous engine once per batch. Each step also feeds
a :class:`bnlesson.training.divergence.Trace`, read only when the epoch's loss is not
finite, to say what went non-finite first.
"""

from __future__ import annotations

import math
from typing import Iterable, NamedTuple

from d2l import mxnet as d2l
from mxnet import autograd, np, npx

from bnlesson.core.config import default_device
from bnlesson.training import divergence
from bnlesson.training.batchcheck import NUM_CLASSES, check_batch_pairs
from bnlesson.training.history import History, track_progress
from bnlesson.training.sgd import check_batches, check_num_epochs, require_np


def _correct(y_hat, y):
    """Number of correct predictions, as a float32 array (exact below 2**24)."""
    return (y_hat.argmax(axis=1).astype(y.dtype) == y).astype("float32").sum()


def parameter_device(net):
    """The device of `net`'s first parameter (the lessons' device if it has none)."""
    params = list(net.collect_params().values())
    return params[0].list_ctx()[0] if params else default_device()


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
    device = parameter_device(net) if device is None else device
    correct, n = np.zeros((), ctx=device), 0
    with autograd.pause(train_mode=False):
        for X, y in data_iter:
            X, y = X.as_in_ctx(device), y.as_in_ctx(device)
            correct = correct + _correct(net(X), y)
            n += y.shape[0]
    if n == 0:
        raise ValueError("evaluate_accuracy: data_iter yielded no examples")
    return correct.item() / n


def check_data(
    train_iter, test_iter, num_epochs: int, num_classes: int = NUM_CLASSES
) -> None:
    """Refuse, before any epoch, what training cannot use.

    ``npx.set_np()`` not called, a `num_epochs` that is not a whole number of
    at least 1, an empty or one-shot (iterator, generator) data set, and
    batches the loop cannot use (:func:`check_batch_pairs`): not ``(X, y)``
    pairs of MXNet arrays, not one label per example, labels that are not
    class numbers in ``[0, num_classes)``, test examples of another shape
    than the training examples.
    """
    require_np()
    check_num_epochs(num_epochs)
    check_batches("train_iter", train_iter)
    check_batches("test_iter", test_iter)
    check_batch_pairs(train_iter, test_iter, num_classes)


class Epoch(NamedTuple):
    """The totals of one training pass, read from the device at its end."""

    loss_sum: float
    correct: float
    examples: int
    seconds: float
    params_finite: bool


class EpochMeter:
    """Sums of one training epoch, kept on the device until :meth:`finish`.

    Create it at the start of the epoch (it starts the clock), call
    :meth:`add` after each ``trainer.step``, then :meth:`finish` once.
    Along the way it keeps the run's :class:`bnlesson.training.history.Progress` on
    `net`, so that a run stopped early leaves a net that says so.
    """

    def __init__(self, net, device):
        self.timer = d2l.Timer()
        self.loss_sum = np.zeros((), ctx=device)
        self.correct = np.zeros((), ctx=device)
        self.examples = 0
        self.trace = divergence.Trace(net, device)
        self.net = net
        self.progress = track_progress(net)
        self.progress.epoch += 1
        self.progress.batches = 0
        self.progress.in_epoch = True

    def add(self, X, y, y_hat, l) -> None:
        """Add one step: its batch `X`, labels `y`, scores `y_hat`, losses `l`."""
        batch_loss = l.sum()
        self.trace.add(X, batch_loss)
        self.loss_sum = self.loss_sum + batch_loss
        self.correct = self.correct + _correct(y_hat, y)
        self.examples += X.shape[0]
        self.progress.batches += 1

    def totals(self) -> Epoch:
        """Wait for the queued work, stop the clock, read the sums (one read)."""
        npx.waitall()  # the loop only queued work: time the real work
        seconds = self.timer.stop()
        sums = np.stack([self.loss_sum, self.correct, self.trace.health()])
        loss_sum, correct, health = (float(v) for v in sums.asnumpy())
        return Epoch(loss_sum, correct, self.examples, seconds, math.isfinite(health))

    def finish(
        self,
        history: History,
        epoch: int,
        num_epochs: int,
        lr: float,
        has_bn: bool | None = None,
    ) -> None:
        """Append epoch `epoch`'s loss, training accuracy and seconds to `history`.

        The net's :class:`bnlesson.training.history.Progress` then records epoch
        `epoch` of `num_epochs` as finished (the run is finished after the
        last); until then, the net reads as stopped inside the epoch.
        `has_bn` (the net has batch norm, found in the net when None)
        decides the advice if training diverged.

        Raises
        ------
        ValueError
            If the epoch saw no batches.
        TrainingDiverged
            If its loss, or a weight after its last update, is not finite:
            says what went non-finite first and in which batch.
        """
        result = self.totals()
        if result.examples == 0:
            raise ValueError(
                f"train_iter yielded no batches in epoch {epoch}: it must give "
                f"the same batches every time it is iterated"
            )
        divergence.check(
            result.loss_sum, lr, params_finite=result.params_finite, epoch=epoch,
            history=history, trace=self.trace, net=self.net, has_bn=has_bn,
        )  # fmt: skip
        _record(history, result)
        progress = self.progress
        progress.epoch, progress.num_epochs = epoch, num_epochs
        progress.history, progress.in_epoch = history, False


def _record(history: History, result: Epoch) -> None:
    n = result.examples
    # The examples of the epochs before, recovered exactly (a whole number)
    # from the rate over them.
    examples = round(history.examples_per_sec * sum(history.seconds)) + n
    history.loss.append(result.loss_sum / n)
    history.train_acc.append(result.correct / n)
    history.seconds.append(result.seconds)
    history.examples_per_sec = examples / sum(history.seconds)
