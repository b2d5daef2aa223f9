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
a :class:`bnlesson.divergence.Trace`, read only when the epoch's loss is not
finite, to say what went non-finite first.
"""

from __future__ import annotations

import math
import random
from typing import Iterable, NamedTuple

import mxnet as mx
import numpy as onp
from d2l import mxnet as d2l
from mxnet import autograd, gluon, np, npx
from mxnet.gluon import nn

from . import divergence
from .data import Batches
from .history import History, track_progress
from .sgd import check_batches, check_num_epochs, require_np

#: Fashion-MNIST's classes; every network of the package has this many outputs.
NUM_CLASSES = 10


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


def check_batch_pairs(train_iter, test_iter, num_classes: int = NUM_CLASSES) -> None:
    """Refuse batches that would fail inside training, or train on wrong labels.

    Read cheaply, once: a :class:`bnlesson.data.Batches` is checked on its
    arrays (all its labels); a list or tuple of batches on every batch's
    labels; a Gluon ``DataLoader`` on its first batch, drawn with NumPy's
    and Python's random state put back afterwards, so that the run's
    shuffles are those it would have had without the check. Other iterables
    are not read: iterating one may change it (an epoch counter, a stream).

    Raises
    ------
    ValueError
        If a batch is not an ``(X, y)`` pair of MXNet arrays (plain NumPy
        arrays have no ``as_in_ctx``), `y` is not one label per example, a
        label is not a whole number in ``[0, num_classes)`` (a wrong label
        trains with a finite loss and no error), or the test examples'
        shape differs from the training examples' (which would fail only
        after a whole training epoch, in the test pass).
    """
    train_shape = _check_set("train_iter", train_iter, num_classes)
    test_shape = _check_set("test_iter", test_iter, num_classes)
    if None not in (train_shape, test_shape) and train_shape != test_shape:
        raise ValueError(
            f"test_iter's examples have shape {test_shape} but train_iter's "
            f"have shape {train_shape}: a network trained on one shape cannot "
            f"classify the other (it would fail after the first training "
            f"epoch). Give the test set the training set's shape (resize or "
            f"crop its images to {_size(train_shape)})."
        )


def _size(shape: tuple) -> str:
    return "x".join(str(n) for n in shape[-2:]) if len(shape) >= 2 else str(shape)


def _check_set(name: str, batches, num_classes: int) -> tuple | None:
    """Check one data set's batches; return the shape of one example (None: unread)."""
    if isinstance(batches, Batches):
        # Its whole label array, before its cast to int32 truncates 2.5 to 2.
        check_labels(name, batches.y, num_classes)
        return tuple(batches.X.shape[1:])
    if isinstance(batches, (list, tuple)):
        pairs = list(batches)
    elif isinstance(batches, gluon.data.DataLoader):
        pairs = [_first(name, batches)]
    else:
        return None
    shapes = [_check_pair(name, pair, number) for number, pair in enumerate(pairs, 1)]
    for _, y in pairs:
        check_labels(name, y, num_classes)
    return shapes[0]


def _first(name: str, batches):
    """The first batch of `batches`, with the global random generators put back."""
    # A shuffling DataLoader draws its order from NumPy's global generator
    # when iterated: the check must not change the run's shuffles.
    state, py_state = onp.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        return next(iter(batches))
    except StopIteration:
        raise ValueError(f"{name} yielded no batches: it is empty") from None
    finally:
        onp.random.set_state(state)  # noqa: NPY002
        random.setstate(py_state)


def _type_name(value) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _check_pair(name: str, pair, number: int) -> tuple:
    """Check one ``(X, y)`` batch; return the shape of one example."""
    try:
        X, y = pair
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must yield (X, y) pairs, a batch of inputs and its labels, "
            f"but its batch {number} is a {_type_name(pair)}"
        ) from None
    for what, array in (("inputs X", X), ("labels y", y)):
        if not isinstance(array, mx.nd.NDArray):  # mxnet.np.ndarray is one
            raise ValueError(
                f"{name} gives its {what} as {_type_name(array)}, but training "
                f"needs MXNet arrays (it moves them with .as_in_ctx): convert "
                f"each batch with mxnet.np.array(X) and mxnet.np.array(y), or "
                f"serve NumPy arrays as bnlesson.data.Batches(X, y, batch_size), "
                f"which does it"
            )
    if X.ndim < 1 or y.ndim != 1 or y.shape[0] != X.shape[0]:
        examples = X.shape[0] if X.ndim else 0
        raise ValueError(
            f"{name}'s batch {number} has {examples} examples (X of shape "
            f"{tuple(X.shape)}) but labels y of shape {tuple(y.shape)}: give one "
            f"label per example, a vector of shape ({examples},)"
        )
    return tuple(X.shape[1:])


def check_labels(name: str, labels, num_classes: int = NUM_CLASSES) -> None:
    """Refuse labels that are not class numbers, whole numbers in ``[0, num_classes)``.

    Softmax cross-entropy reads a label as the index of the right class's
    score: an index out of range, or a fraction, gives a finite loss and an
    accuracy of 0, not an error. Float labels with whole values (3.0) are
    accepted.

    Raises
    ------
    ValueError
        Naming the offending values (at most three) and the likely fix.
    """
    y = labels.asnumpy() if hasattr(labels, "asnumpy") else onp.asarray(labels)
    y = y.ravel()
    if y.dtype.kind == "f":
        fractional = y[~(onp.isfinite(y) & (y == onp.round(y)))]
        if fractional.size:
            raise ValueError(
                f"{name}'s labels must be class numbers, whole numbers from 0 to "
                f"{num_classes - 1}, but they include {_some(fractional)}: a "
                f"label is the index of the right class, not a score or a "
                f"probability. Check how the labels were made."
            )
    elif y.dtype.kind not in "iub":
        raise ValueError(
            f"{name}'s labels must be class numbers (integers), not an array of "
            f"dtype {y.dtype}"
        )
    outside = y[(y < 0) | (y >= num_classes)]
    if outside.size:
        raise ValueError(
            f"{name}'s labels must be class numbers from 0 to {num_classes - 1} "
            f"(there are {num_classes} classes), but they include "
            f"{_some(outside)}: labels counted from 1 must be shifted down "
            f"(y - 1), and examples without a class (e.g. -1) removed."
        )


def _some(values: onp.ndarray) -> str:
    """At most three of the distinct `values`, e.g. ``-1, 10``."""
    distinct = onp.unique(values)
    shown = ", ".join(f"{v:g}" for v in distinct[:3].tolist())
    return shown + (", ..." if len(distinct) > 3 else "")


def num_classes(net, default: int = NUM_CLASSES) -> int:
    """The outputs of `net`'s last layer if it is a ``Dense``, else `default`.

    Read from the layer's settings, without running the network: the last
    block of a (nested) ``Sequential``.
    """
    block = net
    # Gluon 1.x has no public accessor for a Block's children (see
    # bnlesson.lesson03.batchnorm_layers).
    while getattr(block, "_children", None):
        block = list(block._children.values())[-1]
    units = getattr(block, "_units", None) if isinstance(block, nn.Dense) else None
    return units if isinstance(units, int) and units > 0 else default


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
    Along the way it keeps the run's :class:`bnlesson.history.Progress` on
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

        The net's :class:`bnlesson.history.Progress` then records epoch
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
        if not (math.isfinite(result.loss_sum) and result.params_finite):
            if has_bn is None:
                from .lesson03 import find_batchnorm_layers  # imports this module

                has_bn = bool(find_batchnorm_layers(self.net))
            cause, batch = self.trace.first_non_finite()
            raise divergence.diverged(
                result.loss_sum, lr, epoch=epoch, history=history, cause=cause,
                batch=batch, has_batch_norm=has_bn,
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
