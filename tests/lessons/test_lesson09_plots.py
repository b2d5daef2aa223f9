"""bnlesson.lesson09.plots: each figure draws exactly the plain data it is given."""

import matplotlib.pyplot as plt
import numpy as onp
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from bnlesson.lesson09 import plots


@pytest.fixture(autouse=True)
def _agg_backend():
    plt.switch_backend("agg")
    yield
    plt.close("all")


def test_accuracy_curves_with_a_chance_line():
    ax = plots.plot_accuracy([10, 20], {"plain": [0.3, 0.5], "BN": [0.6, 0.8]})
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["plain", "BN", "chance"]
    assert list(lines["BN"].get_ydata()) == [0.6, 0.8]
    assert list(lines["chance"].get_ydata()) == [0.1, 0.1]
    assert ax.get_xlabel() == "training steps" and ax.get_ylabel() == "test accuracy"
    styles = {(line.get_color(), line.get_linestyle()) for line in ax.get_lines()[:2]}
    assert len(styles) == 2, "two curves must not look alike"
    zoomed = plots.plot_accuracy([10, 20], {"BN": [0.6, 0.8]}, ylim=(0.5, 0.9))
    assert zoomed.get_ylim() == (0.5, 0.9)
    assert [line.get_label() for line in zoomed.get_lines()] == ["BN"]  # no chance
    with pytest.raises(ValueError, match="3 values for 2 steps"):
        plots.plot_accuracy([10, 20], {"plain": [0.1, 0.2, 0.3]})


def probes():
    """Two probes (steps 5 and 10) of two step sizes each, plus their starts."""
    return pd.DataFrame({
        "step": [5, 5, 5, 10, 10, 10],
        "eta": [0.0, 0.5, 1.0, 0.0, 0.5, 1.0],
        "loss": [2.0, 1.5, 1.8, 1.0, 0.9, 0.95],
        "grad_change": [0.0, 1.0, 3.0, 0.0, 0.2, 0.3],
        "distance": [0.0, 1.0, 2.0, 0.0, 0.5, 1.0],
    })  # fmt: skip


def test_landscape_bands_and_beta():
    axes = plots.plot_landscape({"plain": probes()})
    loss_top, loss_bottom = axes[0].get_lines()  # the band's two edges
    assert list(loss_top.get_ydata()) == [2.0, 1.0]  # the largest loss per step
    assert list(loss_bottom.get_ydata()) == [1.5, 0.9]  # the smallest
    change_top, change_bottom = axes[1].get_lines()
    assert list(change_top.get_ydata()) == [3.0, 0.3]
    assert list(change_bottom.get_ydata()) == [1.0, 0.2]  # eta = 0 left out
    assert [ax.get_legend_handles_labels()[1] for ax in axes] == [["plain"]] * 3
    (beta,) = axes[2].get_lines()
    # largest grad_change / distance: max(1, 1.5) and max(0.4, 0.3)
    assert_allclose(beta.get_ydata(), [1.5, 0.4])
    assert list(beta.get_xdata()) == [5, 10]
    assert len(axes[0].collections) == 1, "one band per network"
    for ax in axes:  # axes named in words, not only by a formula
        assert any(c.isalpha() and c not in "lgw" for c in ax.get_ylabel()
                   .replace("$", "")), ax.get_ylabel()  # fmt: skip
    two = plots.plot_landscape({"plain": probes(), "BN": probes()})
    hatches = [band.get_hatch() for band in two[0].collections]
    assert len(set(hatches)) == 2 and None not in hatches, "bands tell apart"
    with pytest.raises(ValueError, match="lacks the columns"):
        plots.plot_landscape({"plain": probes().drop(columns="distance")})


def test_layer_histograms_are_densities():
    rng = onp.random.default_rng(0)
    layers = [rng.normal(size=(50, 4)), rng.normal(2, 1, size=(50, 4))]
    ax = plots.plot_layer_histograms(layers, bins=20, value_range=(-4, 6))
    assert [line.get_label() for line in ax.get_lines()] == ["layer 1", "layer 2"]
    for line in ax.get_lines():
        assert_allclose(line.get_ydata().sum() * 0.5, 1.0)  # bins of width 0.5


def test_per_layer_lines_on_a_log_axis():
    frame = pd.DataFrame({"layer 1": [0.1, 0.01], "layer 2": [1.0, 0.5]},
                         index=[1, 2])  # fmt: skip
    ax = plots.plot_per_layer(frame, ylabel="ratio", logy=True)
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "ratio"
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [
        [0.1, 0.01], [1.0, 0.5],
    ]  # fmt: skip
