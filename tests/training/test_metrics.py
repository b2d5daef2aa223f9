"""What the training loop measures (``bnlesson.training.metrics``): the
device of a net; whether it has batch norm; the test accuracy, counted by
hand; the data checks (``check_data``) on their own.

What ``check_data`` refuses, as a student meets it through lesson 03's
``train``, is tested in tests/lessons/test_lesson03_train.py."""

import mxnet as mx
import numpy as onp
import pytest
import trainsets
from mxnet import autograd, np, npx
from mxnet.gluon import nn
from numpy.testing import assert_equal
from trainsets import BATCH, as_loader, as_mx_batches

from bnlesson import data
from bnlesson.core.config import set_seed
from bnlesson.lesson02 import BatchNorm
from bnlesson.training.divergence import has_batch_norm
from bnlesson.training.metrics import (
    check_data,
    evaluate_accuracy,
    parameter_device,
)

DEVICE = mx.cpu()


@pytest.fixture(scope="module")
def batches():
    """Three batches of 8 real test images, flattened, and their labels."""
    return [(np.array(X), np.array(y)) for X, y in trainsets.flat_test_batches()]


def test_a_net_is_where_its_first_parameter_is(monkeypatch):
    net = nn.Dense(3, in_units=2)
    net.initialize(ctx=mx.cpu(1))
    assert parameter_device(net) == mx.cpu(1)
    # Without parameters: the lessons' device.
    monkeypatch.setenv("BNLESSON_DEVICE", "cpu:2")
    assert parameter_device(nn.Activation("relu")) == mx.cpu(2)


def nested(*layers):
    inner = nn.Sequential()
    inner.add(*layers)
    outer = nn.Sequential()
    outer.add(nn.Dense(4), inner)
    return outer


@pytest.mark.parametrize(
    "net, expected",
    [(nn.BatchNorm(), True), (BatchNorm(4, 2), True),
     (nested(nn.Dense(4), nn.BatchNorm()), True),
     (nested(nn.Dense(4), BatchNorm(4, 2)), True),
     (nested(nn.Dense(4), nn.LayerNorm()), False),
     (nested(nn.Dense(4), nn.Activation("sigmoid")), False), (nn.Dense(3), False)],
    ids=["gluon", "scratch", "nested gluon", "nested scratch", "layer norm",
         "plain", "dense"],
)  # fmt: skip
def test_batch_norm_is_found_at_any_depth(net, expected):
    assert has_batch_norm(net) is expected


# --- evaluate_accuracy -----------------------------------------------------


class Oracle(nn.Block):
    """Predicts the class written in the first feature; notes the autograd mode."""

    def __init__(self):
        super().__init__()
        self.modes = []

    def forward(self, X):
        self.modes.append((autograd.is_training(), autograd.is_recording()))
        return npx.one_hot(X[:, 0].astype("int32"), 10)


def test_evaluate_accuracy_counts_by_hand():
    predicted = onp.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3], dtype=onp.float32)
    labels = onp.array([0, 1, 2, 0, 0, 5, 6, 0, 8, 0, 3], dtype=onp.int32)
    batches = data.Batches(predicted[:, None], labels, batch_size=4)  # 4, 4, 3
    net = Oracle()
    assert evaluate_accuracy(net, batches, mx.cpu()) == 7 / 11
    with autograd.record():  # still prediction mode, nothing recorded
        assert evaluate_accuracy(net, batches, mx.cpu(1)) == 7 / 11
    assert net.modes == [(False, False)] * 6


def test_evaluate_accuracy_refuses_empty_data():
    with pytest.raises(ValueError, match="no examples"):
        evaluate_accuracy(Oracle(), [], mx.cpu())


# --- check_data, called on its own -----------------------------------------


def test_test_labels_are_checked_too_and_whole_float_labels_accepted(arrays):
    X, y, Xt, yt = arrays
    yt = yt.copy()
    yt[-1] = 10  # Batches: every label is checked, not just the first batch's
    with pytest.raises(ValueError, match=r"test_iter's labels .* include 10"):
        check_data(data.Batches(X, y, BATCH), data.Batches(Xt, yt, BATCH), 1)
    floats = y.astype(onp.float32)  # 3.0 is class 3: nothing wrong
    check_data(data.Batches(X, floats, BATCH), as_mx_batches(X, floats), 1)


def test_a_data_loader_is_checked_without_changing_its_shuffles(arrays):
    X, y, _, _ = arrays
    loader = as_loader(X, y, shuffle=True)
    set_seed(0)
    expected = [labels.asnumpy() for _, labels in loader]
    set_seed(0)
    check_data(loader, loader, 1)
    assert_equal([labels.asnumpy() for _, labels in loader], expected)
