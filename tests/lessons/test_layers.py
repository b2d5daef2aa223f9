"""batch_norm and BatchNorm against Gluon's nn.BatchNorm and hand-computed values."""

import mxnet as mx
import numpy as onp
import pytest
from mxnet import autograd, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from bnlesson.lesson01 import batch_norm
from bnlesson.lesson02 import BatchNorm
from bnlesson.lesson08 import FastBatchNorm, batch_norm_fast

from bnref import SHAPES, gluon_reference, inputs, stats

# Both implementations share the Gluon reference, the input checks and the
# degenerate cases.
BOTH = pytest.mark.parametrize(
    "bn", [batch_norm, batch_norm_fast], ids=["lecture", "fast"]
)


@pytest.mark.parametrize("shape", SHAPES)
def test_training_mode_matches_hand_computation(shape):
    X = inputs(shape)
    gamma, beta, mean, var = stats(shape)
    with autograd.record():
        Y, new_mean, new_var = batch_norm(X, gamma, beta, mean, var, 1e-5, 0.9)
    x = X.asnumpy().astype(onp.float64)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    mu = x.mean(axis=axes, keepdims=True)
    sigma2 = ((x - mu) ** 2).mean(axis=axes, keepdims=True)  # biased
    expected = gamma.asnumpy() * (x - mu) / onp.sqrt(sigma2 + 1e-5) + beta.asnumpy()
    assert_allclose(Y.asnumpy(), expected, atol=2e-5)
    assert_allclose(new_mean.asnumpy(), 0.9 * mean.asnumpy() + 0.1 * mu, rtol=1e-5)
    assert_allclose(new_var.asnumpy(), 0.9 * var.asnumpy() + 0.1 * sigma2, rtol=1e-5)


@BOTH
@pytest.mark.parametrize("shape", SHAPES)
def test_training_mode_and_gradients_match_gluon(bn, shape):
    X = inputs(shape)
    gamma, beta, mean, var = stats(shape)
    ref = gluon_reference(shape, gamma, beta, mean, var)
    X2 = X.copy()
    for a in (X, X2, gamma, beta):  # gradient buffers: the fast path runs
        a.attach_grad()
    with autograd.record():
        Y, new_mean, new_var = bn(X, gamma, beta, mean, var, 1e-5, 0.9)
        Y_ref = ref(X2)
        loss, loss_ref = (Y * Y).sum(), (Y_ref * Y_ref).sum()
    loss.backward()
    loss_ref.backward()  # Gluon updates its running statistics in backward()
    assert_allclose(Y.asnumpy(), Y_ref.asnumpy(), atol=1e-5)
    assert_allclose(
        new_mean.asnumpy().ravel(), ref.running_mean.data().asnumpy(), atol=1e-6
    )
    assert_allclose(
        new_var.asnumpy().ravel(), ref.running_var.data().asnumpy(), atol=1e-5
    )
    assert_allclose(X.grad.asnumpy(), X2.grad.asnumpy(), atol=1e-4)
    assert_allclose(gamma.grad.asnumpy().ravel(), ref.gamma.grad().asnumpy(), rtol=1e-4)
    assert_allclose(
        beta.grad.asnumpy().ravel(), ref.beta.grad().asnumpy(), rtol=1e-4, atol=1e-4
    )


@BOTH
@pytest.mark.parametrize("shape", SHAPES)
def test_prediction_mode_matches_gluon_and_keeps_statistics(bn, shape):
    X = inputs(shape)
    gamma, beta, mean, var = stats(shape)
    ref = gluon_reference(shape, gamma, beta, mean, var)
    assert not autograd.is_training()
    Y, new_mean, new_var = bn(X, gamma, beta, mean, var, 1e-5, 0.9)
    assert_allclose(Y.asnumpy(), ref(X).asnumpy(), atol=1e-5)
    assert new_mean is mean and new_var is var


def test_per_channel_statistics_are_normalized():
    X = inputs((8, 3, 6, 6))
    ones, zeros = np.ones((1, 3, 1, 1)), np.zeros((1, 3, 1, 1))
    with autograd.record():
        Y, _, _ = batch_norm(X, ones, zeros, zeros, ones, 1e-5, 0.9)
    y = Y.asnumpy()
    assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)


@BOTH
@pytest.mark.parametrize("shape", [(1, 4), (1, 4, 1, 1), (0, 4)])
def test_one_value_per_channel_is_refused_in_training_mode(bn, shape):
    # One value per feature has no variance: the output would be beta for any
    # input (as Gluon's nn.BatchNorm silently returns) and gamma would get no
    # gradient. PyTorch refuses this case; so do we, saying what to do.
    X = inputs(shape)
    gamma, beta, mean, var = stats(shape)
    gamma.attach_grad()
    beta.attach_grad()
    for mode in (autograd.record, autograd.train_mode):
        with mode(), pytest.raises(ValueError) as err:
            bn(X, gamma, beta, mean, var, 1e-5, 0.9)
        message = str(err.value)
        assert f"input of shape {shape} has {shape[0]}" in message
        assert "at least 2 values per" in message
        assert "batches of at least 2 examples" in message
        assert "autograd.predict_mode()" in message
    # Prediction mode uses the moving statistics: a batch of one is fine there.
    if shape[0]:
        ref = gluon_reference(shape, gamma, beta, mean, var)
        Y, _, _ = bn(X, gamma, beta, mean, var, 1e-5, 0.9)
        assert_allclose(Y.asnumpy(), ref(X).asnumpy(), atol=1e-5)


@BOTH
def test_one_image_after_a_convolution_is_enough(bn):
    # A single 2 x 2 image still gives 4 values per channel: Gluon's numbers.
    shape = (1, 3, 2, 2)
    X = inputs(shape)
    gamma, beta, mean, var = stats(shape)
    gamma.attach_grad()
    beta.attach_grad()
    ref = gluon_reference(shape, gamma, beta, mean, var)
    with autograd.record():
        Y, _, _ = bn(X, gamma, beta, mean, var, 1e-5, 0.9)
        Y_ref = ref(X)
    assert_allclose(Y.asnumpy(), Y_ref.asnumpy(), atol=1e-5)


@BOTH
@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), (1, 2, 3, 4, 5)])
def test_wrong_rank_is_a_value_error(bn, shape):
    X = np.ones(shape)
    s = np.ones((1, 3))
    for mode in (autograd.record, autograd.predict_mode):
        with mode(), pytest.raises(ValueError, match="accepts a 2-D input"):
            bn(X, s, s, s, s, 1e-5, 0.9)


@BOTH
def test_wrong_statistic_shape_names_the_fix(bn):
    X = np.ones((2, 3, 4, 4))
    good, bad = np.ones((1, 3, 1, 1)), np.ones((1, 3))
    with pytest.raises(
        ValueError, match=r"moving_var has shape \(1, 3\).*\(1, 3, 1, 1\)"
    ):
        bn(X, good, good, good, bad, 1e-5, 0.9)
    with autograd.record(), pytest.raises(ValueError, match=r"gamma has shape \(4,\)"):
        bn(np.ones((2, 4)), np.ones(4), *[np.ones((1, 4))] * 3, 1e-5, 0.9)


# --- the Block ------------------------------------------------------------


@pytest.mark.parametrize("num_dims, shape", [(2, (1, 7)), (4, (1, 7, 1, 1))])
def test_block_shapes_and_initial_values(num_dims, shape):
    layer = BatchNorm(7, num_dims)
    layer.initialize()
    assert layer.gamma.data().shape == shape and layer.beta.data().shape == shape
    assert (layer.gamma.data() == 1).all() and (layer.beta.data() == 0).all()
    assert (layer.moving_mean == 0).all() and (layer.moving_var == 1).all()
    assert sorted(p.split("_")[-1] for p in layer.collect_params()) == ["beta", "gamma"]


def test_block_refuses_other_ranks():
    with pytest.raises(ValueError, match="num_dims must be 2"):
        BatchNorm(3, 3)


# The lecture Block and its fast twin must behave identically.
BLOCKS = pytest.mark.parametrize("Block", [BatchNorm, FastBatchNorm])


@BLOCKS
@pytest.mark.parametrize("shape", SHAPES)
def test_block_tracks_gluon_over_steps(Block, shape):
    mine = Block(shape[1], len(shape))
    ref = nn.BatchNorm(in_channels=shape[1])
    mine.initialize()
    ref.initialize()
    for step in range(4):
        X = inputs(shape, seed=step)
        with autograd.record():
            Y, Y_ref = mine(X), ref(X)
        Y_ref.backward()
        assert_allclose(Y.asnumpy(), Y_ref.asnumpy(), atol=1e-5)
        assert_allclose(
            mine.moving_mean.asnumpy().ravel(),
            ref.running_mean.data().asnumpy(),
            atol=1e-6,
        )
        assert_allclose(
            mine.moving_var.asnumpy().ravel(),
            ref.running_var.data().asnumpy(),
            atol=1e-5,
        )
    X = inputs(shape, seed=99)
    assert_allclose(mine(X).asnumpy(), ref(X).asnumpy(), atol=1e-5)  # prediction


@BLOCKS
def test_block_prediction_leaves_statistics_alone(Block):
    layer = Block(3, 2)
    layer.initialize()
    X = inputs((5, 3))
    Y = layer(X)  # outside record(): prediction mode, the identity at start
    assert_allclose(Y.asnumpy(), X.asnumpy() / onp.sqrt(1 + 1e-5), rtol=1e-6)
    assert (layer.moving_mean == 0).all() and (layer.moving_var == 1).all()


@BLOCKS
def test_block_moves_statistics_to_the_input_device(Block):
    layer = Block(3, 4)
    layer.initialize(ctx=mx.cpu(1))
    assert layer.moving_mean.ctx == mx.cpu(0)
    X = np.array(inputs((4, 3, 5, 5)), ctx=mx.cpu(1))
    with autograd.record():
        Y = layer(X)
    Y.backward()
    assert Y.ctx == mx.cpu(1)
    assert layer.moving_mean.ctx == mx.cpu(1) and layer.moving_var.ctx == mx.cpu(1)
    assert float(np.abs(layer.moving_mean).sum()) > 0, "the update happened there"
    assert layer.gamma.grad(mx.cpu(1)).ctx == mx.cpu(1)


@BLOCKS
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1)])
def test_block_refuses_a_batch_of_one_in_training_mode(Block, shape):
    layer = Block(3, len(shape))
    layer.initialize()
    with autograd.record(), pytest.raises(ValueError, match="at least 2 values per"):
        layer(inputs(shape))
    assert (layer.moving_var == 1).all(), "the statistics were not touched"
    assert layer(inputs(shape)).shape == shape  # prediction mode works


@BLOCKS
@pytest.mark.parametrize(
    "num_dims, shape, expects, hint",
    [
        (4, (2, 5, 6, 6), "(batch, 3, height, width)", "num_features=5"),
        (2, (2, 5), "(batch, 3)", "num_features=5"),
        (4, (2, 6, 6, 3), "(batch, 3, height, width)", "X.transpose(0, 3, 1, 2)"),
        (2, (2, 3, 6, 6), "(batch, 3)", "num_dims=4"),
        (4, (2, 3), "(batch, 3, height, width)", "num_dims=2"),
        (2, (2, 3, 6), "(batch, 3)", "2-D (after a Dense layer)"),
    ],
)  # fmt: skip
def test_block_says_which_input_it_expected(Block, num_dims, shape, expects, hint):
    layer = Block(3, num_dims)
    layer.initialize()
    for mode in (autograd.record, autograd.predict_mode):
        with mode(), pytest.raises(ValueError) as err:
            layer(np.ones(shape))
        message = str(err.value)
        assert f"num_features=3, num_dims={num_dims}" in message
        assert f"expects an input of shape {expects}" in message
        assert f"got one of shape {shape}" in message
        assert hint in message
        assert "gamma" not in message, "gamma is a Parameter: not the user's to fix"


@BLOCKS
@pytest.mark.parametrize("num_dims", [2, 4])
def test_reset_running_stats_starts_the_statistics_afresh(Block, num_dims):
    shape = (8, 3) if num_dims == 2 else (8, 3, 4, 4)
    layer = Block(3, num_dims)
    layer.initialize(ctx=mx.cpu(1))
    with autograd.record():
        layer(np.array(inputs(shape), ctx=mx.cpu(1)))
    assert float(np.abs(layer.moving_mean).sum()) > 0
    layer.reset_running_stats()
    fresh = Block(3, num_dims)
    for name in ("moving_mean", "moving_var"):
        now, new = getattr(layer, name), getattr(fresh, name)
        assert now.shape == new.shape and (now == new.as_in_ctx(mx.cpu(1))).all()
        assert now.ctx == mx.cpu(1), "stays on the device it was moved to"
