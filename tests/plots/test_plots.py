"""bnlesson.plots: the lessons' figures, drawn with the Agg backend."""

import matplotlib.pyplot as plt
import numpy as onp
import pytest
from mxnet import np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from bnlesson import plots
from bnlesson.lesson02 import BatchNorm
from bnlesson.training.history import History


@pytest.fixture(autouse=True)
def _agg_backend():
    plt.switch_backend("agg")  # no window, no notebook: the tests run anywhere
    yield
    plt.close("all")


def runs():
    return {
        "plain": History(loss=[2.0, 1.0], train_acc=[0.3, 0.6], test_acc=[0.4, 0.7]),
        "batch norm": History(
            loss=[1.5, 0.5], train_acc=[0.5, 0.8], test_acc=[0.6, 0.8]
        ),
    }


# --- plot_curves -----------------------------------------------------------


def test_curves_one_line_per_run():
    ax = plots.plot_curves(runs(), metric="train_acc")
    assert [line.get_label() for line in ax.get_lines()] == ["plain", "batch norm"]
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [
        [0.3, 0.6],
        [0.5, 0.8],
    ]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2]
    assert ax.get_ylabel() == "train accuracy" and ax.get_xlabel() == "epoch"


def test_curves_from_a_list_use_names_and_given_axes():
    _, ax = plt.subplots()
    named, unnamed = runs()["plain"], runs()["batch norm"]
    named.name = "lenet"
    assert plots.plot_curves([named, unnamed], ax=ax) is ax
    assert [line.get_label() for line in ax.get_lines()] == ["lenet", "run 2"]
    assert list(ax.get_lines()[1].get_ydata()) == [0.6, 0.8]  # test_acc by default


def test_curves_refuse_unknown_metric():
    with pytest.raises(ValueError, match="test_acc"):
        plots.plot_curves(runs(), metric="accuracy")


def test_library_figures_are_small():
    ax = plots.plot_curves(runs())
    assert tuple(ax.figure.get_size_inches()) == plots.FIGSIZE


# --- plot_gamma_beta -------------------------------------------------------


def trained_looking(layer, channels):
    layer.initialize()
    gamma = onp.linspace(0.5, 1.5, channels, dtype=onp.float32)
    beta = onp.linspace(-1, 1, channels, dtype=onp.float32)
    layer.gamma.set_data(np.array(gamma).reshape(layer.gamma.shape))
    layer.beta.set_data(np.array(beta).reshape(layer.beta.shape))
    return gamma, beta


@pytest.mark.parametrize(
    "layer, channels, xlabel",
    [(BatchNorm(6, 4), 6, "channel"), (BatchNorm(84, 2), 84, "unit"),
     (nn.BatchNorm(in_channels=16), 16, "channel or unit")],
)  # fmt: skip
def test_gamma_beta_bars(layer, channels, xlabel):
    gamma, beta = trained_looking(layer, channels)
    ax = plots.plot_gamma_beta(layer, title="BN 1")
    assert len(ax.containers) == 2 and len(ax.patches) == 2 * channels
    heights = [[bar.get_height() for bar in bars] for bars in ax.containers]
    assert_allclose(heights[0], gamma, rtol=1e-6)
    assert_allclose(heights[1], beta, rtol=1e-6)
    assert ax.get_xlabel() == xlabel and ax.get_title() == "BN 1"


def test_show_images_titles_each_image_with_its_class():
    from bnlesson.data import CLASS_NAMES
    from bnlesson.plots import show_images

    images = onp.zeros((5, 1, 28, 28), dtype=onp.float32)
    axes = show_images(images, [0, 1, 2, 3, 9], num_cols=3)
    assert axes.shape == (2, 3)
    titles = [ax.get_title() for ax in axes.ravel()]
    assert titles == ["t-shirt", "trouser", "pullover", "dress", "ankle boot", ""]
    assert plots.curves.CLASS_NAMES == CLASS_NAMES, "the data's names, in order"
    assert [len(ax.images) for ax in axes.ravel()] == [1, 1, 1, 1, 1, 0]


# --- lesson 05: plot_sweep and plot_bars --------------------------------------


def grid_table():
    import pandas as pd

    return pd.DataFrame({
        "norm": ["none", "none", "none", "gluon", "gluon", "gluon"],
        "lr": [1.0, 0.1, 10.0, 0.1, 1.0, 10.0],
        "final_test_acc": [0.5, 0.2, float("nan"), 0.7, 0.8, 0.75],
        "diverged": [False, False, True, False, False, False],
    })  # fmt: skip


def test_sweep_one_line_per_hue_sorted_with_crosses_for_diverged_runs():
    ax = plots.plot_sweep(grid_table(), x="lr", hue="norm", chance=0.1)
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("none", "gluon")]
    assert [ln.get_label() for ln in lines] == ["none", "gluon"]
    assert ax.get_legend().get_title().get_text() == "norm"
    assert list(lines[0].get_xdata()) == [0.1, 1.0], "sorted by lr, diverged left out"
    assert list(lines[0].get_ydata()) == [0.2, 0.5]
    assert list(lines[1].get_ydata()) == [0.7, 0.8, 0.75]
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1
    assert list(crosses[0].get_xdata()) == [10.0]
    assert list(crosses[0].get_ydata()) == [0.1]
    assert crosses[0].get_color() == lines[0].get_color()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert "chance" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_sweep_without_hue_or_diverged_column():
    table = grid_table().drop(columns="diverged").dropna()
    ax = plots.plot_sweep(table, x="lr", logx=False, logy=True)
    assert (
        len(ax.get_lines()) == 1 and ax.get_lines()[0].get_label() == "final_test_acc"
    )
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="no column 'batch_size'"):
        plots.plot_sweep(table, x="batch_size")


def test_bars_group_by_x_one_container_per_hue():
    ax = plots.plot_bars(grid_table(), x="lr", hue="norm", ylim=(0, 1))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1.0", "0.1", "10.0"]
    assert len(ax.containers) == 2
    heights = [[bar.get_height() for bar in c] for c in ax.containers]
    assert heights[0][:2] == [0.5, 0.2] and onp.isnan(heights[0][2])
    assert heights[1] == [0.8, 0.7, 0.75], "in the x order of the table"
    assert ax.get_ylim() == (0, 1)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["none", "gluon"]
    assert ax.get_legend().get_title().get_text() == "norm"


# --- plot_paper_figure1 ----------------------------------------------------


def figure1_data():
    steps = [100, 1000, 10000]
    accuracy = {"without BN": [0.5, 0.6, 0.7], "with BN": [0.7, 0.8, 0.9]}
    mid = onp.array([0.0, 0.5, 1.0])
    panels = {
        "without BN, unit 3": onp.stack([mid - 2, mid, mid + 2], axis=-1),
        "with BN, unit 8": onp.stack([mid - 0.5, mid, mid + 0.5], axis=-1) + 10,
    }
    return steps, accuracy, panels


def test_paper_figure1_three_panels():
    steps, accuracy, panels = figure1_data()
    a, b, c = plots.plot_paper_figure1(steps, accuracy, panels)
    labels = [line.get_label() for line in a.get_lines()]
    assert labels == ["without BN", "with BN", "chance"]
    assert list(a.get_lines()[1].get_ydata()) == [0.7, 0.8, 0.9]
    assert list(a.get_lines()[2].get_ydata()) == [0.1, 0.1]
    assert a.get_ylim() == (0, 1)
    for ax, spread, shift in ((b, 2.0, 0), (c, 0.5, 10)):
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == ["15th", "50th (median)", "85th"]
        assert_allclose(lines[1].get_ydata(), shift + onp.array([0.0, 0.5, 1.0]))
        assert_allclose(lines[2].get_ydata() - lines[0].get_ydata(), 2 * spread)
    assert b.get_ylim() == c.get_ylim(), "(b) and (c) share their scale"
    low, high = b.get_ylim()
    assert low < -2 and high > 11.5, "no line is cut off"
    assert b.get_title() == "(b) without BN, unit 3"
    assert c.get_title() == "(c) with BN, unit 8"
    assert all(ax.get_xscale() == "log" for ax in (a, b, c))
    assert all("training steps" in ax.get_xlabel() for ax in (a, b, c))
    assert b.get_ylabel() == c.get_ylabel() == "sigmoid input (pre-activation)"


def test_paper_figure1_refuses_mismatched_data():
    steps, accuracy, panels = figure1_data()
    _, axes = plt.subplots(3, 1)
    got = plots.plot_paper_figure1(steps, accuracy, panels, axes=axes)
    assert list(got) == list(axes)
    with pytest.raises(ValueError, match="three axes"):
        plots.plot_paper_figure1(steps, accuracy, panels, axes=axes[:2])
    with pytest.raises(ValueError, match="2 accuracies for 3 steps"):
        plots.plot_paper_figure1(steps, {"x": [0.1, 0.2]}, panels)
    with pytest.raises(ValueError, match="two panels"):
        plots.plot_paper_figure1(steps, accuracy, {"x": panels["with BN, unit 8"]})
    with pytest.raises(ValueError, match="expected shape"):
        plots.plot_paper_figure1(steps[:2], {}, panels)


def test_the_plots_import_nothing_else_from_the_package():
    # They take plain data, so a change to a training loop or a data class
    # cannot break a figure (the package's own modules may import each other).
    import ast
    from pathlib import Path

    for path in Path(plots.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                sibling = node.level == 1 and (path.parent / f"{module}.py").exists()
                outside = node.level > 0 or module.startswith("bnlesson")
                assert sibling or not outside, f"{path.name} imports {module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("bnlesson") for a in node.names)


# --- plot_percentiles (lessons 07 and 09) ----------------------------------


def test_percentile_panels_share_their_y_axis():
    p = onp.array([[-1.0, 0.0, 1.0], [-2.0, 0.5, 3.0]])
    axes = plots.plot_percentiles([1, 2], {"a": p, "b": p / 2})
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    assert [list(line.get_ydata()) for line in axes[1].get_lines()] == [
        [-0.5, -1.0], [0.0, 0.25], [0.5, 1.5],
    ]  # fmt: skip
    assert axes[0].get_ylim() == axes[1].get_ylim()
    with pytest.raises(ValueError, match="expected shape"):
        plots.plot_percentiles([1, 2, 3], {"a": p})


def test_percentiles_share_one_range_on_axes_given_by_the_caller():
    # the shared function of lessons 07 and 09: no sharey from subplots here
    _, axes = plt.subplots(1, 2)
    p = onp.array([[-1.0, 0.0, 1.0], [-2.0, 0.5, 3.0]])
    plots.plot_percentiles([1, 2], {"a": p, "b": p * 4}, axes=axes)
    assert axes[0].get_ylim() == axes[1].get_ylim()
    assert axes[0].get_ylim()[1] > 12 and axes[0].get_xscale() == "linear"


# --- plot_cost (lesson 04) --------------------------------------------------


def test_cost_bars_carry_ratios_and_coinciding_curves_stay_visible():
    seconds = {"plain": 2.0, "plain, hybridized": 2.0, "batch norm": 3.0}
    acc = {"plain": [0.1, 0.2], "plain, hybridized": [0.1, 0.2],
           "batch norm": [0.5, 0.8]}  # fmt: skip
    _, axes = plt.subplots(1, 2)
    bars_ax, curves_ax = plots.plot_cost(seconds, acc, axes)
    labels = [t.get_text() for t in bars_ax.texts]
    assert labels == ["1.50x", "1.00x", "1.00x"]  # the first network on top
    lines = curves_ax.get_lines()
    assert [line.get_label() for line in lines] == [*acc, "chance"]
    assert list(lines[-1].get_ydata()) == [0.1, 0.1]
    looks = [(line.get_linestyle(), line.get_marker(), line.get_markersize())
             for line in lines[:2]]  # fmt: skip
    assert looks[0] != looks[1]  # same data, told apart
    assert curves_ax.get_legend().get_texts()[0].get_fontsize() >= 9


def test_cost_figure_speaks_plainly_and_its_legend_hides_no_line():
    seconds = {"plain": 2.0, "batch norm": 3.0}
    # Curves low on the right, where a legend inside the axes would sit.
    acc = {"plain": [0.1, 0.12, 0.15], "batch norm": [0.12, 0.14, 0.2]}
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 3.4))
    bars_ax, curves_ax = plots.plot_cost(seconds, acc, axes)
    fig.tight_layout()
    fig.canvas.draw()
    assert bars_ax.get_title() == "Time per training epoch"
    assert bars_ax.get_xlabel().lower().count("second") == 1, bars_ax.get_xlabel()
    legend = curves_ax.get_legend().get_window_extent()
    plotted = curves_ax.get_window_extent()
    # Nothing drawn in the axes can be under a legend that is beside them.
    assert legend.x0 >= plotted.x1 or legend.y1 <= plotted.y0, (legend, plotted)
    assert legend.x1 <= fig.bbox.x1, "the legend is cut off"


def test_cost_refuses_mismatched_networks():
    _, axes = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="same networks"):
        plots.plot_cost({"a": 1.0, "b": 2.0}, {"b": [0.5], "a": [0.5]}, axes)


# --- plot_first_steps (lesson 03) ------------------------------------------


def test_first_steps_gradient_panels_share_a_log_axis_and_saturation_is_in_percent():
    import pandas as pd

    index = pd.RangeIndex(1, 4, name="step")
    grads = {
        "without batch norm": pd.DataFrame(
            {"conv 1": [1e-3, 2e-3, 3e-3], "dense 1": [0.5, 0.4, 0.3]}, index=index
        ),
        "with batch norm": pd.DataFrame(
            {"conv 1": [0.4, 0.3, 0.2], "dense 1": [0.6, 0.5, 0.4]}, index=index
        ),
    }
    saturated = {
        name: pd.DataFrame({"sigmoid 1": [0.0, 0.1, 0.2], "sigmoid 2": [0.0, 0.3, 0.4]},
                           index=index)
        for name in grads
    }  # fmt: skip
    axes = plots.plot_first_steps(grads, saturated)
    assert len(axes) == 3
    assert axes[0].get_yscale() == axes[1].get_yscale() == "log"
    assert axes[0].get_ylim() == axes[1].get_ylim(), "compared panels share y"
    assert axes[0].get_ylim()[0] <= 1e-3 and axes[1].get_ylim()[1] >= 0.6
    assert [line.get_label() for line in axes[0].get_lines()] == ["conv 1", "dense 1"]
    assert [ax.get_title() for ax in axes[:2]] == list(grads)
    assert all(ax.get_xlabel() == "SGD step" for ax in axes)
    assert axes[0].get_ylabel() and axes[2].get_ylabel()
    # The saturated share: the mean over the sigmoid layers, in percent.
    line = axes[2].get_lines()[0]
    assert line.get_label() == "without batch norm"
    assert_allclose(line.get_ydata(), [0.0, 20.0, 30.0])


# --- plot_bench --------------------------------------------------------------


def test_bench_bars_read_top_down_in_the_reports_order_with_their_ratios():
    from bnlesson.experiments import bench

    # 256 images timed: 0.5 s plain, 1.5 s scratch, 0.75 s gluon.
    report = {
        "rows": bench.report_rows({"plain": 0.5, "scratch": 1.5, "gluon": 0.75}, 256)
    }
    ax = plots.plot_bench(report)
    bars = sorted(ax.patches, key=lambda bar: -bar.get_y())  # top bar first
    assert [tick.get_text() for tick in ax.get_yticklabels()][::-1] == [
        "plain", "scratch", "gluon",
    ]  # fmt: skip
    # Seconds per 60,000-image epoch: t * 60000 / 256.
    assert_allclose([bar.get_width() for bar in bars], [117.1875, 351.5625, 175.78125])
    labels = [text.get_text() for text in ax.texts]
    assert labels == ["1.50x", "3.00x", "1.00x"]  # bottom up: gluon, scratch, plain
    assert ax.get_xlim() == (0, pytest.approx(351.5625 * 1.2))
    assert tuple(ax.figure.get_size_inches()) == pytest.approx((6, 0.4 * 3 + 0.8))
