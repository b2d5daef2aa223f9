"""Checks of the batches a training loop is given, before it trains on them.

A label out of range or a fraction trains with a finite loss and no error;
a test set of another image shape, plain NumPy batches or one label too few
fail only inside training, with MXNet's shape message. These checks read
the data once, cheaply, and say what to do instead.
"""

from __future__ import annotations

import random

import mxnet as mx
import numpy as onp
from mxnet import gluon
from mxnet.gluon import nn

from bnlesson.data import Batches

#: Fashion-MNIST's classes; every network of the package has this many outputs.
NUM_CLASSES = 10


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
