r"""What the training loop measures, without making the device wait inside an epoch.

Infrastructure for the training loop lesson 03 shows
(:func:`bnlesson.lesson03.train`): the test accuracy
(:func:`evaluate_accuracy`) and the checks that refuse data training cannot
use; the epoch's sums are read by
:class:`bnlesson.training.bookkeeping.TrainingLog`.

Unlike d2l's ``train_ch6``, nothing waits for the device inside an epoch
(here when counting test accuracy, there when training): sums are
accumulated as MXNet arrays on the device, and the host reads them once, at
the end. Reading
them after every batch (``float(l.sum())``, as ``d2l.Accumulator`` does)
would stall MXNet's asynchronous engine once per batch.
"""

from __future__ import annotations

from typing import Iterable

from mxnet import autograd, np

from bnlesson.core.config import default_device
from bnlesson.training.batchcheck import NUM_CLASSES, check_batch_pairs
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
