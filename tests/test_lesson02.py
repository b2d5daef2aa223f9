"""Lesson 02's BatchNorm Block and the package's bnlesson.BatchNorm agree."""

import mxnet as mx
import numpy as onp
import pytest
from mxnet import autograd, np

import bnlesson

from nbutil import definitions, notebook

PREAMBLE = (
    "from mxnet import autograd, init, np, npx\n"
    "from mxnet.gluon import nn\n"
    "from bnlesson import batch_norm\n"
    "from bnlesson.lesson02 import check_input\n"
)


@pytest.fixture(scope="module")
def Lesson():
    return definitions(notebook("02"), {"BatchNorm"}, PREAMBLE)["BatchNorm"]


def batches(shape, steps):
    rng = onp.random.default_rng(len(shape))
    return [np.array(rng.normal(2, 3, shape), dtype="float32") for _ in range(steps)]


@pytest.mark.parametrize("shape", [(16, 5), (8, 3, 6, 6)])
def test_same_outputs_and_state_over_steps(Lesson, shape):
    ours, theirs = (
        Lesson(shape[1], len(shape)),
        bnlesson.BatchNorm(shape[1], len(shape)),
    )
    for layer in (ours, theirs):
        layer.initialize()
    for X in batches(shape, 4):
        with autograd.record():
            a, b = ours(X), theirs(X)
        assert onp.array_equal(a.asnumpy(), b.asnumpy())
    assert onp.array_equal(ours.moving_mean.asnumpy(), theirs.moving_mean.asnumpy())
    assert onp.array_equal(ours.moving_var.asnumpy(), theirs.moving_var.asnumpy())
    assert onp.array_equal(ours(X).asnumpy(), theirs(X).asnumpy())  # prediction
    assert [p.shape for p in ours.collect_params().values()] == [
        p.shape for p in theirs.collect_params().values()
    ]


def test_same_device_move(Lesson):
    for cls in (Lesson, bnlesson.BatchNorm):
        layer = cls(3, 4)
        layer.initialize(ctx=mx.cpu(1))
        with autograd.record():
            layer(np.ones((2, 3, 4, 4), ctx=mx.cpu(1)))
        assert layer.moving_var.ctx == mx.cpu(1)


def test_same_error(Lesson):
    messages = []
    for cls in (Lesson, bnlesson.BatchNorm):
        with pytest.raises(ValueError) as err:
            cls(3, 3)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("num_dims, shape", [(4, (2, 6, 6, 3)), (2, (2, 3, 6, 6))])
def test_same_input_check(Lesson, num_dims, shape):
    messages = []
    for cls in (Lesson, bnlesson.BatchNorm):
        layer = cls(3, num_dims)
        layer.initialize()
        with pytest.raises(ValueError) as err:
            layer(np.ones(shape))
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_same_reset_of_the_moving_statistics(Lesson):
    layers = [cls(5, 2) for cls in (Lesson, bnlesson.BatchNorm)]
    for layer in layers:
        layer.initialize()
        with autograd.record():
            layer(batches((16, 5), 1)[0])
        layer.reset_running_stats()
        assert (layer.moving_mean == 0).all() and (layer.moving_var == 1).all()
        assert layer.moving_var.shape == (1, 5)
