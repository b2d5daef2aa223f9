"""What lesson 03's loop records besides its steps (``bnlesson.training.bookkeeping``):
an epoch's sums kept on the device, checked against sums read after every
step; how far a run got, on the net; an epoch without batches; a loss gone
NaN, with what went non-finite first and where."""

import mxnet as mx
import numpy as onp
import pytest
import trainsets
from mxnet import autograd, np
from mxnet.gluon import nn

from bnlesson.training.bookkeeping import TrainingLog
from bnlesson.training.divergence import TrainingDiverged
from bnlesson.training.history import progress_of
from bnlesson.training.sgd import sgd_setup

DEVICE = mx.cpu()


@pytest.fixture(scope="module")
def batches():
    """Three batches of 8 real test images, flattened, and their labels."""
    return [(np.array(X), np.array(y)) for X, y in trainsets.flat_test_batches()]


def epoch(log, net, trainer, loss, batches):
    """One SGD epoch noted by `log`, its sums on the device and read at every step."""
    log.start_epoch()
    loss_sum, correct = np.zeros((), ctx=DEVICE), np.zeros((), ctx=DEVICE)
    read_loss = read_correct = 0.0
    for X, y in batches:
        with autograd.record():
            y_hat = net(X)
            l = loss(y_hat, y)  # noqa: E741 - d2l's name for the losses
        l.backward()
        trainer.step(X.shape[0])
        log.step(X, l)
        hits = (y_hat.argmax(axis=1).astype("int32") == y).sum()
        loss_sum, correct = loss_sum + l.sum(), correct + hits
        read_loss += float(l.sum())
        read_correct += float(hits)
    n = sum(X.shape[0] for X, _ in batches)
    return log.end_epoch(loss_sum, correct, n), read_loss / n, read_correct / n


def test_an_epochs_sums_equal_those_read_after_every_step(batches):
    net = nn.Dense(10)
    trainer, loss = sgd_setup(net, 0.1, DEVICE)
    log = TrainingLog(net, 2, 0.1, DEVICE, plot=False)
    losses = []
    for number in (1, 2):
        (train_loss, train_acc, seconds), read_loss, read_acc = epoch(
            log, net, trainer, loss, batches
        )
        assert train_loss == pytest.approx(read_loss, rel=1e-6)
        assert train_acc == read_acc and seconds > 0
        assert str(progress_of(net)) == f"stopped after epoch {number} of 2"
        log.add(train_loss, train_acc, 0.5, seconds)
        losses.append(read_loss)
    history = log.history
    assert history.loss == pytest.approx(losses, rel=1e-6)
    assert len(history.seconds) == 2 and history.test_acc == [0.5, 0.5]
    # 48 examples over both epochs' training seconds.
    assert history.examples_per_sec == pytest.approx(48 / sum(history.seconds))
    assert progress_of(net).finished and progress_of(net).history is history


def test_a_run_stopped_inside_an_epoch_says_so(batches):
    net = nn.Dense(10)
    sgd_setup(net, 0.1, DEVICE)
    log = TrainingLog(net, 2, 0.1, DEVICE, plot=False)
    log.start_epoch()
    X, y = batches[0]
    log.step(X, np.ones(len(y)))
    assert str(progress_of(net)) == "stopped after 1 batch of epoch 1"


def test_an_epoch_without_batches_is_explained():
    net = nn.Dense(10)
    sgd_setup(net, 0.1, DEVICE)
    log = TrainingLog(net, 5, 0.1, DEVICE, plot=False)
    for _ in range(3):
        log.start_epoch()
    zero = np.zeros((), ctx=DEVICE)
    with pytest.raises(ValueError, match="train_iter yielded no batches in epoch 3"):
        log.end_epoch(zero, zero, 0)


def test_a_loss_gone_nan_stops_the_epoch_saying_what_and_where(batches):
    net = nn.Dense(10)
    trainer, loss = sgd_setup(net, 0.1, DEVICE)
    X, y = batches[1]
    bad = X.copy()
    bad[0, 0] = onp.nan
    log = TrainingLog(net, 1, 0.1, DEVICE, plot=False)
    with pytest.raises(TrainingDiverged) as err:
        epoch(log, net, trainer, loss, [batches[0], (bad, y), batches[2]])
    assert (err.value.cause, err.value.batch, err.value.epoch) == ("inputs", 2, 1)
    assert err.value.history is log.history and log.history.loss == []
    # The net still reads as stopped inside the epoch that diverged.
    assert str(progress_of(net)) == "stopped after 3 batches of epoch 1"
