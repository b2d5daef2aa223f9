"""bnlesson.lesson07: the paper's initial weights, the drift in absolute units,
and the frozen-weights measure of what the moving statistics add to the wobble.

Tiny networks on tiny generated data (tests/support/tinymlp.py); seconds.
"""

import math

import numpy as onp
import pytest
from mxnet import autograd, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from bnlesson import data
from bnlesson.core.config import default_device, set_seed
from bnlesson.lesson05.stale import precise_running_stats
from bnlesson.lesson07 import train_recording
from bnlesson.lesson07.drift import absolute_drift, typical_unit
from bnlesson.lesson07.network import PAPER_INIT, mlp, sigmoid_input
from bnlesson.lesson07.wobble import frozen_weights
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.recording import Recording, drift
from bnlesson.training.sgd import sgd_setup

import tinymlp

HIDDEN, CLASSES = tinymlp.HIDDEN, tinymlp.CLASSES


@pytest.fixture(scope="module")
def tiny():
    return tinymlp.data()


# --- mlp(weight_init=...) ----------------------------------------------------


def weight_stds(net):
    return [float(p.data().std()) for p in net.collect_params(".*weight").values()]


@pytest.mark.parametrize("norm", ["none", "gluon"])
def test_paper_weights_survive_the_xavier_of_sgd_setup(norm):
    set_seed(0)
    net = mlp(norm, weight_init=PAPER_INIT)
    sgd_setup(net, 0.5, default_device(), hybridize=False)
    net(np.zeros((1, 1, 28, 28), ctx=default_device()))
    # 78,400 weights in the first layer: their spread is 0.01 to within 1%
    assert math.isclose(weight_stds(net)[0], 0.01, rel_tol=0.01)
    assert all(abs(s - 0.01) < 0.002 for s in weight_stds(net))
    others = net.collect_params(".*bias|.*beta|.*gamma")
    for name, p in others.items():
        expected = 1.0 if name.endswith("gamma") else 0.0
        assert onp.all(p.data().asnumpy() == expected), name


def test_without_weight_init_the_weights_are_xavier():
    set_seed(0)
    net = mlp("none")
    sgd_setup(net, 0.5, default_device(), hybridize=False)
    net(np.zeros((1, 1, 28, 28), ctx=default_device()))
    # Xavier (uniform, magnitude 3): std sqrt(2 / (fan_in + fan_out))
    assert math.isclose(weight_stds(net)[0], math.sqrt(2 / (784 + 100)), rel_tol=0.02)


# --- absolute_drift ----------------------------------------------------------


def test_absolute_drift_adds_the_median_move_and_the_width_change():
    assert absolute_drift([[-1, 0, 1], [0, 1, 2]]) == 1.0  # moved by 1
    assert absolute_drift([[-1, 0, 1], [-3, 0, 3]]) == 4.0  # widened from 2 to 6
    p = [[-1, 0, 1], [5, 5, 5], [-2, 0.5, 1]]  # only the first and last count
    assert absolute_drift(p, "median") == 0.5 and absolute_drift(p, "width") == 1.0
    assert absolute_drift(p) == 1.5


def test_a_narrow_start_inflates_the_relative_drift_not_the_absolute_one():
    """The reason for the measure: two units make the same move, 0.2 to the
    right; the one that started 100 times narrower gets a relative drift 100
    times larger, and the same absolute drift."""
    narrow = [[-0.005, 0, 0.005], [0.195, 0.2, 0.205]]
    wide = [[-0.5, 0, 0.5], [-0.3, 0.2, 0.7]]
    assert math.isclose(drift(narrow) / drift(wide), 100)
    assert math.isclose(absolute_drift(narrow), absolute_drift(wide))


def test_absolute_drift_per_unit():
    p = onp.array([[[-1, 0, 1], [0, 0, 2]], [[-1, 1, 1], [-2, 0, 3]]])  # (R, U, 3)
    assert_allclose(absolute_drift(p), [1 + 0, 0 + 3])


@pytest.mark.parametrize(
    "p, part, match",
    [([[-1, 0, 1]], "total", "at least two"), ([[0, 1], [0, 1]], "total", "shape"),
     ([[-1, 0, 1], [0, 1, 2]], "mean", "part must be one of")],
)  # fmt: skip
def test_absolute_drift_refuses_bad_input(p, part, match):
    with pytest.raises(ValueError, match=match):
        absolute_drift(p, part)


def test_the_typical_unit_has_the_median_absolute_drift():
    moves = onp.array([0.0, 4.0, 1.0, 3.0, 2.0])
    first = onp.tile([-1.0, 0.0, 1.0], (5, 1))
    last = first + moves[:, None]  # unit i's median moved by moves[i]
    rec = Recording(steps=onp.array([1, 2]), test_acc=onp.zeros(2),
                    loss=onp.zeros(2), percentiles=onp.stack([first, last]),
                    units=(10, 11, 12, 13, 14))  # fmt: skip
    assert typical_unit(rec) == 14  # drift 2, the middle of 0..4


# --- population statistics and frozen_weights ----------------------------------


@pytest.fixture()
def trained(tiny):
    X, y, Xt, yt = tiny
    set_seed(0)
    net = mlp("gluon", hidden=HIDDEN, num_outputs=CLASSES)
    train_recording(net, data.Batches(X, y, 10, shuffle=True),
                    data.Batches(Xt, yt, 15), Xt, num_steps=20, lr=0.5,
                    every=10)  # fmt: skip
    return net


def first_layer_input(net, X):
    W = net[0].weight.data().asnumpy().astype(onp.float64)
    return X.astype(onp.float64) @ W.T


def test_population_statistics_average_the_batches_as_algorithm_2(tiny, trained):
    """Lesson 05's exact average, on lesson 07's network (what frozen_weights uses):
    asked for 5 batches, it averages the 2 there are."""
    X = tiny[0]
    batches = [(np.array(X[:30]), None), (np.array(X[30:50]), None)]
    precise_running_stats(trained, batches, num_batches=5)
    z = [first_layer_input(trained, X[:30]), first_layer_input(trained, X[30:50])]
    mean = (z[0].mean(axis=0) + z[1].mean(axis=0)) / 2
    var = (z[0].var(axis=0, ddof=1) + z[1].var(axis=0, ddof=1)) / 2  # m/(m-1)
    bn = trained[1]
    assert_allclose(bn.running_mean.data().asnumpy(), mean, rtol=1e-4, atol=1e-6)
    assert_allclose(bn.running_var.data().asnumpy(), var, rtol=1e-4, atol=1e-6)


def test_one_batch_population_statistics_predict_as_training_mode(trained, tiny):
    """Deeper layers too: with one batch's statistics (and the biased variance
    put back), prediction mode on that batch is training mode on it."""
    X = np.array(tiny[0][:40])
    precise_running_stats(trained, [(X, None)])
    for block in trained:
        if isinstance(block, nn.BatchNorm):
            block.running_var.set_data(block.running_var.data() * 39 / 40)
    with autograd.pause(train_mode=True):
        training = sigmoid_input(trained, X, training=True).asnumpy()
    assert_allclose(sigmoid_input(trained, X).asnumpy(), training, rtol=1e-3, atol=1e-4)


def test_frozen_weights_refuse_a_net_without_gluon_batch_norm(tiny):
    X, y, Xt, yt = tiny
    net = mlp("none", hidden=HIDDEN, num_outputs=CLASSES)
    net.initialize()
    with pytest.raises(ValueError, match="no nn.BatchNorm"):
        frozen_weights(net, data.Batches(X, y, 10), data.Batches(Xt, yt, 15),
                       np.array(Xt))  # fmt: skip


def test_frozen_weights_move_only_the_statistics_and_put_them_back(tiny, trained):
    X, y, Xt, yt = tiny
    params = trained.collect_params()
    before = {name: p.data().asnumpy().copy() for name, p in params.items()}
    test, train = data.Batches(Xt, yt, 15), data.Batches(X, y, 10)  # 9 batches
    result = frozen_weights(trained, train, test, np.array(Xt), snapshots=4,
                            apart=3, population_batches=180)  # fmt: skip
    for name, p in params.items():  # weights and moving statistics as before
        assert_allclose(p.data().asnumpy(), before[name], err_msg=name)
    assert result["test_acc"].shape == (4,)
    assert result["percentiles"].shape == (4, HIDDEN[-1], 3)
    # the snapshots differ (the statistics moved), the weights did not
    assert onp.ptp(result["percentiles"][:, :, 1], axis=0).max() > 0
    # population statistics over 20 epochs, wherever they start: the network's
    # own prediction-mode measures with them
    precise_running_stats(trained, iter(list(train) * 20), 180)
    assert result["population test_acc"] == evaluate_accuracy(trained, test)
    got = onp.percentile(sigmoid_input(trained, np.array(Xt)).asnumpy(),
                         (15, 50, 85), axis=0).T  # fmt: skip
    assert_allclose(result["population percentiles"], got, rtol=1e-5, atol=1e-6)


# --- plot_figure1 ------------------------------------------------------------


def test_figure1_zooms_on_the_plateau_and_labels_each_line_style_once():
    import matplotlib

    matplotlib.use("Agg")
    from bnlesson.lesson07.figure import plot_figure1

    steps = [10, 100, 1000, 10000]
    accuracy = {"a": [0.1, 0.5, 0.85, 0.86], "b": [0.6, 0.8, 0.87, 0.88]}
    p = onp.tile([-1.0, 0.0, 1.0], (4, 1))
    axes = plot_figure1(steps, accuracy, {"b": p, "c": p + 1}, zoom_from=1000)
    (inset,) = axes[0].child_axes
    low, high = inset.get_ylim()
    assert 0.8 < low < 0.85 and 0.88 < high < 0.9  # the late values, magnified
    assert [len(line.get_xdata()) for line in inset.lines] == [2, 2]
    labels = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert labels == ["50th (median)", "15th and 85th"]
    plain = plot_figure1(steps, accuracy, {"b": p, "c": p}, zoom_from=None)
    assert plain[0].child_axes == []
    with pytest.raises(ValueError, match="no recorded step"):
        plot_figure1(steps, accuracy, {"b": p, "c": p}, zoom_from=20000)


def test_percentile_legend_labels_a_grid_panel_once_per_line_style():
    # the solutions' grid of panels: plot_percentiles, then one legend fixed
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bnlesson.lesson07.figure import percentile_legend
    from bnlesson.plots import plot_percentiles

    _, axes = plt.subplots(2, 2)
    p = onp.tile([-1.0, 0.0, 1.0], (3, 1))
    plot_percentiles([1, 2, 3], {k: p for k in "abcd"}, axes)
    before = [t.get_text() for t in axes[0, 0].get_legend().get_texts()]
    assert before == ["15th", "50th (median)", "85th"]  # two dashed entries
    percentile_legend(axes[0, 0])
    legend = axes[0, 0].get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["50th (median)", "15th and 85th"]
    styles = [line.get_linestyle() for line in legend.get_lines()]
    assert styles == ["-", "--"]  # each label names the lines of its style
    plt.close("all")
