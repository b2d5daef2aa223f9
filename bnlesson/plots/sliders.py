"""A figure under a slider: a static image in the saved notebook, live in Lab.

:class:`SliderFigure` shows a slider and, under it, the figure that
``draw(value)`` returns for the slider's value, as an ordinary PNG
(``image/png``) under a display id. Moving the slider redraws the figure
and replaces that same output. So the saved notebook, and a deck built from
it, show the figure at the slider's first value (a deck drops the widget,
whose saved form is only a placeholder), and a running kernel, in Lab or
in a live slideshow, redraws it as the slider moves.

The figures are :class:`matplotlib.figure.Figure` objects made without
pyplot: they are rendered here and never reach pyplot's list of open
figures, so the inline backend does not show them a second time.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Any, Callable

from IPython.display import Image, display
from matplotlib.figure import Figure

#: Rendering resolution: a 9-inch-wide figure is 1080 px, a slide's width.
DPI = 120


def png(fig: Figure, dpi: int = DPI) -> bytes:
    """Render `fig` as PNG bytes (with a tight bounding box)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


@dataclass
class SliderFigure:
    """A slider and the figure ``draw(slider.value)`` under it.

    Displayed (the last expression of a cell, or ``display(...)``), it shows
    the slider, then the figure as an image with a display id; each change of
    ``slider.value`` redraws the figure into that same output.

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
    handle: Any = field(default=None, init=False, repr=False)

    def image(self) -> Image:
        """The figure for the slider's current value, as a PNG image."""
        return Image(data=png(self.draw(self.slider.value)), format="png")

    def _ipython_display_(self) -> None:
        display(self.slider)
        self.handle = display(self.image(), display_id=True)
        # Shown again (the cell re-run): one redraw per change, of the new output.
        with contextlib.suppress(ValueError):  # not observed yet
            self.slider.unobserve(self._redraw, names="value")
        self.slider.observe(self._redraw, names="value")

    def _redraw(self, change: dict) -> None:
        if self.handle is not None:  # shown: replace the figure in place
            self.handle.update(self.image())
