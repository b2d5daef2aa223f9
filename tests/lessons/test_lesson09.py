"""bnlesson.lesson09 and lesson09_runs: the noise layer, the landscape probe and
the per-layer statistics, against hand-computed values on tiny networks; and
lesson 09's notebook copies of NoiseLayer, probe_landscape and by_step_size
against the package's.
"""

import math
import re

import mxnet as mx
import numpy as onp
import pandas as pd
import pytest
from mxnet import autograd, init, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

import bnlesson.lesson09
from bnlesson import data
from bnlesson.core.config import set_seed
from bnlesson.lesson06 import sigmoid_saturation
from bnlesson.lesson07.network import mlp, sigmoid_input
from bnlesson.lesson09 import (
    NoiseLayer,
    PaperNoise,
    by_step_size,
    landscape_summary,
    loss_and_grad,
    noisy_mlp,
    preserved,
    probe_landscape,
)  # fmt: skip
from bnlesson.lesson09.inside import (
    SATURATION_MARGIN,
    gradient_shift,
    layer_stats,
    saturated_fraction,
    update_ratio,
)
from bnlesson.lesson09.recorders import Watch
from bnlesson.lesson09.runs import instability, train_early, train_watching
from bnlesson.training.divergence import TrainingDiverged

import tinymlp
from nbutil import shown

HIDDEN, CLASSES, FEATURES = tinymlp.HIDDEN, tinymlp.CLASSES, tinymlp.FEATURES


@pytest.fixture(scope="module")
def lesson():
    return shown("09")


@pytest.fixture(scope="module")
def tiny():
    return tinymlp.data()


def tiny_net(norm="none", seed=0):
    set_seed(seed)
    net = mlp(norm, hidden=HIDDEN, num_outputs=CLASSES)
    net.initialize(init.Xavier())
    net(np.zeros((2, FEATURES)))
    return net


def values(net):
    return {name: p.data().asnumpy() for name, p in net.collect_params().items()}


# --- the noise layer ---------------------------------------------------------


def draws(layer, units=200, calls=100):
    """Shift and scale of every call: rows 0 and 1 of the input are 0 and 1."""
    X = np.array(onp.stack([onp.zeros(units), onp.ones(units)]))
    shifts, scales = [], []
    with autograd.train_mode():
        for _ in range(calls):
            Y = layer(X).asnumpy()
            shifts.append(Y[0])
            scales.append(Y[1] - Y[0])
    return onp.array(shifts), onp.array(scales)


def test_noise_is_uniform_shift_and_scale_with_the_stated_moments():
    set_seed(0)
    shifts, scales = draws(NoiseLayer(max_shift=3.0, max_scale=3.0))
    assert shifts.min() >= -3 and shifts.max() <= 3
    assert scales.min() >= 1 - 1e-5 and scales.max() <= 3 + 1e-5
    # U(a, b): mean (a + b) / 2, variance (b - a)^2 / 12; 20,000 draws each
    assert shifts.mean() == pytest.approx(0, abs=0.05)
    assert shifts.var() == pytest.approx(36 / 12, rel=0.05)
    assert scales.mean() == pytest.approx(2, abs=0.02)
    assert scales.var() == pytest.approx(4 / 12, rel=0.05)


def test_noise_is_shared_by_the_batch_and_redrawn_every_call():
    set_seed(0)
    layer = NoiseLayer(1.0, 2.0)
    X = np.array(onp.tile([[0.0, 1.0, -2.0]], (5, 1)))
    with autograd.train_mode():
        first, second = layer(X).asnumpy(), layer(X).asnumpy()
    assert_allclose(first, onp.tile(first[:1], (5, 1)))  # every example alike
    assert onp.abs(first - second).min() > 0  # every unit redrawn


def test_noise_in_prediction_mode_is_the_average_scale():
    X = np.array(onp.arange(6, dtype=onp.float32).reshape(2, 3))
    assert_allclose(NoiseLayer(3.0, 3.0)(X).asnumpy(), 2 * X.asnumpy())
    assert_allclose(NoiseLayer(0.5, 1.0)(X).asnumpy(), X.asnumpy())


def test_noise_refuses_bad_arguments():
    with pytest.raises(ValueError, match="max_scale >= 1"):
        NoiseLayer(1.0, 0.5)
    with pytest.raises(ValueError, match="max_shift >= 0"):
        NoiseLayer(-1.0, 2.0)
    with pytest.raises(ValueError, match="batch, units"):
        NoiseLayer()(np.zeros((2, 3, 4, 4)))


@pytest.mark.parametrize(
    "args, message",
    [
        (("3",), "max_shift must be a number, not the string '3': write the "
                 "number without quotes, e.g. max_shift=3.0"),
        ((math.inf,), "max_shift must be a finite number, not inf"),
        ((1.0, math.inf), "max_scale must be a finite number, not inf"),
        ((1.0, None), "max_scale must be a number, not None"),
    ],
)  # fmt: skip
def test_noise_refuses_what_is_not_a_finite_number_when_built(args, message):
    # inf would pass a range check and give NaN only at training time
    with pytest.raises(ValueError, match=re.escape(message)):
        NoiseLayer(*args)


def test_notebook_noise_layer_is_the_package_one(lesson):
    X = np.array(onp.random.default_rng(1).normal(size=(7, 4)).astype("float32"))
    outputs = []
    for layer in (lesson["NoiseLayer"](2.0, 4.0), NoiseLayer(2.0, 4.0)):
        mx.random.seed(3)
        with autograd.train_mode():  # two steps: two draws
            steps = [layer(X).asnumpy(), layer(X).asnumpy()]
        outputs.append([*steps, layer(X).asnumpy()])  # and prediction
    for ours, theirs in zip(*outputs):
        assert_allclose(ours, theirs)
    assert not onp.allclose(outputs[0][0], outputs[0][1])


def test_noisy_mlp_puts_noise_between_batch_norm_and_sigmoid():
    names = [type(block).__name__ for block in noisy_mlp(1.0, 2.0)]
    stage = ["Dense", "BatchNorm", "NoiseLayer", "Activation"]
    assert names == stage * 3 + ["Dense"]
    names = [type(block).__name__ for block in noisy_mlp(kind="paper")]
    assert names == [n.replace("NoiseLayer", "PaperNoise") for n in stage] * 3 + [
        "Dense"]  # fmt: skip
    with pytest.raises(ValueError, match="kind"):
        noisy_mlp(kind="example")


# --- Santurkar et al.'s noise -------------------------------------------------


def paper_draws(layer, units=50, examples=400, calls=60):
    """Each call's noise on a zero input: (calls, examples, units)."""
    X = np.zeros((examples, units))
    with autograd.train_mode():
        return onp.stack([layer(X).asnumpy() for _ in range(calls)])


def test_paper_noise_is_per_example_around_a_mean_drawn_per_step():
    set_seed(0)
    noise = paper_draws(PaperNoise(max_mean=2.0, max_std=3.0))
    means, stds = noise.mean(axis=1), noise.std(axis=1)  # per call and unit
    # this step's distribution: mean ~ U(-2, 2), std ~ U(1, 3), over the units
    # and calls (3,000 draws); its sample estimates from 400 examples each
    assert means.min() > -2.5 and means.max() < 2.5
    assert means.var() == pytest.approx(16 / 12, rel=0.1)
    assert stds.min() > 0.8 and stds.max() < 3.4
    assert stds.mean() == pytest.approx(2, abs=0.05)
    # a shift the whole batch shares: far larger than the examples' spread
    # would give by chance (std / sqrt(400) = 0.1 at most)
    assert onp.abs(means).mean() > 0.5
    # the examples differ: per-example noise, unlike NoiseLayer's
    assert (stds > 0.8).all()
    # the noise is Gaussian around its mean: standardized, 4th moment 3
    z = (noise - means[:, None]) / stds[:, None]
    assert (z**4).mean() == pytest.approx(3, rel=0.05)


def test_paper_noise_in_prediction_mode_adds_its_average_zero():
    X = np.array(onp.arange(6, dtype=onp.float32).reshape(2, 3))
    assert_allclose(PaperNoise(3.0, 3.0)(X).asnumpy(), X.asnumpy())


def test_paper_noise_refuses_bad_arguments():
    with pytest.raises(ValueError, match="max_std >= 1"):
        PaperNoise(1.0, 0.5)
    with pytest.raises(ValueError, match="max_mean >= 0"):
        PaperNoise(-1.0, 2.0)
    with pytest.raises(ValueError, match="max_mean must be a finite number"):
        PaperNoise(math.inf)
    with pytest.raises(ValueError, match="batch, units"):
        PaperNoise()(np.zeros((2, 3, 4, 4)))


def test_notebook_paper_noise_is_the_package_one(lesson):
    X = np.array(onp.random.default_rng(1).normal(size=(7, 4)).astype("float32"))
    outputs = []
    for layer in (lesson["PaperNoise"](2.0, 4.0), PaperNoise(2.0, 4.0)):
        mx.random.seed(3)
        with autograd.train_mode():
            steps = [layer(X).asnumpy(), layer(X).asnumpy()]
        outputs.append([*steps, layer(X).asnumpy()])
    for ours, theirs in zip(*outputs):
        assert_allclose(ours, theirs)
    assert not onp.allclose(outputs[0][0], outputs[0][1])


# --- the landscape probe on a quadratic ---------------------------------------


class Linear(nn.Block):
    """z_i = x_i . w with a loss 0.5 z_i^2: mean loss 0.5 w^T (X^T X / n) w."""

    def __init__(self, w):
        super().__init__()
        self.w = self.params.get("w", shape=(len(w),))
        self.initialize()
        self.w.set_data(np.array(w))

    def forward(self, X):
        return np.dot(X, self.w.data())


def quadratic(w):
    """H = X^T X / 2 = diag(1, 4): loss 0.5 (w1^2 + 4 w2^2), gradient (w1, 4 w2)."""
    X = np.array([[math.sqrt(2), 0.0], [0.0, math.sqrt(8)]])
    return Linear(w), X, np.zeros(2)


def half_square(z, y):
    return 0.5 * z * z


@pytest.fixture
def half_square_loss(monkeypatch):
    """probe_landscape measures softmax cross-entropy (as the notebook's does);
    with half_square instead, its walk on a quadratic is known by hand."""
    monkeypatch.setattr(bnlesson.lesson09, "_LOSS", half_square)


@pytest.mark.usefixtures("half_square_loss")
def test_probe_on_a_quadratic_matches_the_hand_computation():
    net, X, y = quadratic([1.0, 1.0])
    frame = probe_landscape(net, X, y, [0.1, 0.2])
    # w - eta g = (1 - eta, 1 - 4 eta); loss 0.5 ((1 - eta)^2 + 4 (1 - 4 eta)^2)
    assert_allclose(frame["eta"], [0.0, 0.1, 0.2])
    assert_allclose(frame["loss"], [2.5, 1.125, 0.4], rtol=1e-6)
    # gradient change H (eta g) = eta (1, 16); distance eta |(1, 4)|
    assert_allclose(frame["grad_change"], [0, 0.1 * 257**0.5, 0.2 * 257**0.5],
                    rtol=1e-6)  # fmt: skip
    assert_allclose(frame["distance"], [0, 0.1 * 17**0.5, 0.2 * 17**0.5], rtol=1e-6)
    summary = landscape_summary(frame)
    assert summary["loss_variation"] == pytest.approx(2.1, rel=1e-6)
    assert summary["grad_change"] == pytest.approx(0.2 * 257**0.5, rel=1e-6)
    assert summary["beta"] == pytest.approx((257 / 17) ** 0.5, rel=1e-6)
    assert_allclose(net.w.data().asnumpy(), [1.0, 1.0])  # the weights are back


@pytest.mark.usefixtures("half_square_loss")
def test_effective_beta_is_the_largest_curvature_along_an_eigenvector():
    net, X, y = quadratic([0.0, 1.0])
    frame = probe_landscape(net, X, y, [0.01, 0.05, 0.2])
    assert landscape_summary(frame)["beta"] == pytest.approx(4.0, rel=1e-6)


def test_probe_refuses_bad_step_sizes_and_summaries_of_nothing():
    net, X, y = quadratic([1.0, 1.0])
    with pytest.raises(ValueError, match="positive"):
        probe_landscape(net, X, y, [0.1, 0.0])
    with pytest.raises(ValueError, match="lacks"):
        landscape_summary(pd.DataFrame({"eta": [0.0]}))
    still = pd.DataFrame({"eta": [0.0], "loss": [1.0], "grad_change": [0.0],
                          "distance": [0.0]})  # fmt: skip
    with pytest.raises(ValueError, match="never moved"):
        landscape_summary(still)


@pytest.mark.parametrize(
    "etas, message",
    [
        (0.5, "etas must be a list of step sizes, not 0.5: for one step size "
              "write etas=[0.5]"),
        ([math.nan], "etas must be positive finite step sizes, at least one, "
                     "not [nan]"),
        ([0.1, math.inf], "etas must be positive finite step sizes"),
        (["0.5"], "each of etas must be a number, not the string '0.5'"),
        ([True], "each of etas must be a number, not True (a bool"),
    ],
)  # fmt: skip
def test_probe_refuses_step_sizes_that_are_not_a_list_of_finite_numbers(etas, message):
    net, X, y = quadratic([1.0, 1.0])
    with pytest.raises(ValueError, match=re.escape(message)):
        probe_landscape(net, X, y, etas)


@pytest.mark.parametrize(
    "bad, message",
    [
        (3, "y's labels must be class numbers from 0 to 2 (there are 3 classes), "
            "but they include 3"),
        (-1, "y's labels must be class numbers from 0 to 2 (there are 3 "
             "classes), but they include -1"),
        (0.5, "y's labels must be class numbers, whole numbers from 0 to 2, but "
              "they include 0.5"),
    ],
)  # fmt: skip
def test_probe_refuses_labels_that_are_not_classes_of_the_net(tiny, bad, message):
    # The tiny net has 3 outputs; such labels give a finite loss, no error.
    X, y = tiny[0][:20], tiny[1][:20].astype(onp.float32)
    y[4] = bad
    with pytest.raises(ValueError, match=re.escape(message)):
        probe_landscape(tiny_net(), np.array(X), np.array(y), [0.5])
    with pytest.raises(ValueError, match=r"one label per example of X"):
        probe_landscape(tiny_net(), np.array(X), np.array(y[:19]), [0.5])


@pytest.mark.parametrize("where", ["notebook", "package"])
def test_by_step_size_takes_medians_of_the_change_from_each_start(lesson, where):
    fn = lesson["by_step_size"] if where == "notebook" else by_step_size
    frame = pd.DataFrame({
        "step": [1, 1, 1, 2, 2, 2, 3, 3, 3],
        "eta": [0.0, 0.5, 1.0] * 3,
        "loss": [2.0, 1.5, 1.0, 1.0, 0.8, 1.4, 3.0, 2.0, 2.5],
        "grad_change": [0.0, 0.1, 0.3, 0.0, 0.2, 0.5, 0.0, 0.4, 0.9],
    })  # fmt: skip
    # loss changes at eta 0.5: -0.5, -0.2, -1.0; at eta 1: -1.0, 0.4, -0.5
    expected = pd.DataFrame(
        {"loss_change": [-0.5, -0.5], "grad_change": [0.2, 0.5]},
        index=pd.Index([0.5, 1.0], name="eta"),
    )
    pd.testing.assert_frame_equal(fn(frame), expected)


def test_by_step_size_names_the_probes_it_needs():
    with pytest.raises(ValueError, match="pass the probes of train_watching"):
        by_step_size(pd.DataFrame({"eta": [0.0], "loss": [1.0]}))


def test_probe_leaves_a_batch_norm_network_as_it_was(tiny):
    X, y = np.array(tiny[0]), np.array(tiny[1])
    net = tiny_net("gluon")
    before = values(net)
    frame = probe_landscape(net, X, y, [0.5, 1.0])
    after = values(net)
    assert before.keys() == after.keys()
    for name in before:  # running_mean and running_var included
        assert_allclose(after[name], before[name], err_msg=name)
    with preserved(net):
        loss_w, _ = loss_and_grad(net, X, y)
    assert frame["loss"][0] == pytest.approx(loss_w, rel=1e-6)


@pytest.mark.parametrize("norm", ["none", "gluon"])
def test_notebook_probe_is_the_package_one(lesson, tiny, norm):
    X, y = np.array(tiny[0]), np.array(tiny[1])
    etas = [0.25, 1.0, 4.0]
    ours = lesson["probe_landscape"](tiny_net(norm), X, y, etas)
    theirs = probe_landscape(tiny_net(norm), X, y, etas)
    pd.testing.assert_frame_equal(ours, theirs, rtol=1e-6)


# --- per-layer statistics ----------------------------------------------------


def sigmoid(x):
    return 1 / (1 + onp.exp(-x))


def test_layer_stats_match_backpropagation_by_hand(tiny):
    X, y = tiny[0][:10], tiny[1][:10]
    net = tiny_net("none")
    acts, grads = layer_stats(net, np.array(X), np.array(y))
    W = [block.weight.data().asnumpy() for block in net[::2]]
    b = [block.bias.data().asnumpy() for block in net[::2]]
    h, pre = X, []
    for Wi, bi in zip(W[:-1], b[:-1]):
        pre.append(h @ Wi.T + bi)
        h = sigmoid(pre[-1])
    z = h @ W[-1].T + b[-1]
    p = onp.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = (p - onp.eye(CLASSES)[y]) / len(X)  # d mean loss / d logits
    expected = [None] * 3
    expected[2] = delta @ W[3]
    for i in (1, 0):  # back through the sigmoid and the Dense layer above
        s = sigmoid(pre[i + 1])
        expected[i] = (expected[i + 1] * s * (1 - s)) @ W[i + 1]
    for i in range(3):
        assert_allclose(acts[i], sigmoid(pre[i]), rtol=1e-5, atol=1e-6)
        assert_allclose(grads[i], expected[i], rtol=1e-4, atol=1e-7)


def test_sigmoid_input_in_training_mode_is_standardized_by_batch_norm(tiny):
    net = tiny_net("gluon")
    before = values(net)
    h = sigmoid_input(net, np.array(tiny[0]), layer=0, training=True).asnumpy()
    # fresh BN: gamma 1, beta 0, batch statistics (biased variance, eps 1e-5)
    assert_allclose(h.mean(axis=0), 0, atol=1e-5)
    assert_allclose(h.std(axis=0), 1, atol=1e-3)
    for name, value in values(net).items():
        assert_allclose(value, before[name], err_msg=name)


def test_saturated_fraction_on_hand_made_outputs():
    # |2h - 1|: 1, .982, .978, .97, 0, .978, .982, 1 -> four above 0.98
    h = [0.0, 0.009, 0.011, 0.015, 0.5, 0.989, 0.991, 1.0]
    assert saturated_fraction(h) == pytest.approx(4 / 8)
    assert saturated_fraction(np.array(h), threshold=0.5) == pytest.approx(7 / 8)
    with pytest.raises(ValueError, match="threshold"):
        saturated_fraction(h, threshold=1.0)


@pytest.mark.parametrize(
    "h, bad",
    [([math.nan] * 8, 8), ([0.0, 1.0, math.nan, 0.5], 1), ([1.0, math.inf], 1)],
)
def test_saturated_fraction_of_non_finite_outputs_is_nan_not_zero(h, bad):
    # a NaN output is neither saturated nor not: 0.0 read as "all healthy"
    with pytest.warns(RuntimeWarning, match=f"{bad} of {len(h)} outputs are NaN"):
        fraction = saturated_fraction(np.array(h))
    assert math.isnan(fraction)


def test_saturation_line_is_lesson_06s():
    # one line for "saturated" across the lessons: lesson 06 counts the
    # same outputs of the same sigmoid network
    set_seed(0)
    net = nn.Sequential()
    net.add(nn.Dense(50, activation=None), nn.Activation("sigmoid"))
    net.initialize(init.Normal(3.0))
    X = np.random.normal(size=(200, 8))
    h = net(X).asnumpy()
    fraction = saturated_fraction(h)
    assert 0.05 < fraction < 0.95  # both kinds of output occur
    assert fraction == pytest.approx(sigmoid_saturation(net, X))
    assert fraction == pytest.approx(
        sigmoid_saturation(net, X, margin=SATURATION_MARGIN)
    )


def test_update_ratio_by_hand():
    assert update_ratio([3.0, 4.0], [3.0, 5.0]) == pytest.approx(0.2)
    assert update_ratio(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])) == 1.0
    with pytest.raises(ValueError, match="shapes"):
        update_ratio([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="zeros"):
        update_ratio([0.0, 0.0], [1.0, 0.0])


# --- the runs ----------------------------------------------------------------


def watch(percentiles, before):
    steps = onp.arange(1, len(percentiles) + 1)
    return Watch("w", steps, onp.zeros(len(steps)), onp.array(percentiles),
                 onp.array(before), pd.DataFrame(), 0.0)  # fmt: skip


def test_instability_by_hand():
    # one unit; (p15, p50, p85) at three recordings and one step before each
    p = [[[-1, 0, 1]], [[0, 1, 2]], [[-1, 0, 3]]]
    b = [[[-1, 0, 1]], [[-1, 1, 1]], [[-1, 0, 1]]]
    shifts = instability(watch(p, b))
    # D = |median change| / first width + |width change| / first width
    one_step = [0.0, (0 + 0) / 2, (0 + 2) / 2]
    interval = [(1 + 0) / 2, (1 + 2) / 2]
    assert shifts["one step"][0] == pytest.approx(onp.mean(one_step))
    assert shifts["one interval"][0] == pytest.approx(onp.mean(interval))
    assert shifts["whole run"][0] == pytest.approx((0 + 2) / 2)
    with pytest.raises(ValueError, match="two recordings"):
        instability(watch(p[:1], b[:1]))


def batches(tiny, seed=0):
    return data.Batches(tiny[0], tiny[1], 10, shuffle=True, seed=seed)


def run(tiny, norm="none", landscape=True):
    X, y, Xt, yt = tiny
    probing = (np.array(X[:30]), np.array(y[:30])) if landscape else None
    net = tiny_net(norm)
    set_seed(0)
    return train_watching(
        net, batches(tiny), data.Batches(Xt, yt, 16), Xt, 7, 0.5, 3,
        landscape=probing, etas=[0.5, 1.0], name=norm, device=mx.cpu(),
    )  # fmt: skip


@pytest.mark.parametrize("norm", ["none", "gluon"])
def test_watching_records_on_schedule_and_probing_changes_nothing(tiny, norm):
    probed, plain = run(tiny, norm), run(tiny, norm, landscape=False)
    assert list(probed.steps) == [3, 6, 7]
    assert probed.percentiles.shape == probed.before.shape == (3, HIDDEN[-1], 3)
    assert list(probed.landscape["step"]) == [3] * 3 + [6] * 3 + [7] * 3
    assert plain.landscape.empty
    assert_allclose(probed.test_acc, plain.test_acc)
    assert_allclose(probed.percentiles, plain.percentiles)
    assert_allclose(probed.before, plain.before)


def test_watching_measures_the_gradient_shift_when_asked_and_changes_nothing(tiny):
    X, y, Xt, yt = tiny
    probing = (np.array(X[:30]), np.array(y[:30]))
    net = tiny_net("gluon")
    set_seed(0)
    watched = train_watching(
        net, batches(tiny), data.Batches(Xt, yt, 16), Xt, 7, 0.5, 3,
        landscape=probing, etas=[0.5], device=mx.cpu(), shift=True)  # fmt: skip
    plain = run(tiny, "gluon")
    assert_allclose(watched.test_acc, plain.test_acc)
    assert list(watched.shift["step"]) == [3] * 3 + [6] * 3 + [7] * 3
    last = watched.shift[watched.shift["step"] == 7].set_index("layer")
    expected = gradient_shift(net, *probing, 0.5)  # the trained net, at step 7
    assert_allclose(last[["l2", "cosine"]], expected[["l2", "cosine"]], rtol=1e-4)
    assert plain.shift.empty
    with pytest.raises(ValueError, match="landscape batch"):
        train_watching(tiny_net(), batches(tiny), data.Batches(Xt, yt, 16), Xt,
                       5, 0.5, 2, shift=True)  # fmt: skip


def test_early_run_records_every_layer(tiny):
    X, y = tiny[0][:30], tiny[1][:30]
    early = train_early(tiny_net("gluon"), batches(tiny), X, y, 5, 0.5, every=2,
                        device=mx.cpu())  # fmt: skip
    assert list(early.update_ratios.index) == [1, 2, 3, 4, 5]
    columns = ["layer 1", "layer 2", "layer 3", "layer 4 (output)"]
    assert list(early.update_ratios.columns) == columns
    assert (early.update_ratios.to_numpy() > 0).all()
    assert list(early.saturation.index) == [0, 2, 4, 5]
    assert [a.shape for a in early.activations] == [(30, n) for n in HIDDEN]
    assert [g.shape for g in early.gradients] == [(30, n) for n in HIDDEN]


def test_early_run_refuses_bad_counts(tiny):
    X, y = tiny[0][:30], tiny[1][:30]
    for num_steps, every in [(5, 0), (0, 1)]:
        with pytest.raises(ValueError, match="whole number of at least 1"):
            train_early(tiny_net(), batches(tiny), X, y, num_steps, 0.5, every)


def test_update_ratio_of_one_sgd_step_is_lr_times_gradient_over_weight(tiny):
    X, y = tiny[0][:10], tiny[1][:10]
    set_seed(0)
    early = train_early(mlp("none", HIDDEN, CLASSES), data.Batches(X, y, 10),
                        X, y, 1, 0.5, every=1, device=mx.cpu())  # fmt: skip
    # the same initial weights, and the gradient of that one batch by hand
    set_seed(0)
    net = mlp("none", HIDDEN, CLASSES)
    net.initialize(init.Xavier(), ctx=mx.cpu(), force_reinit=True)
    net(np.array(X[:2]))
    with preserved(net):
        _, grads = loss_and_grad(net, np.array(X), np.array(y))
    dense = [p.asnumpy() for p in grads[::2]]  # weight, bias, weight, ...
    weights = [block.weight.data().asnumpy() for block in net[::2]]
    expected = [0.5 * onp.linalg.norm(g) / onp.linalg.norm(w)
                for g, w in zip(dense, weights)]  # fmt: skip
    assert_allclose(early.update_ratios.loc[1].to_numpy(), expected, rtol=1e-4)


def test_losses_other_than_cross_entropy_reach_the_gradient():
    net, X, y = quadratic([1.0, 2.0])
    loss, (g,) = loss_and_grad(net, X, y, half_square)
    assert loss == pytest.approx(0.5 * (1 + 4 * 4))
    assert_allclose(g.asnumpy(), [1.0, 8.0], rtol=1e-6)


def test_watching_refuses_bad_settings_before_training(tiny):
    X, y, Xt, yt = tiny
    test = data.Batches(Xt, yt, 16)
    probing = (X[:30], y[:30])
    with pytest.raises(ValueError, match="positive step sizes"):
        train_watching(tiny_net(), batches(tiny), test, Xt, 5, 0.5, 2,
                       landscape=probing, etas=[])  # fmt: skip
    with pytest.raises(ValueError, match="every"):
        train_watching(tiny_net(), batches(tiny), test, Xt, 5, 0.5, 0)
    with pytest.raises(ValueError, match="lr"):
        train_watching(tiny_net(), batches(tiny), test, Xt, 5, -1.0, 2)


def test_watching_stops_when_the_loss_is_not_finite(tiny):
    X, y, Xt, yt = tiny
    broken = X.copy()
    broken[:, 0] = onp.nan  # every batch gives a NaN loss
    with pytest.raises(TrainingDiverged, match="became nan by step 2") as err:
        train_watching(tiny_net(), data.Batches(broken, y, 10),
                       data.Batches(Xt, yt, 16), Xt, 4, 0.5, 2,
                       device=mx.cpu())  # fmt: skip
    assert (err.value.step, err.value.epoch, err.value.lr) == (2, None, 0.5)
    assert err.value.history is None, "nothing was recorded before step 2"
    assert "Lower the learning rate (try 0.05)" in str(err.value)


# --- the gradient-based internal covariate shift (Santurkar et al., 2.2) -------


def test_gradient_shift_matches_a_hand_made_two_step_update(tiny):
    # the reference: move the layers below by hand, then read the gradient
    net = tiny_net("gluon")
    X, y = np.array(tiny[0][:30]), np.array(tiny[1][:30])
    before = values(net)
    shift = gradient_shift(net, X, y, lr=0.5)
    assert list(shift.index) == ["layer 2", "layer 3", "layer 4"]
    for name, value in values(net).items():  # left as it was
        assert_allclose(value, before[name], err_msg=name)
    _, g = loss_and_grad(net, X, y)
    params = [p for p in net.collect_params().values() if p.grad_req != "null"]
    blocks = list(net)
    second = [i for i, b in enumerate(blocks) if isinstance(b, nn.Dense)][1]
    below = {id(p) for b in blocks[:second] for p in b.collect_params().values()}
    with preserved(net):
        for p, g_p in zip(params, g):
            if id(p) in below:
                p.set_data(p.data() - 0.5 * g_p)
        _, moved = loss_and_grad(net, X, y)
    i = params.index(blocks[second].weight)
    a, b = g[i].asnumpy().ravel(), moved[i].asnumpy().ravel()
    assert shift.loc["layer 2", "l2"] == pytest.approx(onp.linalg.norm(a - b), rel=1e-4)
    cos = a @ b / (onp.linalg.norm(a) * onp.linalg.norm(b))
    assert shift.loc["layer 2", "cosine"] == pytest.approx(cos, rel=1e-4)
    assert shift.loc["layer 2", "relative"] == pytest.approx(
        onp.linalg.norm(a - b) / onp.linalg.norm(a), rel=1e-4
    )


def test_gradient_shift_vanishes_with_the_step(tiny):
    # G' -> G as lr -> 0, linearly: the shift at lr/10 is about a tenth
    net = tiny_net("none")
    X, y = np.array(tiny[0][:30]), np.array(tiny[1][:30])
    big, small = (gradient_shift(net, X, y, lr)["l2"] for lr in (1e-2, 1e-3))
    assert_allclose(small / big, 0.1, rtol=0.1)
    assert (gradient_shift(net, X, y, 1e-3)["cosine"] > 0.999).all()


def test_gradient_shift_refuses_a_bad_rate(tiny):
    net = tiny_net("none")
    X, y = np.array(tiny[0][:4]), np.array(tiny[1][:4])
    for lr in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="lr"):
            gradient_shift(net, X, y, lr)
