"""A figure under a slider: a static image in the saved notebook, live in Lab.

:class:`SliderFigure` shows a slider and, under it, the figure that
``draw(value)`` returns for the slider's value. The figure is one output
with two forms: an image widget (``ipywidgets.Image``) and an ordinary PNG
(``image/png``). A running kernel shows the widget, and moving the slider
sets the widget's image, which reaches every view of it: the notebook in
Lab and the same notebook shown as live slides (RISE), whose views did not
run the cell. (Replacing an output by its display id would not do: Lab
routes such an update only to the view whose request made the output.)
The saved notebook, and a deck built from it, have no widget state, so
Lab and nbconvert fall back to the PNG: the figure at the slider's first
value (a deck drops the slider, whose saved form is only a placeholder).

The figures are :class:`matplotlib.figure.Figure` objects made without
pyplot: they are rendered here and never reach pyplot's list of open
figures, so the inline backend does not show them a second time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Callable

from IPython.display import Image, display
from matplotlib.figure import Figure

#: Rendering resolution: a 9-inch-wide figure is 1080 px, a slide's width.
DPI = 120
#: The MIME type of a widget's view, version 2 of the widgets' protocol
#: (ipywidgets 7 and 8).
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def png(fig: Figure, dpi: int = DPI) -> bytes:
    """Render `fig` as PNG bytes (with a tight bounding box)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


@dataclass
class SliderFigure:
    """A slider and the figure ``draw(slider.value)`` under it.

    Displayed (the last expression of a cell, or ``display(...)``), it shows
    the slider, then the figure as one output: an image widget for a running
    kernel and a PNG for the saved notebook. Each change of ``slider.value``
    redraws the figure into the image widget, in every view of it.

    Parameters
    ----------
    slider : ipywidgets.ValueWidget
        Any widget with a ``value`` trait, e.g. ``FloatSlider`` or
        ``SelectionSlider``.
    draw : callable
        ``draw(value) -> matplotlib.figure.Figure``, a new figure each call.
    """

    slider: Any
    draw: Callable[[Any], Figure]
    #: The ``ipywidgets.Image`` that shows the figure, made when first shown.
    figure: Any = field(default=None, init=False, repr=False)

    def image(self) -> Image:
        """The figure for the slider's current value, as a PNG image."""
        return Image(data=png(self.draw(self.slider.value)), format="png")

    def _ipython_display_(self) -> None:
        image = self.image()
        if self.figure is None:
            import ipywidgets  # only a shown slider needs it

            self.figure = ipywidgets.Image(
                value=image.data,
                format="png",
                layout=ipywidgets.Layout(max_width="100%", height="auto"),
            )
            # Shown again (the cell re-run), the same widget: one redraw per change.
            self.slider.observe(self._redraw, names="value")
        else:
            self.figure.value = image.data
        display(self.slider)
        display(both(self.figure, image), raw=True)

    def _redraw(self, change: dict) -> None:
        self.figure.value = self.image().data


def both(widget: Any, image: Image) -> dict:
    """One output's data: `widget`'s view, and `image` where there is no widget.

    Lab shows the widget while its kernel has it; the saved notebook has no
    widget state, so Lab and nbconvert show the PNG (and ``text/plain``).
    """
    # The image's own reprs, not IPython's format_display_data: that creates
    # IPython's global shell, after which matplotlib 3.7.2 fails to switch
    # backends (it imports backend2gui, gone in IPython 9) in a plain Python.
    data = {"image/png": image._repr_png_(), "text/plain": repr(image)}
    data[WIDGET_VIEW] = {
        "model_id": widget.model_id,
        "version_major": 2,
        "version_minor": 0,
    }
    return data
