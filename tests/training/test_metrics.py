"""What the training loop measures (``bnlesson.training.metrics``): an
epoch's sums kept on the device, checked against sums read after every step;
the device of a net; whether it has batch norm; the test accuracy, counted by
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
from bnlesson.training.divergence import TrainingDiverged, has_batch_norm
from bnlesson.training.history import History, progress_of
from bnlesson.training.metrics import (
    EpochMeter,
    check_data,
    evaluate_accuracy,
    parameter_device,
)
from bnlesson.training.sgd import sgd_setup

DEVICE = mx.cpu()


@pytest.fixture(scope="module")
def batches():
    """Three batches of 8 real test images, flattened, and their labels."""
    return [(np.array(X), np.array(y)) for X, y in trainsets.flat_test_batches()]


def epoch(net, trainer, loss, batches):
    """One SGD epoch measured by an EpochMeter, and by reading every step."""
    meter = EpochMeter(net, DEVICE)
    loss_sum = correct = 0.0
    for X, y in batches:
        with autograd.record():
            y_hat = net(X)
            l = loss(y_hat, y)  # noqa: E741 - d2l's name for the losses
        l.backward()
        trainer.step(X.shape[0])
        meter.add(X, y, y_hat, l)
        loss_sum += float(l.sum())
        correct += float((y_hat.argmax(axis=1).astype("int32") == y).sum())
    return meter, loss_sum, correct


def test_an_epochs_sums_equal_those_read_after_every_step(batches):
    net = nn.Dense(10)
    trainer, loss = sgd_setup(net, 0.1, DEVICE)
    history = History()
    for number in (1, 2):
        meter, loss_sum, correct = epoch(net, trainer, loss, batches)
        planned = " of 2" if number > 1 else ""  # known once an epoch finished
        assert (
            str(progress_of(net))
            == f"stopped after 3 batches of epoch {number}{planned}"
        )
        meter.finish(history, number, 2, lr=0.1)
        assert history.loss[-1] == pytest.approx(loss_sum / 24, rel=1e-6)
        assert history.train_acc[-1] == correct / 24
        assert str(progress_of(net)) == f"stopped after epoch {number} of 2"
    assert len(history.seconds) == 2 and min(history.seconds) > 0
    # 48 examples over both epochs' training seconds.
    assert history.examples_per_sec == pytest.approx(48 / sum(history.seconds))
    assert progress_of(net).finished and progress_of(net).history is history


def test_an_epoch_without_batches_is_explained():
    net = nn.Dense(10)
    sgd_setup(net, 0.1, DEVICE)
    with pytest.raises(ValueError, match="train_iter yielded no batches in epoch 3"):
        EpochMeter(net, DEVICE).finish(History(), 3, 5, lr=0.1)


def test_a_loss_gone_nan_stops_the_epoch_saying_what_and_where(batches):
    net = nn.Dense(10)
    trainer, loss = sgd_setup(net, 0.1, DEVICE)
    X, y = batches[1]
    bad = X.copy()
    bad[0, 0] = onp.nan
    meter, _, _ = epoch(net, trainer, loss, [batches[0], (bad, y), batches[2]])
    history = History()
    with pytest.raises(TrainingDiverged) as err:
        meter.finish(history, 1, 1, lr=0.1)
    assert (err.value.cause, err.value.batch, err.value.epoch) == ("inputs", 2, 1)
    assert err.value.history is history and history.loss == []
    # The net still reads as stopped inside the epoch that diverged.
    assert str(progress_of(net)) == "stopped after 3 batches of epoch 1"


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
