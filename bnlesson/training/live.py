"""A live training plot: curves redrawn in place in a notebook as epochs finish.

Infrastructure for the training loop (:func:`bnlesson.lesson03.train`), apart
from the lessons' figures (:mod:`bnlesson.plots`) so that training does not
depend on them. The figure is always sent as PNG, never SVG: nbval compares
SVG text (which embeds random ids) but not PNG images. The PNG is "retina",
as the lessons' other figures (:func:`bnlesson.core.notebook.use_png`):
drawn at twice the figure's dpi and shown at its usual size, so that it stays
sharp when a deck or a projector enlarges it.
"""

from __future__ import annotations

from typing import Callable, Sequence

from d2l import mxnet as d2l
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: d2l's small figure size, in inches (as in :mod:`bnlesson.plots`).
FIGSIZE = (3.5, 2.5)
#: Markers as well as lines, so that a one-epoch (fast-mode) run still shows.
FMTS = (".-", "m.--", "g.-.", "r.:")


def in_ipython_kernel() -> bool:
    """Return True inside a Jupyter (IPython kernel) session, False elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _ipython_display(obj, **kwargs):
    from IPython.display import display

    return display(obj, **kwargs)


def _png_bundle(fig: Figure) -> tuple[dict, dict]:
    """Return `fig` as a retina PNG: the display data and its metadata.

    IPython's ``retina_figure``, which the inline backend's "retina" format
    uses: the PNG drawn at twice the figure's dpi, and metadata that asks for
    half its pixel size.
    """
    from IPython.core.pylabtools import retina_figure

    png, metadata = retina_figure(fig, base64=True)
    data = {"image/png": png, "text/plain": repr(fig)}  # "<Figure size 350x250 ...>"
    return data, {"image/png": metadata}


class LivePlot:
    """A figure of several curves, redrawn in place in a notebook as points arrive.

    It plays the part of d2l's ``Animator`` without its two side effects in a
    notebook: ``Animator`` switches matplotlib to SVG and calls
    ``clear_output``, which also wipes any text the cell printed. Here the
    figure is shown once, through a display handle, and every :meth:`add`
    replaces that one output with a fresh PNG.

    The figure is a bare ``matplotlib.figure.Figure``, never registered with
    pyplot, so the inline backend does not show it a second time at the end
    of the cell and ``plt.close`` is never needed. Outside IPython nothing is
    shown; the data and the figure (``.fig``, ``.ax``) are still kept.

    Parameters
    ----------
    legend : sequence of str
        One name per curve; :meth:`add` takes one y value per curve.
    xlabel, ylabel : str, optional
        Axis labels.
    xlim, ylim : (float, float), optional
        Fixed axis limits (e.g. ``(1, num_epochs)``); automatic when None.
    figsize : (float, float)
        Size in inches.
    display : callable, optional
        ``display(obj, raw=True, metadata=..., display_id=True)`` returning a
        handle with ``update(obj, raw=True, metadata=...)``. Defaults to
        IPython's ``display`` inside a kernel and to nothing elsewhere; tests
        pass a fake.
    """

    def __init__(
        self,
        legend: Sequence[str] = ("train loss", "train acc", "test acc"),
        xlabel: str | None = "epoch",
        ylabel: str | None = None,
        xlim: tuple | None = None,
        ylim: tuple | None = None,
        figsize: tuple = FIGSIZE,
        display: Callable | None = None,
    ):
        self.legend = list(legend)
        self.xlabel, self.ylabel, self.xlim, self.ylim = xlabel, ylabel, xlim, ylim
        self.fig = Figure(figsize=figsize)
        self.ax = self.fig.subplots()
        self.X: list = [[] for _ in self.legend]
        self.Y: list = [[] for _ in self.legend]
        if display is None and in_ipython_kernel():
            display = _ipython_display
        self._display = display
        self._handle = None
        self._draw()

    def add(self, x: float, ys: Sequence[float | None]) -> None:
        """Append ``(x, ys[i])`` to curve ``i`` (skipping Nones) and redraw."""
        if len(ys) != len(self.legend):
            raise ValueError(f"expected {len(self.legend)} values, got {len(ys)}")
        for xs, curve, y in zip(self.X, self.Y, ys):
            if y is not None:
                xs.append(x)
                curve.append(y)
        self._draw()
        self.show()

    def _draw(self) -> None:
        self.ax.cla()
        for xs, curve, fmt, label in zip(self.X, self.Y, FMTS, self.legend):
            self.ax.plot(xs, curve, fmt, label=label)
        d2l.set_axes(
            self.ax, self.xlabel, self.ylabel, self.xlim, self.ylim,
            "linear", "linear", self.legend,
        )  # fmt: skip
        self.ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs

    def show(self) -> None:
        """Show the figure in the notebook, or update the copy already shown."""
        if self._display is None:
            return
        bundle, metadata = _png_bundle(self.fig)
        if self._handle is None:
            self._handle = self._display(
                bundle, raw=True, metadata=metadata, display_id=True
            )
        else:  # the metadata again: an update replaces the output's metadata too
            self._handle.update(bundle, raw=True, metadata=metadata)


class _NoPlot:
    """Stands in for a :class:`LivePlot` when none is wanted: draws nothing."""

    def add(self, x: float, ys: Sequence[float | None]) -> None:
        pass


def training_plot(num_epochs: int, live: bool | None = None):
    """The live plot of a training run's curves, or a stand-in that draws nothing.

    `live`: True or False; None means on inside a notebook (IPython kernel).
    Shown at once, so it sits above the lines the epochs print.
    """
    if not (in_ipython_kernel() if live is None else live):
        return _NoPlot()
    # Not d2l.Animator: it switches matplotlib to SVG (which nbval compares
    # as text, so every run would differ) and calls clear_output, which
    # would also erase the lines printed for the previous epochs.
    board = LivePlot(xlim=(1, num_epochs) if num_epochs > 1 else None)
    board.show()
    return board
