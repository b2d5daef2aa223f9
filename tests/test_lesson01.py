"""Lesson 01's batch_norm and the package's bnlesson.batch_norm agree."""

import numpy as onp
import pytest
from mxnet import autograd, np

import bnlesson

from nbutil import definitions, notebook

PREAMBLE = "from mxnet import autograd, np, npx\nfrom mxnet.gluon import nn\n"


@pytest.fixture(scope="module")
def lesson():
    names = {"stat_shape", "check_stats", "check_batch", "batch_norm"}
    return definitions(notebook("01"), names, PREAMBLE)


def arrays(shape, seed):
    rng = onp.random.default_rng(seed)
    stat = (1, shape[1]) if len(shape) == 2 else (1, shape[1], 1, 1)
    X = rng.normal(2, 3, shape)
    gamma, beta = rng.uniform(0.5, 2, stat), rng.normal(0, 1, stat)
    mean, var = rng.normal(0, 1, stat), rng.uniform(0.5, 2, stat)
    return [np.array(a, dtype="float32") for a in (X, gamma, beta, mean, var)]


@pytest.mark.parametrize("shape", [(16, 5), (8, 3, 6, 6)])
@pytest.mark.parametrize("training", [True, False])
def test_same_outputs_and_statistics(lesson, shape, training):
    args = arrays(shape, seed=len(shape))
    with autograd.record(train_mode=training):
        ours = lesson["batch_norm"](*args, eps=1e-5, momentum=0.9)
        theirs = bnlesson.batch_norm(*args, eps=1e-5, momentum=0.9)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert onp.array_equal(a.asnumpy(), b.asnumpy())


@pytest.mark.parametrize(
    "X_shape, stat_shape", [((2, 3, 4), (1, 3)), ((2, 3, 4, 4), (1, 3)), ((2, 3), (3,))]
)
def test_same_errors(lesson, X_shape, stat_shape):
    X, s = np.ones(X_shape), np.ones(stat_shape)
    messages = []
    for fn in (lesson["batch_norm"], bnlesson.batch_norm):
        with pytest.raises(ValueError) as err:
            fn(X, s, s, s, s, 1e-5, 0.9)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1), (0, 3)])
def test_same_refusal_of_one_value_per_channel(lesson, shape):
    s = np.ones((1, 3) if len(shape) == 2 else (1, 3, 1, 1))
    messages = []
    for fn in (lesson["batch_norm"], bnlesson.batch_norm):
        with autograd.record(), pytest.raises(ValueError) as err:
            fn(np.ones(shape), s, s, s, s, 1e-5, 0.9)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "at least 2 values per" in messages[0]
