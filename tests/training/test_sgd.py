r"""The training set-up every loop shares (``bnlesson.training.sgd``): its
argument checks, fresh weights and statistics, and one SGD step checked
against :math:`w \leftarrow w - \frac{\eta}{b}\sum_i \nabla_w \ell_i`."""

import math

import mxnet as mx
import numpy as onp
import pytest
import trainsets
from mxnet import autograd, gluon, np, npx
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from bnlesson import data
from bnlesson.lesson02 import BatchNorm
from bnlesson.training.history import progress_of, track_progress
from bnlesson.training.sgd import (
    check_batches,
    check_lr,
    check_num_epochs,
    initialize,
    require_np,
    sgd_setup,
)

DEVICE = mx.cpu()


@pytest.fixture(scope="module")
def batch():
    """8 real test images, flattened, and their labels, as MXNet arrays."""
    X, y = trainsets.flat_test_batches(count=1)[0]
    return np.array(X), np.array(y)


def test_forgetting_set_np_is_explained():
    npx.reset_np()
    try:
        with pytest.raises(RuntimeError, match=r"run `npx.set_np\(\)`"):
            require_np()
    finally:
        npx.set_np()
    require_np()


@pytest.mark.parametrize("num_epochs", [1, 30, onp.int64(2)])
def test_a_whole_number_of_epochs_passes(num_epochs):
    check_num_epochs(num_epochs)


@pytest.mark.parametrize("num_epochs", [0, -1, 2.0, True, "3", None])
def test_a_number_of_epochs_that_is_no_count_is_refused(num_epochs):
    with pytest.raises(ValueError) as err:
        check_num_epochs(num_epochs)
    # core.arguments.check_whole's wording; it may add how to write it
    assert str(err.value).startswith(
        f"num_epochs must be a whole number of at least 1, not {num_epochs!r}"
    )


@pytest.mark.parametrize("lr", [0.1, 1e-8, 3, onp.float32(0.5), 3.4028235e38])
def test_a_positive_float32_rate_passes(lr):
    check_lr(lr)


@pytest.mark.parametrize(
    "lr, match",
    [(0, "positive float32 number, not 0"), (-0.1, "not -0.1"),
     (math.inf, "not inf"), (math.nan, "not nan"), (1e39, "not 1e\\+39"),
     ("0.1", "not the string '0.1'"), (None, "not None"), (True, "a bool")],
)  # fmt: skip
def test_a_rate_mxnet_cannot_take_is_refused(lr, match):
    with pytest.raises(ValueError, match=match):
        check_lr(lr)


def test_a_one_shot_or_empty_data_set_is_refused(batch):
    pairs = [batch, batch]
    for one_shot, kind in [
        (iter(pairs), "list_iterator"),
        ((b for b in pairs), "generator"),
    ]:
        with pytest.raises(ValueError, match=f"one-shot iterator \\({kind}\\)"):
            check_batches("train_iter", one_shot)
    with pytest.raises(ValueError, match="test_iter is empty: it holds no"):
        check_batches("test_iter", [])
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(*batch), batch_size=4)
    for reusable in (
        pairs,
        tuple(pairs),
        loader,
        data.Batches(onp.zeros((4, 1)), onp.zeros(4), 2),
    ):
        check_batches("train_iter", reusable)


# --- initialize ------------------------------------------------------------------


def test_fresh_weights_are_xaviers_and_biases_zero():
    net = nn.Dense(10, in_units=784)
    initialize(net, DEVICE)
    w = net.weight.data().asnumpy()
    # Gluon's Xavier(): uniform on [-c, c], c = sqrt(3 / ((fan_in + fan_out) / 2)).
    c = math.sqrt(3 / ((784 + 10) / 2))
    assert onp.abs(w).max() <= c and onp.abs(w).max() > 0.99 * c
    assert abs(w.mean()) < 0.05 * c and abs(w.std() - c / math.sqrt(3)) < 0.02 * c
    assert (net.bias.data().asnumpy() == 0).all()


def test_fresh_weights_from_the_same_seed_are_the_same():
    net = nn.Dense(4, in_units=6)
    mx.random.seed(7)
    initialize(net, DEVICE)
    first = net.weight.data().asnumpy()
    mx.random.seed(7)
    initialize(net, DEVICE)  # again, on an initialized net
    assert (net.weight.data().asnumpy() == first).all()


def test_moving_statistics_and_progress_start_afresh(batch):
    X, _ = batch
    net = nn.Sequential()  # lesson 02's layer is a plain Block
    net.add(nn.Dense(6, in_units=784), BatchNorm(6, 2), nn.Dense(3), nn.BatchNorm())
    initialize(net, DEVICE)
    with autograd.record():
        net(X).sum().backward()  # one training pass moves all four statistics
    scratch, gluon_bn = net[1], net[3]
    assert onp.abs(scratch.moving_mean.asnumpy()).max() > 0
    assert onp.abs(gluon_bn.running_mean.data().asnumpy()).max() > 0
    track_progress(net).epoch = 1
    initialize(net, DEVICE)
    assert (scratch.moving_mean.asnumpy() == 0).all()
    assert (scratch.moving_var.asnumpy() == 1).all()
    assert (gluon_bn.running_mean.data().asnumpy() == 0).all()
    assert (gluon_bn.running_var.data().asnumpy() == 1).all()
    assert progress_of(net) is None, "fresh weights are untrained"


# --- sgd_setup -------------------------------------------------------------------


def test_one_step_is_minibatch_sgd_on_the_softmax_cross_entropy(batch):
    X, y = batch
    net = nn.Dense(10)
    trainer, loss = sgd_setup(net, 0.5, DEVICE)
    with autograd.record():
        y_hat = net(X)
        l = loss(y_hat, y)  # noqa: E741 - d2l's name for the losses
    l.backward()
    # The loss, by hand: -log of the softmax of the right class's score.
    scores = y_hat.asnumpy().astype(onp.float64)
    log_softmax = scores - scores.max(1, keepdims=True)
    log_softmax -= onp.log(onp.exp(log_softmax).sum(1, keepdims=True))
    expected = -log_softmax[onp.arange(8), y.asnumpy()]
    assert_allclose(l.asnumpy(), expected, rtol=1e-5)
    before = [p.data().asnumpy() for p in (net.weight, net.bias)]
    grads = [p.grad().asnumpy() for p in (net.weight, net.bias)]  # of the sum
    trainer.step(8)
    for p, w, g in zip((net.weight, net.bias), before, grads):
        assert_allclose(p.data().asnumpy(), w - 0.5 / 8 * g, rtol=1e-5, atol=1e-7)


def test_a_hybridized_net_computes_what_the_plain_one_does(batch):
    X, _ = batch
    outputs = []
    for hybridize in (False, True):
        net = nn.HybridSequential()
        net.add(nn.Dense(5, activation="sigmoid"), nn.Dense(3))
        mx.random.seed(0)
        sgd_setup(net, 0.1, DEVICE, hybridize=hybridize)
        outputs.append(net(X).asnumpy())
    assert_allclose(outputs[0], outputs[1], rtol=1e-6)
    plain = nn.Sequential()  # not hybridizable: left as it is
    plain.add(nn.Dense(3))
    sgd_setup(plain, 0.1, DEVICE, hybridize=True)
    assert plain(X).shape == (8, 3)


def test_a_bad_rate_is_refused_before_the_net_is_touched():
    net = nn.Dense(3, in_units=4)
    with pytest.raises(ValueError, match="lr must be a number, not the string"):
        sgd_setup(net, "0.1", DEVICE)
    with pytest.raises(RuntimeError, match="has not been initialized"):
        net.weight.data()
