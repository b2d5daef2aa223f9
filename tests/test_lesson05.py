"""Lesson 05's hand-written momentum rules and training-mode accuracy, checked."""

import numpy as onp
import pytest
from mxnet import autograd, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from nbutil import definitions, notebook

PREAMBLE = "from mxnet import autograd, np\n"


@pytest.fixture(scope="module")
def lesson():
    names = {"torch_update", "d2l_update", "accuracy_in_training_mode"}
    return definitions(notebook("05"), names, PREAMBLE)


def batches(steps=3):
    rng = onp.random.default_rng(0)
    return [rng.normal(1.0, 2.0, (6, 4)).astype(onp.float32) for _ in range(steps)]


def test_torch_update_is_pytorchs_rule(lesson):
    mean, var = onp.zeros(4), onp.ones(4)
    stats = (np.zeros(4), np.ones(4))
    for X in batches():
        # PyTorch's documented rule: new-value weight 0.1, unbiased variance
        mean = 0.9 * mean + 0.1 * X.mean(axis=0)
        var = 0.9 * var + 0.1 * X.var(axis=0, ddof=1)
        stats = lesson["torch_update"](*stats, np.array(X))
    assert_allclose(stats[0].asnumpy(), mean, rtol=1e-5)
    assert_allclose(stats[1].asnumpy(), var, rtol=1e-5)


def test_d2l_update_with_0_1_is_gluons_default(lesson):
    bn = nn.BatchNorm(in_channels=4)
    bn.initialize()
    stats = (np.zeros(4), np.ones(4))
    for X in batches():
        X = np.array(X)
        with autograd.record():
            Y = bn(X)
        Y.backward()
        stats = lesson["d2l_update"](*stats, X)
    assert_allclose(stats[0].asnumpy(), bn.running_mean.data().asnumpy(), rtol=1e-5)
    assert_allclose(stats[1].asnumpy(), bn.running_var.data().asnumpy(), rtol=1e-5)


def test_training_mode_accuracy_collapses_at_batch_one(lesson):
    net = nn.HybridSequential()
    net.add(nn.Dense(8), nn.BatchNorm(), nn.Dense(3))
    net.initialize()
    rng = onp.random.default_rng(1)
    X = rng.normal(size=(30, 5)).astype(onp.float32)
    y = onp.repeat(onp.arange(3), 10)
    # every example gets the same class, so the accuracy is that class's share
    assert lesson["accuracy_in_training_mode"](net, X, y, 1) == pytest.approx(1 / 3)
    # a full batch: the same as classifying the batch by hand in training mode
    with autograd.train_mode():
        by_hand = (net(np.array(X)).argmax(axis=1).asnumpy() == y).mean()
    assert lesson["accuracy_in_training_mode"](net, X, y, 30) == pytest.approx(by_hand)
