"""Lesson 05's momentum rules, training-mode accuracy and repeats over seeds, checked.

Each definition the notebook shows is run from the notebook and compared
with its package twin on the same inputs, and against a reference: PyTorch's
documented rule, Gluon's own ``nn.BatchNorm``, or a hand computation. The
package's own helpers follow: the noise of batch statistics
(``batch_statistics``, against theory and a direct computation) and the
recomputed moving statistics (``refresh_running_stats``, against Gluon's rule
by hand).
"""

import re

import mxnet as mx
import numpy as onp
import pandas as pd
import pytest
from mxnet import autograd, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from bnlesson import lesson05
from bnlesson.core.config import set_seed
from bnlesson.data import Batches, balanced_subset, load_arrays
from bnlesson.lesson05 import batch_statistics, refresh_running_stats
from bnlesson.lesson05 import stale as lesson05_stale
from bnlesson.lesson05.stale import precise_running_stats

from nbutil import shown


@pytest.fixture(scope="module")
def lesson():
    return shown("05")


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


def small_net(device=None):
    net = nn.HybridSequential()
    net.add(nn.Dense(8), nn.BatchNorm(), nn.Dense(3))
    net.initialize(ctx=device)
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


@pytest.mark.parametrize("where", ["notebook", "package"])
def test_training_mode_accuracy_runs_where_the_net_lives(lesson, where):
    # MXNet keeps cpu(1) apart from cpu(0), the default of np.array: an
    # array left on the default device fails here as it would on a GPU
    accuracy = (lesson["accuracy_in_training_mode"] if where == "notebook"
                else lesson05.accuracy_in_training_mode)  # fmt: skip
    net, X, y = small_net(mx.cpu(1))
    with autograd.train_mode():
        by_hand = net(np.array(X, ctx=mx.cpu(1))).argmax(axis=1).asnumpy()
    assert accuracy(net, X, y, 30) == pytest.approx((by_hand == y).mean())


# NumPy's legacy global generator on purpose: set_seed seeds it, and lessons'
# batch orders draw from it.
def draws():
    """A run whose result is a known function of NumPy's and MXNet's generators."""
    uniform = onp.random.uniform()  # noqa: NPY002
    return {"uniform": uniform, "mxnet": float(np.random.uniform())}


def by_hand(seeds):
    """over_seeds' table for `draws`, computed without it."""
    rows = {}
    for seed in seeds:
        onp.random.seed(seed)  # noqa: NPY002 - the generator set_seed seeds
        mx.random.seed(seed)
        uniform = onp.random.uniform()  # noqa: NPY002
        rows[f"seed {seed}"] = [uniform, float(np.random.uniform())]
    values = onp.array(list(rows.values()))
    index = [*rows, "mean", "min", "max"]
    table = onp.vstack([values, values.mean(0), values.min(0), values.max(0)])
    return pd.DataFrame(table, index=index, columns=["uniform", "mxnet"])


@pytest.mark.parametrize("where", ["notebook", "package"])
@pytest.mark.parametrize("seeds", [(0, 1, 2), (5, 3), [7, 0, 1, 2]])
def test_over_seeds_repeats_a_run_and_adds_mean_and_range(lesson, where, seeds):
    over_seeds = lesson["over_seeds"] if where == "notebook" else lesson05.over_seeds
    table = over_seeds(draws, seeds=seeds)
    pd.testing.assert_frame_equal(table, by_hand(seeds))


def test_over_seeds_twins_agree_and_name_a_single_number_value(lesson):
    count = iter(range(100))
    tables = []
    for over_seeds in (lesson["over_seeds"], lesson05.over_seeds):
        run = lambda: onp.random.randint(1000) + next(count)  # noqa: E731, NPY002
        tables.append(over_seeds(run))
    # the same draws, one count further in the second table (3 runs each)
    assert list(tables[0].columns) == ["value"]
    assert list(tables[0].index) == ["seed 0", "seed 1", "seed 2", "mean", "min", "max"]
    rows = ["seed 0", "seed 1", "seed 2"]
    assert_allclose(tables[1].loc[rows, "value"] - 3, tables[0].loc[rows, "value"])
    assert tables[0].loc["min", "value"] == tables[0].loc[rows, "value"].min()


@pytest.mark.parametrize("seeds", [(0,), (), (1, 1), (0, 1, 1)])
def test_over_seeds_refuses_fewer_than_two_distinct_seeds(lesson, seeds):
    messages = []
    for over_seeds in (lesson["over_seeds"], lesson05.over_seeds):
        with pytest.raises(ValueError) as err:
            over_seeds(draws, seeds=seeds)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "two or more distinct seeds" in messages[0]


@pytest.fixture(scope="module")
def tiny_data():
    X, y = load_arrays("test")
    train, test = balanced_subset(y[:5000], 40), balanced_subset(y[5000:], 20) + 5000
    return (Batches(X[train], y[train], 64, shuffle=True),
            Batches(X[test], y[test], 256))  # fmt: skip


def test_stale_and_refreshed_twins_agree_on_cpu_1(lesson, tiny_data):
    train_iter, test_iter = tiny_data
    results = []
    for measure in (lesson["stale_and_refreshed"], lesson05_stale.stale_and_refreshed):
        set_seed(0)
        results.append(measure(train_iter, test_iter, 1, 1.0, mx.cpu(1)))
    assert results[0] == results[1]
    assert list(results[0]) == [
        "prediction mode, from training", "training mode, batch 256",
        "prediction mode, refreshed", "prediction mode, precise",
    ]  # fmt: skip
    assert all(0 <= v <= 1 for v in results[0].values())


def test_stale_and_refreshed_measures_what_it_names(tiny_data):
    # reference: the same run, step by step, with the lesson's tools
    from bnlesson.lesson03 import lenet, train
    from bnlesson.training.metrics import evaluate_accuracy

    train_iter, test_iter = tiny_data
    set_seed(3)
    measured = lesson05_stale.stale_and_refreshed(train_iter, test_iter, 2, 0.5)
    set_seed(3)
    net = lenet("gluon")
    net.hybridize()
    history = train(net, train_iter, test_iter, 2, 0.5, verbose=False, plot=False)
    assert measured["prediction mode, from training"] == history.test_acc[-1]
    assert measured["prediction mode, from training"] == evaluate_accuracy(
        net, test_iter
    )
    in_training_mode = lesson05.accuracy_in_training_mode(
        net, test_iter.X, test_iter.y, 256
    )
    assert measured["training mode, batch 256"] == in_training_mode
    lesson05.refresh_running_stats(net, train_iter, num_batches=50)
    assert measured["prediction mode, refreshed"] == evaluate_accuracy(net, test_iter)
    precise_running_stats(net, train_iter)
    assert measured["prediction mode, precise"] == evaluate_accuracy(net, test_iter)


@pytest.mark.parametrize("where", ["notebook", "package"])
def test_running_stats_kept_puts_back_what_a_forward_pass_changed(lesson, where):
    # The CPU kernel never changes them in a forward pass, so the change cuDNN
    # would make is made by hand inside the context: it must be undone, and
    # the parameters the network learns must be left alone.
    from mxnet.gluon import nn

    kept = (lesson["running_stats_kept"] if where == "notebook"
            else lesson05.running_stats_kept)  # fmt: skip
    net = nn.HybridSequential()
    net.add(nn.Dense(3), nn.BatchNorm())
    net.initialize()
    net(np.ones((2, 4)))
    bn = net[1]
    before = {n: p.data().asnumpy().copy() for n, p in bn.collect_params().items()}
    with kept(net):
        bn.running_mean.set_data(np.full((3,), 7.0))
        bn.running_var.set_data(np.full((3,), 9.0))
        bn.gamma.set_data(np.full((3,), 2.0))  # learned: not the context's
    after = {n: p.data().asnumpy() for n, p in bn.collect_params().items()}
    for name in before:
        if "running" in name:
            assert (after[name] == before[name]).all(), name
        else:
            assert (after[name] == 2.0).all() or "gamma" not in name, name
    assert (bn.gamma.data().asnumpy() == 2.0).all()


# --- batch_statistics --------------------------------------------------------


def first_layer_is_bn():
    net = nn.HybridSequential()
    net.add(nn.BatchNorm(), nn.Dense(2))
    net.initialize()
    return net


def test_batch_noise_of_independent_values_follows_theory():
    X = onp.random.default_rng(0).normal(3.0, 2.0, (20000, 4)).astype(onp.float32)
    net = first_layer_is_bn()
    noise = batch_statistics(net, net[0], X, [2, 8, 64], num_batches=2000)
    assert list(noise.index) == [2, 8, 64]
    b = noise.index.to_numpy()
    assert_allclose(noise["mean_error"], 1 / onp.sqrt(b), rtol=0.06)
    assert_allclose(noise["var_ratio"], (b - 1) / b, rtol=0.05)
    assert_allclose(noise["mean_error_iid"], 1 / onp.sqrt(b))
    assert (noise["values_per_example"] == 1).all()
    assert noise["var_ratio_spread"].is_monotonic_decreasing


def test_batch_noise_of_a_conv_input_matches_a_direct_computation():
    rng = onp.random.default_rng(1)
    X = rng.normal(size=(50, 3, 4, 4)) * onp.array([1.0, 2.0, 5.0])[:, None, None]
    X = X.astype(onp.float32)
    net = first_layer_is_bn()
    noise = batch_statistics(net, net[0], X, [4], num_batches=30, seed=7)
    mu, var = X.mean(axis=(0, 2, 3)), X.var(axis=(0, 2, 3))
    draws = onp.random.default_rng(7)
    errors, ratios = [], []
    for _ in range(30):
        batch = X[draws.choice(len(X), 4, replace=False)]
        errors.append((batch.mean(axis=(0, 2, 3)) - mu) ** 2 / var)
        ratios.append(batch.var(axis=(0, 2, 3)) / var)
    assert_allclose(noise.loc[4, "mean_error"], onp.sqrt(onp.mean(errors)), rtol=1e-4)
    assert_allclose(noise.loc[4, "var_ratio"], onp.mean(ratios), rtol=1e-4)


def test_batch_noise_of_independent_pixels_counts_every_value_of_a_channel():
    # each image gives a channel 4 x 4 = 16 values: with independent values
    # the batch mean's error is 1/sqrt(16 b), not 1/sqrt(b)
    X = onp.random.default_rng(3).normal(2.0, 3.0, (5000, 3, 4, 4))
    net = first_layer_is_bn()
    noise = batch_statistics(net, net[0], X.astype(onp.float32), [2, 8],
                             num_batches=2000)  # fmt: skip
    b = noise.index.to_numpy()
    assert (noise["values_per_example"] == 16).all()
    assert_allclose(noise["mean_error_iid"], 1 / onp.sqrt(16 * b))
    assert_allclose(noise["mean_error"], 1 / onp.sqrt(16 * b), rtol=0.06)


def test_batch_noise_skips_constant_channels_and_checks_arguments():
    X = onp.random.default_rng(2).normal(size=(100, 3)).astype(onp.float32)
    X[:, 1] = 5.0  # a dead unit
    net = first_layer_is_bn()
    noise = batch_statistics(net, net[0], X, [10])
    assert onp.isfinite(noise.to_numpy()).all()
    with pytest.raises(ValueError, match="between 2 and len"):
        batch_statistics(net, net[0], X, [1])
    with pytest.raises(ValueError, match=r"whole numbers between 2 .* not \[10.0\]"):
        batch_statistics(net, net[0], X, [10.0])
    with pytest.raises(ValueError, match="one of net's own layers"):
        batch_statistics(net, nn.BatchNorm(), X, [2])


# --- refresh_running_stats ---------------------------------------------------


def test_refresh_recomputes_the_moving_statistics_weights_fixed():
    rng = onp.random.default_rng(3)
    batches = [rng.normal(2.0, 3.0, (16, 5)).astype(onp.float32) for _ in range(4)]
    net = nn.HybridSequential()
    net.add(nn.BatchNorm(), nn.Dense(3))
    net.initialize()
    net(np.array(batches[0]))
    weights = net[1].weight.data().asnumpy().copy()
    pairs = [(np.array(X), np.zeros(16)) for X in batches]
    refresh_running_stats(net, pairs, num_batches=3)
    # Gluon's rule (momentum 0.9 on the old value, biased variance), by hand
    mean, var = onp.zeros(5), onp.ones(5)
    for X in batches[:3]:
        mean = 0.9 * mean + 0.1 * X.mean(axis=0)
        var = 0.9 * var + 0.1 * X.var(axis=0)
    assert_allclose(net[0].running_mean.data().asnumpy(), mean, rtol=1e-5)
    assert_allclose(net[0].running_var.data().asnumpy(), var, rtol=1e-5)
    assert onp.array_equal(net[1].weight.data().asnumpy(), weights)
    assert not autograd.is_training()
    with pytest.raises(ValueError, match="at least 1"):
        refresh_running_stats(net, pairs, 0)


@pytest.mark.parametrize("empty", [list, tuple, lambda: iter([])])
def test_refresh_refuses_data_without_batches(empty):
    net = nn.HybridSequential()
    net.add(nn.BatchNorm(), nn.Dense(3))
    net.initialize()
    net(np.ones((4, 5)))
    with pytest.raises(ValueError, match="data_iter holds no batches, so no running"):
        refresh_running_stats(net, empty())
    assert (net[0].running_mean.data() == 0).all()  # nothing changed


@pytest.mark.parametrize("num_batches", [0, -1, 2.5, "3", float("nan"), True, None])
def test_refresh_refuses_a_number_of_batches_that_is_not_a_count(num_batches):
    net = nn.HybridSequential()
    net.add(nn.BatchNorm(), nn.Dense(3))
    net.initialize()
    pairs = [(np.ones((4, 5)) * i, np.zeros(4)) for i in range(3)]
    message = f"num_batches must be a whole number of at least 1, not {num_batches!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        refresh_running_stats(net, pairs, num_batches)


# --- precise_running_stats ----------------------------------------------------


def dense_chain(device=None):
    """Dense, BN, ReLU, Dense, BN: the second layer's input depends on the first's."""
    net = nn.HybridSequential()
    net.add(nn.Dense(6), nn.BatchNorm(), nn.Activation("relu"), nn.Dense(4),
            nn.BatchNorm())  # fmt: skip
    net.initialize(ctx=device)
    net.hybridize()
    net(np.ones((2, 5), ctx=device))  # Gluon infers the shapes
    net[1].gamma.set_data(np.array([0.5, 2.0, 1.0, 1.5, 0.8, 1.2], ctx=device))
    net[1].beta.set_data(np.array([0.3, -0.2, 0.1, 0.0, 0.5, -0.4], ctx=device))
    return net


def by_hand_float64(net, batches):
    """The paper's averages for dense_chain, one pass over `batches` in float64.

    Training mode: the first batch-norm layer normalizes with the batch's own
    statistics, so the second sees what it saw in training.
    """
    w1, b1, gamma, beta, w2, b2 = (
        p.data().asnumpy().astype(onp.float64)
        for p in (net[0].weight, net[0].bias, net[1].gamma, net[1].beta,
                  net[3].weight, net[3].bias)
    )  # fmt: skip
    first, second = [], []
    for X, _ in batches:
        X = X.asnumpy().astype(onp.float64)
        m = len(X)
        h = X @ w1.T + b1
        first.append((h.mean(axis=0), h.var(axis=0) * m / (m - 1)))
        x_hat = (h - h.mean(axis=0)) / onp.sqrt(h.var(axis=0) + 1e-5)
        h2 = onp.maximum(gamma * x_hat + beta, 0) @ w2.T + b2
        second.append((h2.mean(axis=0), h2.var(axis=0) * m / (m - 1)))
    return [
        tuple(onp.mean(s, axis=0) for s in zip(*layer)) for layer in (first, second)
    ]


def dense_batches(sizes=(16, 16, 16, 7)):
    rng = onp.random.default_rng(4)
    return [(np.array(rng.normal(1.0, 2.0, (n, 5)).astype(onp.float32)), np.zeros(n))
            for n in sizes]  # fmt: skip


def running(bn):
    return bn.running_mean.data().asnumpy(), bn.running_var.data().asnumpy()


@pytest.mark.parametrize("where", ["notebook", "package"])
def test_precise_stats_are_the_papers_averages_on_cpu_1(lesson, where):
    precise = (lesson["precise_running_stats"] if where == "notebook"
               else precise_running_stats)  # fmt: skip
    net = dense_chain(mx.cpu(1))  # not the default device: arrays must follow
    weights = {k: v.data().asnumpy().copy() for k, v in net.collect_params().items()
               if "running" not in k}  # fmt: skip
    batches = dense_batches()
    precise(net, batches)
    for bn, (mean, var) in zip((net[1], net[4]), by_hand_float64(net, batches)):
        assert_allclose(running(bn)[0], mean, rtol=1e-5, atol=1e-6)
        assert_allclose(running(bn)[1], var, rtol=1e-5)
        assert bn.running_mean.data().ctx == mx.cpu(1)
    for k, v in net.collect_params().items():
        if "running" not in k:
            assert onp.array_equal(v.data().asnumpy(), weights[k]), k
    assert not autograd.is_training()


def test_precise_stats_use_only_num_batches_and_forget_the_old_values():
    net = dense_chain()
    batches = dense_batches()
    net[1].running_mean.set_data(np.full((6,), 50.0))  # stale values: ignored
    precise_running_stats(net, iter(batches), num_batches=2)
    mean, var = by_hand_float64(net, batches[:2])[0]
    assert_allclose(running(net[1])[0], mean, rtol=1e-5, atol=1e-6)
    assert_allclose(running(net[1])[1], var, rtol=1e-5)
    # the exponential average of the same batches is another number
    refresh_running_stats(net, batches[:2], num_batches=2)
    assert not onp.allclose(running(net[1])[1], var, rtol=1e-2)


def test_precise_stats_of_a_conv_layer_count_height_and_width():
    # a channel's statistic comes from m = batch x height x width values, so
    # the unbiased variance is m/(m-1) times the biased one, not b/(b-1)
    rng = onp.random.default_rng(5)
    images = [rng.normal(2.0, 3.0, (n, 3, 4, 4)).astype(onp.float32) for n in (3, 2)]
    net = nn.HybridSequential()
    net.add(nn.BatchNorm(), nn.Dense(2))
    net.initialize()
    precise_running_stats(net, [(np.array(X), np.zeros(len(X))) for X in images])
    X64 = [X.astype(onp.float64) for X in images]
    mean = onp.mean([X.mean(axis=(0, 2, 3)) for X in X64], axis=0)
    var = onp.mean([X.var(axis=(0, 2, 3)) * X[:, 0].size / (X[:, 0].size - 1)
                    for X in X64], axis=0)  # fmt: skip
    assert_allclose(running(net[0])[0], mean, rtol=1e-6)
    assert_allclose(running(net[0])[1], var, rtol=1e-6)


@pytest.mark.parametrize("num_batches", [0, -2, 2.5, True, "3"])
def test_precise_stats_refuse_a_number_of_batches_that_is_not_a_count(num_batches):
    net = dense_chain()
    message = f"a whole number of at least 1, not {num_batches!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        precise_running_stats(net, dense_batches(), num_batches)


@pytest.mark.parametrize("empty", [list, lambda: iter([])])
def test_precise_stats_refuse_data_without_batches(empty):
    net = dense_chain()
    before = running(net[1])
    with pytest.raises(ValueError, match="holds no batches, so the running"):
        precise_running_stats(net, empty())
    assert all(onp.array_equal(a, b) for a, b in zip(running(net[1]), before))


def test_precise_stats_refuse_batch_norm_inside_another_block():
    inner = nn.HybridSequential()
    inner.add(nn.Dense(4), nn.BatchNorm())
    net = nn.HybridSequential()
    net.add(inner, nn.Dense(2))
    net.initialize()
    net(np.ones((2, 5)))
    with pytest.raises(ValueError, match="sit inside other blocks"):
        precise_running_stats(net, dense_batches())
    assert (inner[1].running_mean.data() == 0).all()  # nothing changed
