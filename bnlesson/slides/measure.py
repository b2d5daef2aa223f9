"""How much of a slide a cell takes, and a code cell as a deck shows it.

Part of :mod:`bnlesson.slides`: :func:`height` estimates the lines of text
a cell takes on a 1280 x 720 slide (a figure by its height in pixels), for
the rules that start a new slide where one is full; :func:`cleaned` drops a
widget's text fallback and trims a log to its last lines.
"""

from __future__ import annotations

import base64
import copy
import math
import struct

from nbformat import NotebookNode

#: Lines of text that fit on one slide (1280 x 720, the decks' size).
MAX_LINES = 24
#: Text lines a figure takes per 100 pixels of its height.
FIGURE_LINES_PER_100PX = 5
#: Text-output lines kept of a cell tagged :data:`IGNORE_OUTPUT_TAG`.
LOG_LINES = 3
#: Characters per line of text before it wraps.
LINE_CHARS = 90
#: The tag that makes :mod:`bnlesson.slides` hide a cell's code.
HIDE_INPUT_TAG = "bnlesson-slides-hide-input"
#: nbval's tag for a cell whose output is not compared: a log, timings.
IGNORE_OUTPUT_TAG = "nbval-ignore-output"
#: The MIME type of a live widget: a deck cannot run it (the static figure
#: the widget's helper displays beside it is an ordinary image output).
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def cleaned(cell: NotebookNode) -> NotebookNode:
    """A copy of a code cell as a deck shows it: no widget text, a short log."""
    cell = copy.deepcopy(cell)
    cell.outputs = [
        o for o in cell.get("outputs", []) if WIDGET_MIME not in o.get("data", {})
    ]
    _trim_log(cell)
    return cell


def _trim_log(cell: NotebookNode) -> None:
    """Keep only the last lines of text of a cell tagged as a log."""
    if IGNORE_OUTPUT_TAG not in cell.metadata.get("tags", []):
        return
    streams = [o for o in cell.outputs if o.output_type == "stream"]
    text = "".join(o.text for o in streams).splitlines()
    if len(text) <= LOG_LINES:
        return
    kept = [f"[... {len(text) - LOG_LINES} lines ...]"] + text[-LOG_LINES:]
    streams[-1].text = "\n".join(kept) + "\n"
    cell.outputs = [o for o in cell.outputs if o not in streams[:-1]]


def figures(cell: NotebookNode) -> list[bytes]:
    """Return the PNG images among a code cell's outputs."""
    return [
        base64.b64decode(out.data["image/png"])
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]


def figure_heights(cell: NotebookNode) -> list[int]:
    """Each figure's height in CSS pixels: a 2x (retina) PNG says its own."""
    heights = []
    for out in cell.get("outputs", []):
        if "image/png" not in out.get("data", {}):
            continue
        shape = out.get("metadata", {}).get("image/png", {})
        if "height" in shape:
            heights.append(int(shape["height"]))
            continue
        png = base64.b64decode(out.data["image/png"])
        heights.append(struct.unpack(">I", png[20:24])[0])  # the IHDR chunk
    return heights


def height(cell: NotebookNode) -> int:
    """Estimate the lines of text a cell takes on a slide."""
    if cell.cell_type == "markdown":
        return text_lines(cell.source)
    if cell.cell_type != "code":
        return 0
    shown = HIDE_INPUT_TAG not in cell.metadata.get("tags", [])
    lines = text_lines(cell.source) if shown else 0
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            lines += text_lines(out.text)
        elif "text/html" in out.get("data", {}):
            lines += text_lines(out.data.get("text/plain", "")) + 2
        elif "text/plain" in out.get("data", {}) and "image/png" not in out.data:
            lines += text_lines(out.data["text/plain"])
    for pixels in figure_heights(cell):
        lines += math.ceil(pixels / 100 * FIGURE_LINES_PER_100PX)
    return lines


def text_lines(text: str) -> int:
    return sum(max(1, math.ceil(len(line) / LINE_CHARS)) for line in text.splitlines())
