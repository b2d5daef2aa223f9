"""Lesson 02's BatchNorm Block and the package's bnlesson.lesson02.BatchNorm agree."""

import mxnet as mx
import numpy as onp
import pytest
from mxnet import autograd, np

import bnlesson

from nbutil import shown


@pytest.fixture(scope="module")
def Lesson():
    return shown("02")["BatchNorm"]


def batches(shape, steps):
    rng = onp.random.default_rng(len(shape))
    return [np.array(rng.normal(2, 3, shape), dtype="float32") for _ in range(steps)]


@pytest.mark.parametrize("shape", [(16, 5), (8, 3, 6, 6)])
def test_same_outputs_and_state_over_steps(Lesson, shape):
    ours, theirs = (
        Lesson(shape[1], len(shape)),
        bnlesson.lesson02.BatchNorm(shape[1], len(shape)),
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
    for cls in (Lesson, bnlesson.lesson02.BatchNorm):
        layer = cls(3, 4)
        layer.initialize(ctx=mx.cpu(1))
        with autograd.record():
            layer(np.ones((2, 3, 4, 4), ctx=mx.cpu(1)))
        assert layer.moving_var.ctx == mx.cpu(1)


def test_same_error(Lesson):
    messages = []
    for cls in (Lesson, bnlesson.lesson02.BatchNorm):
        with pytest.raises(ValueError) as err:
            cls(3, 3)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("num_dims, shape", [(4, (2, 6, 6, 3)), (2, (2, 3, 6, 6))])
def test_same_input_check(Lesson, num_dims, shape):
    messages = []
    for cls in (Lesson, bnlesson.lesson02.BatchNorm):
        layer = cls(3, num_dims)
        layer.initialize()
        with pytest.raises(ValueError) as err:
            layer(np.ones(shape))
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_same_reset_of_the_moving_statistics(Lesson):
    layers = [cls(5, 2) for cls in (Lesson, bnlesson.lesson02.BatchNorm)]
    for layer in layers:
        layer.initialize()
        with autograd.record():
            layer(batches((16, 5), 1)[0])
        layer.reset_running_stats()
        assert (layer.moving_mean == 0).all() and (layer.moving_var == 1).all()
        assert layer.moving_var.shape == (1, 5)


@pytest.mark.parametrize("num_features", [0, -3, 3.5, "3", None, onp.int64(3)])
def test_same_refusal_of_a_wrong_number_of_features(Lesson, num_features):
    messages = []
    for cls in (Lesson, bnlesson.lesson02.BatchNorm):
        with pytest.raises(ValueError) as err:
            cls(num_features, 2)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "num_features must be an int of at least 1" in messages[0]
    assert f"not {num_features!r} ({type(num_features).__name__})" in messages[0]


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_moving_statistics_are_refused_not_truncated(Lesson, dtype):
    X = np.array([[0.0], [3.0], [6.0], [9.0]])  # biased variance 11.25
    messages = []
    for cls in (Lesson, bnlesson.lesson02.BatchNorm):
        layer = cls(1, 2)
        layer.initialize()
        layer.moving_var = np.ones((1, 1), dtype=dtype)  # as lesson 02 sets zeros
        with autograd.record(), pytest.raises(ValueError) as err:
            layer(X)
        messages.append(str(err.value))
        assert layer.moving_var.dtype == dtype  # nothing changed
        # with floats: 0.9 * 1 + 0.1 * 11.25 = 2.025, not int(0.9 * 1) + 1.125
        layer.moving_var = layer.moving_var.astype("float32")
        with autograd.record():
            layer(X)
        assert float(layer.moving_var) == pytest.approx(2.025)
    assert messages[0] == messages[1]
    assert f"moving_var has dtype {dtype}" in messages[0]


def _trained(layer, batches_, flatten):
    layer.initialize()
    for X in batches_:
        with autograd.record():
            layer(X.reshape(len(X), -1) if flatten else X)
    return layer


def test_per_channel_statistics_pass_a_shift_through_per_position_ones_do_not():
    """Solution 02, exercise 1: with ``num_dims=4`` one mean and variance
    serve every position, so predicting a shifted batch gives the shifted
    output; statistics per position (``num_dims=2`` on flattened images)
    normalize a shifted object with another position's statistics."""
    rng = onp.random.default_rng(0)
    # A bright square in the middle of a dark image: the border is nearly
    # constant, as in Fashion-MNIST.
    square = onp.zeros((1, 1, 8, 8), dtype="float32")
    square[..., 2:6, 2:6] = 1.0
    data = [
        np.array(square + rng.normal(0, 0.05, (16, 1, 8, 8)), dtype="float32")
        for _ in range(60)
    ]
    per_channel = _trained(bnlesson.lesson02.BatchNorm(1, 4), data, flatten=False)
    per_position = _trained(bnlesson.lesson02.BatchNorm(64, 2), data, flatten=True)
    X = data[0]
    shifted = np.roll(X, 2, axis=3)

    def per_position_output(X):
        return per_position(X.reshape(len(X), 64)).reshape(X.shape)

    for normalize, passes in ((per_channel, True), (per_position_output, False)):
        gap = np.abs(normalize(shifted) - np.roll(normalize(X), 2, axis=3)).max()
        assert (float(gap) < 1e-5) == passes, float(gap)
