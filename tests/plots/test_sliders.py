"""Lesson 01's sliders: their numbers against references, their redraw wiring.

The references: lesson 01's ``batch_norm`` (the normalized outputs and the
moving mean), the sampling theory of a mean (the noise of a batch mean
falls like 1/sqrt(B)), the bias of the biased variance, and the weights of
an exponential average summed one by one.
"""

import base64
import math
import re

import ipywidgets
import numpy as onp
import pytest
from matplotlib.figure import Figure
from mxnet import autograd, np

from bnlesson.lesson01 import batch_norm
from bnlesson.plots import SliderFigure
from bnlesson.plots.batchsliders import (
    batch_noise_slider,
    coupling_slider,
    draw_coupling,
    momentum_slider,
)
from bnlesson.plots.batchstats import (
    batch_statistics,
    batches_for_share,
    mean_noise,
    moving_average,
    normalize,
    settled_noise,
)
from bnlesson.plots.sliders import WIDGET_VIEW, png


def lesson01_outputs(x):
    """Lesson 01's batch_norm, training mode, gamma 1 and beta 0, one feature."""
    X = np.array(onp.asarray(x, dtype=onp.float32).reshape(-1, 1))
    one, zero = np.ones((1, 1)), np.zeros((1, 1))
    with autograd.record():
        Y, _, _ = batch_norm(X, one, zero, zero, one, 1e-5, 0.9)
    return Y.asnumpy().ravel()


BATCH = onp.array([11.45, 6.76, 8.13, 2.40, 10.14, 12.87, 16.39, 17.67])


# --- one example moved --------------------------------------------------------


@pytest.mark.parametrize("shift", [-30.0, 0.0, 15.0])
def test_the_outputs_drawn_are_lesson01s_batch_norm(shift):
    moved = BATCH.copy()
    moved[0] += shift
    fig = draw_coupling(BATCH, shift)
    drawn = fig.axes[1].collections[1].get_offsets()[:, 0]  # filled: after
    onp.testing.assert_allclose(drawn, lesson01_outputs(moved), atol=1e-5)
    onp.testing.assert_allclose(normalize(moved), lesson01_outputs(moved), atol=1e-5)


def test_moving_one_example_moves_every_output_and_the_title_says_how_far():
    fig = draw_coupling(BATCH, 15.0)
    moved = BATCH + [15, 0, 0, 0, 0, 0, 0, 0]
    change = (lesson01_outputs(moved) - lesson01_outputs(BATCH))[1:]
    assert onp.all(onp.abs(change) > 0.01)  # the seven others moved
    title = fig._suptitle.get_text()  # Figure.get_suptitle is matplotlib 3.8+
    low, high = re.search(r"moved by ([-+.\d]+) to ([-+.\d]+)", title).groups()
    assert float(low) == pytest.approx(change.min(), abs=0.006)
    assert float(high) == pytest.approx(change.max(), abs=0.006)
    assert "the other 7 outputs" in title


# --- the batch size against the noise ----------------------------------------


@pytest.fixture(scope="module")
def population():
    return onp.random.default_rng(1).gamma(2.0, 1.0, size=10_000)  # skewed


@pytest.mark.parametrize("batch_size", [4, 16, 64, 256])
def test_the_batch_mean_strays_by_sigma_over_sqrt_b(population, batch_size):
    means, variances = batch_statistics(population, batch_size, batches=2000)
    n, sigma2 = len(population), population.var()
    expected = math.sqrt(sigma2 / batch_size * (n - batch_size) / (n - 1))
    assert mean_noise(population, batch_size) == pytest.approx(expected)
    assert means.std() == pytest.approx(expected, rel=0.08)
    # The biased batch variance: (B-1)/B of the population's (times N/(N-1),
    # drawn without replacement), the bias lesson 01 measures.
    bias = (batch_size - 1) / batch_size * n / (n - 1)
    assert variances.mean() == pytest.approx(bias * sigma2, rel=0.05)


def test_four_times_the_batch_halves_the_noise(population):
    small = batch_statistics(population, 16, batches=2000)[0].std()
    large = batch_statistics(population, 64, batches=2000)[0].std()
    assert small / large == pytest.approx(2.0, rel=0.1)


def test_a_batch_never_holds_one_value_twice():
    population = onp.arange(100.0) ** 3  # distinct values, far apart
    means, _ = batch_statistics(population, 100, batches=3)
    onp.testing.assert_allclose(means, population.mean())  # each is a permutation


def test_batch_statistics_refuse_a_batch_larger_than_the_population():
    with pytest.raises(ValueError, match="batch_size"):
        batch_statistics(onp.ones(10), 11)


# --- the momentum against the lag ---------------------------------------------


@pytest.mark.parametrize("momentum", [0.5, 0.9, 0.99])
def test_the_moving_average_is_lesson01s_moving_mean(momentum):
    rng = onp.random.default_rng(0)
    batches = rng.normal(5, 2, size=(30, 16)).astype(onp.float32)
    mean, var = np.zeros((1, 1)), np.ones((1, 1))
    one, zero = np.ones((1, 1)), np.zeros((1, 1))
    theirs = []
    for b in batches:
        with autograd.record():
            _, mean, var = batch_norm(
                np.array(b.reshape(-1, 1)), one, zero, mean, var, 1e-5, momentum
            )
        theirs.append(float(mean))
    ours = moving_average(batches.mean(axis=1), momentum)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("momentum", [0.5, 0.8, 0.9, 0.95, 0.99])
def test_the_latest_k_batches_carry_90_percent(momentum):
    weights = (1 - momentum) * momentum ** onp.arange(2000)
    k = int(onp.argmax(onp.cumsum(weights) >= 0.9 - 1e-12)) + 1
    assert batches_for_share(momentum) == k


def test_the_lessons_numbers_at_momentum_09():
    assert batches_for_share(0.9) == 22
    assert batches_for_share(0.9, share=0.65) == 10  # 1 - 0.9**10 = 0.651


@pytest.mark.parametrize("momentum", [0.5, 0.9])
def test_the_settled_noise_is_that_of_many_runs(momentum):
    rng = onp.random.default_rng(2)
    values = rng.normal(0, 1.5, size=(200, 4000))  # 200 steps, 4000 runs
    settled = [moving_average(values[:, r], momentum)[-1] for r in range(4000)]
    assert onp.std(settled) == pytest.approx(settled_noise(1.5, momentum), rel=0.05)


# --- the sliders redraw one output --------------------------------------------


@pytest.fixture
def shown(monkeypatch):
    """What the SliderFigure displays, in order."""
    out = []
    monkeypatch.setattr(
        "bnlesson.plots.sliders.display", lambda obj, raw=False: out.append(obj)
    )
    return out


def tiny(value) -> Figure:
    fig = Figure(figsize=(1, 1))
    fig.suptitle(f"value {value}")
    return fig


def test_the_figure_is_a_widget_and_a_static_png(shown):
    figure = SliderFigure(ipywidgets.FloatSlider(value=1.0), tiny)
    figure._ipython_display_()
    slider, data = shown
    assert slider is figure.slider
    # the saved notebook's form: the figure at the first value
    assert base64.b64decode(data["image/png"]) == png(tiny(1.0))
    # a running kernel's form: the image widget, showing the same figure
    assert data[WIDGET_VIEW]["model_id"] == figure.figure.model_id
    assert figure.figure.value == png(tiny(1.0))


def test_moving_the_slider_redraws_the_image_widget(shown):
    figure = SliderFigure(ipywidgets.FloatSlider(value=1.0), tiny)
    figure._ipython_display_()
    figure.slider.value = 2.0
    assert len(shown) == 2  # no new output: the widget's image changed
    saved = base64.b64decode(shown[1]["image/png"])
    assert figure.figure.value == png(tiny(2.0)) != saved


def test_shown_twice_it_redraws_once_per_move(shown):
    drawn = []
    figure = SliderFigure(
        ipywidgets.FloatSlider(value=1.0), lambda v: drawn.append(v) or tiny(v)
    )
    figure._ipython_display_()
    figure._ipython_display_()
    assert shown[1][WIDGET_VIEW] == shown[3][WIDGET_VIEW]  # one image widget
    figure.slider.value = 3.0
    assert drawn == [1.0, 1.0, 3.0]


@pytest.mark.parametrize(
    "make, first, words",
    [
        (lambda: coupling_slider(BATCH), 15.0, "moved by {:+g}"),
        (
            lambda: batch_noise_slider(onp.random.default_rng(0).normal(size=500)),
            16,
            "Batches of {}:",
        ),
        (lambda: momentum_slider(), 0.9, "Momentum {:g}:"),
    ],
    ids=["coupling", "batch size", "momentum"],
)
def test_each_slider_starts_at_its_value_and_draws_the_value_it_holds(
    make, first, words
):
    figure = make()
    assert figure.slider.value == first
    options = getattr(figure.slider, "options", None) or (-5.0,)
    for value in (first, options[0]):
        assert words.format(value) in figure.draw(value)._suptitle.get_text()
