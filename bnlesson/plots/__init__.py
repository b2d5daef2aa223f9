"""Figures for the lessons, drawn from plain data; nothing else of bnlesson is imported.

Library code here returns axes and never calls ``plt.show()``: the notebook
decides when a figure is shown. The functions take lists, arrays, DataFrames,
dicts, or objects with list attributes (a training run's ``loss``,
``train_acc``, ``test_acc``; a recording's ``steps``, ``test_acc``,
``percentiles``), never a network or a loader.

=========================  ==================================================
:mod:`.curves`             learning curves, gamma and beta, sample images
:mod:`.tables`             a table of runs: a sweep's curves, grouped bars
:mod:`.figure1`            the paper's Figure 1 from two recordings
:mod:`.percentiles`        a unit's input percentiles over training
:mod:`.bench`              the benchmark's report as bars
:mod:`.cost`               lesson 04: cost per epoch beside test accuracy
:mod:`.steps`              lesson 03's gradient norms and saturated sigmoids
:mod:`.batchsliders`       lesson 01's sliders: one example moved, the batch
                           size against the noise, the momentum against the lag
:mod:`.batchstats`         the numbers those sliders show, in NumPy
:mod:`.sliders`            a figure under a slider (static when saved, live
                           in a kernel)
=========================  ==================================================

The live plot that training draws is :mod:`bnlesson.training.live`; lesson
09's figures are :mod:`bnlesson.lesson09.plots`. Import the figures from
here (``from bnlesson.plots import plot_curves``), not from their modules.
"""

from .batchsliders import batch_noise_slider, coupling_slider, momentum_slider
from .bench import plot_bench
from .cost import plot_cost
from .curves import FIGSIZE, FMTS, METRICS, plot_curves, plot_gamma_beta, show_images
from .figure1 import STYLES, plot_paper_figure1
from .percentiles import plot_percentiles
from .sliders import SliderFigure
from .steps import plot_first_steps
from .tables import plot_bars, plot_sweep

__all__ = [
    "FIGSIZE", "FMTS", "METRICS", "STYLES", "SliderFigure", "batch_noise_slider",
    "coupling_slider", "momentum_slider", "plot_bars", "plot_bench", "plot_cost",
    "plot_curves", "plot_first_steps", "plot_gamma_beta", "plot_paper_figure1",
    "plot_percentiles", "plot_sweep", "show_images",
]  # fmt: skip
