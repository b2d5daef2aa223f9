"""Lesson 11: group norm and layer norm against float64 references and Gluon."""

from __future__ import annotations

import mxnet as mx
import numpy as onp
import pytest
from mxnet import autograd, np, npx
from mxnet.gluon import nn

from bnlesson.core.config import set_seed
from bnlesson.data import Batches
from bnlesson.lesson11 import (
    GroupNorm,
    LayerNorm,
    gluon_group_norm,
    group_norm,
    layer_norm,
)
from bnlesson.lesson11.runs import (
    batch_size_sweep,
    error_table,
    normalized_lenet,
    train_error,
)

npx.set_np()
RNG = onp.random.default_rng(11)


def reference(x, gamma, beta, groups, eps=1e-5):
    """Group norm in float64 NumPy, written per example and group with loops."""
    x = onp.asarray(x, dtype=onp.float64)
    out = onp.empty_like(x)
    per = x.shape[1] // groups
    for n in range(x.shape[0]):
        for g in range(groups):
            part = x[n, g * per : (g + 1) * per]
            out[n, g * per : (g + 1) * per] = (part - part.mean()) / onp.sqrt(
                part.var() + eps
            )
    return gamma * out + beta


def arrays(shape):
    C = shape[1]
    stat = (1, C) if len(shape) == 2 else (1, C, 1, 1)
    x = RNG.normal(2.0, 3.0, size=shape)
    gamma, beta = RNG.normal(size=stat), RNG.normal(size=stat)
    return x, gamma, beta


@pytest.mark.parametrize("shape", [(4, 6, 5, 5), (3, 12)])
@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_group_norm_matches_a_float64_reference(shape, groups):
    x, gamma, beta = arrays(shape)
    ours = group_norm(*(np.array(a, dtype="float32") for a in (x, gamma, beta)), groups)
    onp.testing.assert_allclose(ours.asnumpy(), reference(x, gamma, beta, groups),
                                atol=2e-5)  # fmt: skip


def test_layer_norm_is_group_norm_with_one_group_and_matches_gluon():
    x, gamma, beta = (np.array(a, dtype="float32") for a in arrays((5, 4, 3, 3)))
    one_group = group_norm(x, gamma, beta, 1).asnumpy()
    ours = layer_norm(x, gamma, beta).asnumpy()
    onp.testing.assert_allclose(ours, one_group, atol=1e-6)
    # 2-D: Gluon's LayerNorm normalizes the last axis, i.e. all features
    x, gamma, beta = (np.array(a, dtype="float32") for a in arrays((5, 7)))
    head = np.array(RNG.normal(size=(5, 7)), dtype="float32")
    gluon = nn.LayerNorm(epsilon=1e-5)
    gluon.initialize()
    gluon.gamma.set_data(gamma.reshape(-1))
    gluon.beta.set_data(beta.reshape(-1))
    results = []
    for f in (lambda v: layer_norm(v, gamma, beta), gluon):
        v = x.copy()
        v.attach_grad()
        with autograd.record():
            Y = f(v)
        Y.backward(head)
        results.append((Y.asnumpy(), v.grad.asnumpy()))
    for ours, theirs in zip(*results):
        onp.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_group_norm_output_and_gradients_match_gluons_group_norm():
    x, _, _ = arrays((3, 6, 4, 4))
    X = np.array(x, dtype="float32")
    group_gamma = np.array([0.5, 2.0])
    group_beta = np.array([-1.0, 0.3])
    gamma = np.repeat(group_gamma, 3).reshape(1, 6, 1, 1)
    beta = np.repeat(group_beta, 3).reshape(1, 6, 1, 1)
    head = np.array(RNG.normal(size=x.shape), dtype="float32")
    for a in (X, gamma, beta):
        a.attach_grad()
    with autograd.record():
        Y = group_norm(X, gamma, beta, 2)
    Y.backward(head)
    Yg, dX, dgamma, dbeta = gluon_group_norm(X, 2, group_gamma, group_beta, head)
    onp.testing.assert_allclose(Y.asnumpy(), Yg.asnumpy(), atol=2e-5)
    onp.testing.assert_allclose(X.grad.asnumpy(), dX.asnumpy(), atol=2e-4)
    # per channel here, per group in Gluon: the group's sum
    onp.testing.assert_allclose(gamma.grad.reshape(2, 3).sum(axis=1).asnumpy(),
                                dgamma.asnumpy(), rtol=1e-4, atol=1e-4)  # fmt: skip
    onp.testing.assert_allclose(beta.grad.reshape(2, 3).sum(axis=1).asnumpy(),
                                dbeta.asnumpy(), rtol=1e-4, atol=1e-4)  # fmt: skip


def test_one_group_per_channel_is_gluons_instance_norm():
    x, _, _ = arrays((3, 4, 5, 5))
    ones, zeros = np.ones((1, 4, 1, 1)), np.zeros((1, 4, 1, 1))
    ours = group_norm(np.array(x, dtype="float32"), ones, zeros, 4).asnumpy()
    with mx.util.np_array(False), mx.util.np_shape(False):
        layer = nn.InstanceNorm(epsilon=1e-5)
        layer.initialize()
        theirs = layer(mx.nd.array(x)).asnumpy()
    onp.testing.assert_allclose(ours, theirs, atol=2e-5)


@pytest.mark.parametrize(
    "shape, groups, stat, words",
    [
        ((2, 6, 3, 3), 4, (1, 6, 1, 1), "cannot be split into 4 groups"),
        ((2, 6, 3), 2, (1, 6, 1), "3-D input"),
        ((2, 6, 3, 3), 2, (1, 6), "needs (1, 6, 1, 1)"),
        ((2, 6, 3, 3), 0, (1, 6, 1, 1), "num_groups"),
    ],
)
def test_bad_input_is_refused_with_what_to_do(shape, groups, stat, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        group_norm(np.zeros(shape), np.ones(stat), np.zeros(stat), groups)


def test_an_example_is_normalized_alone_in_both_modes():
    set_seed(0)
    for layer in (GroupNorm(6, 4, 2), LayerNorm(6, 4)):
        layer.initialize()
        X = np.random.normal(size=(5, 6, 3, 3))
        with autograd.train_mode():
            batch = layer(X)
        alone = layer(X[1:2])  # prediction mode, one example
        onp.testing.assert_allclose(alone.asnumpy(), batch[1:2].asnumpy(), atol=1e-6)


def test_normalized_lenet_builds_each_norm_and_refuses_others():
    for norm, kind in (("batch", nn.BatchNorm), ("group", GroupNorm),
                       ("layer", LayerNorm)):  # fmt: skip
        net = normalized_lenet(norm)
        net.initialize()
        assert net(np.zeros((2, 1, 28, 28))).shape == (2, 10)
        assert sum(isinstance(b, kind) for b in net) == 4
    with pytest.raises(ValueError, match="norm must be one of"):
        normalized_lenet("instance")


@pytest.fixture(scope="module")
def tiny_data():
    rng = onp.random.default_rng(0)
    X = rng.random((64, 1, 28, 28)).astype("float32")
    y = (onp.arange(64) % 10).astype("int32")
    return (X, y), Batches(X[:32], y[:32], 32)


def test_accumulating_k_batches_is_one_k_times_larger_batch_without_batch_norm(
    tiny_data,
):
    """Layer norm does not look across examples: 4 accumulated batches of 2
    give the same update as one batch of 8 (same shuffle, same rate per
    example); batch norm normalizes each batch of 2 alone, so it does not."""
    train, test = tiny_data
    weights = {}
    for norm in ("layer", "batch"):
        for b, k in ((8, 1), (2, 4)):
            set_seed(3)
            net = normalized_lenet(norm)
            train_error(norm, b, train, test, 64, 0.01, mx.cpu(), accumulate=k, net=net)
            weights[norm, k] = net[0].weight.data().asnumpy()
    onp.testing.assert_allclose(weights["layer", 1], weights["layer", 4], atol=1e-5)
    assert onp.abs(weights["batch", 1] - weights["batch", 4]).max() > 1e-3


def test_sweep_has_a_row_per_run_and_the_table_a_range(tiny_data):
    train, test = tiny_data
    runs = batch_size_sweep(["layer"], [16, 4], [0, 1], train, test, 32, 0.01,
                            mx.cpu(), verbose=False)  # fmt: skip
    assert len(runs) == 4 and set(runs["batch_size"]) == {16, 4}
    table = error_table(runs)
    assert list(table.index) == [16, 4]
    assert (table["min"] <= table["mean"]).all().all()
    assert (table["mean"] <= table["max"]).all().all()
    with pytest.raises(ValueError, match="two or more seeds"):
        batch_size_sweep(["layer"], [4], [0], train, test, 8, 0.01, mx.cpu())
