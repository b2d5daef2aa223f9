"""Lesson 05's hand-written momentum rules and training-mode accuracy, checked.

Each definition the notebook shows is run from the notebook and compared
with its package twin on the same inputs, and against a reference: PyTorch's
documented rule, Gluon's own ``nn.BatchNorm``, or a hand computation.
"""

import numpy as onp
import pytest
from mxnet import autograd, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from bnlesson import lesson05

from nbutil import definitions, notebook

PREAMBLE = "from mxnet import autograd, np\n"
TWINS = {"torch_update", "d2l_update", "accuracy_in_training_mode"}


@pytest.fixture(scope="module")
def lesson():
    return definitions(notebook("05"), TWINS, PREAMBLE)


def batches(steps=3):
    rng = onp.random.default_rng(0)
    return [rng.normal(1.0, 2.0, (6, 4)).astype(onp.float32) for _ in range(steps)]


@pytest.mark.parametrize("where", ["notebook", "package"])
def test_torch_update_is_pytorchs_rule(lesson, where):
    update = lesson["torch_update"] if where == "notebook" else lesson05.torch_update
    mean, var = onp.zeros(4), onp.ones(4)
    stats = (np.zeros(4), np.ones(4))
    for X in batches():
        # PyTorch's documented rule: new-value weight 0.1, unbiased variance
        mean = 0.9 * mean + 0.1 * X.mean(axis=0)
        var = 0.9 * var + 0.1 * X.var(axis=0, ddof=1)
        stats = update(*stats, np.array(X))
    assert_allclose(stats[0].asnumpy(), mean, rtol=1e-5)
    assert_allclose(stats[1].asnumpy(), var, rtol=1e-5)


@pytest.mark.parametrize("rows", [1, 0])
def test_torch_update_refuses_a_batch_of_one_as_pytorch_does(lesson, rows):
    # PyTorch, training: "Expected more than 1 value per channel when
    # training"; here the unbiased variance would divide by n - 1 = 0 (NaN)
    messages = []
    for update in (lesson["torch_update"], lesson05.torch_update):
        with pytest.raises(ValueError) as err:
            update(np.zeros(4), np.ones(4), np.ones((rows, 4)))
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "expected more than 1 value per feature, as PyTorch does" in messages[0]
    assert f"X of shape ({rows}, 4) has {rows}" in messages[0]


@pytest.mark.parametrize("where", ["notebook", "package"])
def test_d2l_update_with_0_1_is_gluons_default(lesson, where):
    update = lesson["d2l_update"] if where == "notebook" else lesson05.d2l_update
    bn = nn.BatchNorm(in_channels=4)
    bn.initialize()
    stats = (np.zeros(4), np.ones(4))
    for X in batches():
        X = np.array(X)
        with autograd.record():
            Y = bn(X)
        Y.backward()
        stats = update(*stats, X)
    assert_allclose(stats[0].asnumpy(), bn.running_mean.data().asnumpy(), rtol=1e-5)
    assert_allclose(stats[1].asnumpy(), bn.running_var.data().asnumpy(), rtol=1e-5)


def small_net():
    net = nn.HybridSequential()
    net.add(nn.Dense(8), nn.BatchNorm(), nn.Dense(3))
    net.initialize()
    rng = onp.random.default_rng(1)
    X = rng.normal(size=(30, 5)).astype(onp.float32)
    return net, X, onp.repeat(onp.arange(3), 10)


@pytest.mark.parametrize("where", ["notebook", "package"])
def test_training_mode_accuracy_collapses_at_batch_one(lesson, where):
    accuracy = (lesson["accuracy_in_training_mode"] if where == "notebook"
                else lesson05.accuracy_in_training_mode)  # fmt: skip
    net, X, y = small_net()
    # every example gets the same class, so the accuracy is that class's share
    assert accuracy(net, X, y, 1) == pytest.approx(1 / 3)
    # a full batch: the same as classifying the batch by hand in training mode
    with autograd.train_mode():
        by_hand = (net(np.array(X)).argmax(axis=1).asnumpy() == y).mean()
    assert accuracy(net, X, y, 30) == pytest.approx(by_hand)


def test_twins_agree_and_leave_the_running_statistics_alone(lesson):
    net, X, y = small_net()
    net(np.array(X))  # Gluon infers the shapes
    before = net[1].running_mean.data().asnumpy().copy()
    for b in (1, 4, 30):
        assert lesson["accuracy_in_training_mode"](net, X, y, b) == (
            lesson05.accuracy_in_training_mode(net, X, y, b)
        )
    assert (net[1].running_mean.data().asnumpy() == before).all()
