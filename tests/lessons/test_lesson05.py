"""Lesson 05's momentum rules, training-mode accuracy and repeats over seeds, checked.

Each definition the notebook shows is run from the notebook and compared
with its package twin on the same inputs, and against a reference: PyTorch's
documented rule, Gluon's own ``nn.BatchNorm``, or a hand computation.
"""

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
    for measure in (lesson["stale_and_refreshed"], lesson05.stale_and_refreshed):
        set_seed(0)
        results.append(measure(train_iter, test_iter, 1, 1.0, mx.cpu(1)))
    assert results[0] == results[1]
    assert list(results[0]) == [
        "prediction mode, from training", "training mode, batch 256",
        "prediction mode, refreshed",
    ]  # fmt: skip
    assert all(0 <= v <= 1 for v in results[0].values())


def test_stale_and_refreshed_measures_what_it_names(tiny_data):
    # reference: the same run, step by step, with the lesson's tools
    from bnlesson.lesson03 import lenet, train
    from bnlesson.training.metrics import evaluate_accuracy

    train_iter, test_iter = tiny_data
    set_seed(3)
    measured = lesson05.stale_and_refreshed(train_iter, test_iter, 2, 0.5)
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
