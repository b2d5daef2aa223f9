"""Which cell of a lesson is a slide, a sub-slide, speaker notes or skipped.

Infrastructure for :mod:`bnlesson.slides`. Two steps, both from the rules
below, so that the committed lessons' ``slideshow`` metadata (what
jupyterlab-rise shows in Lab) and the reveal.js decks agree:

:func:`slide_types` gives one ``slide_type`` per cell of the notebook, from
the rules alone (marks stored in the cells are ignored):

1. Markdown: the title (``#``) and every ``##`` heading start a slide, a
   ``###`` heading a sub-slide. Markdown without a heading is speaker
   notes (``"notes"``), unless it holds something a class must see: display
   math, a table, an image or a code block (then ``"-"``, on the slide).
2. Code that is left out (``"skip"``): the first code cell (imports, the
   version line), cells tagged ``check`` (hidden checks of the lesson's
   claims), cells that only import, only assert, or only define functions or
   classes (unless they come right after a heading: the section's key code),
   and cells whose output only says how long the lesson ran.
3. Other code continues the current slide (``"-"``); it starts a sub-slide
   (``"subslide"``) when it would overflow the slide (about
   :data:`MAX_LINES` lines of text), and a figure starts one unless the slide
   holds only its headline, so that the figure can fill the slide.

:func:`bnlesson.slides.paging.mark` turns a notebook into the cells of its
deck: a cell's own stored ``slideshow.slide_type`` wins, every other cell
gets its type from :func:`slide_types`; then a heading cell keeps its heading and lead
sentence on the slide and hands its paragraphs to the speaker notes (a
markdown cell on the slide does the same with its prose), widget outputs
lose their text fallback, logs are trimmed, and content that would
overflow a slide moves to a sub-slide that repeats the section's heading.

All of this works on a copy: the notebook passed in is never changed.
"""

from __future__ import annotations

import ast
import base64
import copy
import math
import re
import struct
from typing import Iterator

from nbformat import NotebookNode

#: Lines of text that fit on one slide (1280 x 720, the decks' size).
MAX_LINES = 24
#: Lines a slide's headline may take before a figure needs a slide of its own.
HEADLINE_LINES = 5
#: Text lines a figure takes per 100 pixels of its height.
FIGURE_LINES_PER_100PX = 5
#: Text-output lines kept of a cell tagged :data:`IGNORE_OUTPUT_TAG`.
LOG_LINES = 3
#: A figure's code is shown when it has at most this many lines.
FIGURE_CODE_LINES = 4
#: Characters per line of text before it wraps.
LINE_CHARS = 90
#: A lead sentence longer than this stays in the speaker notes.
LEAD_CHARS = 240
#: The tag that makes :mod:`bnlesson.slides` hide a cell's code.
HIDE_INPUT_TAG = "bnlesson-slides-hide-input"
#: nbval's tag for a cell whose output is not compared: a log, timings.
IGNORE_OUTPUT_TAG = "nbval-ignore-output"
#: The tag of a hidden cell that checks a lesson's claims: never a slide.
CHECK_TAG = "check"
#: The MIME type of a live widget: a deck cannot run it (the static figure
#: the widget's helper displays beside it is an ordinary image output).
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: The slide types of Jupyter's property inspector (RISE and nbconvert's).
SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
# An output that only reports how long the lesson (or a cell) ran.
_TIMING = re.compile(
    r"^\s*(this lesson )?ran in [\d.]+ ?(s|seconds?|minutes?)\.?\s*$", re.I
)
# Blocks of markdown a class must see: display math, tables, images, code.
_VISUAL = re.compile(r"(\$\$|\\begin\{|^\s*\|.*\|\s*$|!\[|<img|^\s*```)", re.M)


def slide_type(cell: NotebookNode) -> str | None:
    """Return the ``slideshow.slide_type`` a cell sets itself, or None."""
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def slide_types(nb: NotebookNode) -> list[str]:
    """Return the rules' ``slide_type`` of each cell of `nb`, in order.

    Marks stored in the cells' metadata are ignored: this is what the rules
    give now, which the committed lessons' marks must equal (the test of
    the lessons) and which ``python -m bnlesson.slides --mark`` writes.
    """
    kinds: list[str] = []
    used = 0  # estimated lines on the current slide
    first_code = True
    previous = None
    for cell in nb.cells:
        kind = _rule(cell, previous, first_code)
        if cell.cell_type == "code":
            first_code = False
            shown = _cleaned(cell)
            lines = height(shown)
            if kind == "-" and (
                used + lines > MAX_LINES or (figures(shown) and used > HEADLINE_LINES)
            ):
                kind = "subslide"
        else:
            lines = _markdown_lines(cell.source, kind)
        if kind in ("slide", "subslide"):
            used = lines
        elif kind == "-":
            used += lines
        kinds.append(kind)
        previous = cell
    return kinds


def _rule(cell: NotebookNode, previous: NotebookNode | None, first_code: bool) -> str:
    if cell.cell_type == "markdown":
        heading = _heading_level(cell.source)
        if heading:
            return {1: "slide", 2: "slide", 3: "subslide"}.get(heading, "-")
        return "-" if _VISUAL.search(cell.source) else "notes"
    if cell.cell_type != "code" or CHECK_TAG in cell.metadata.get("tags", []):
        return "skip"
    tree = _parse(cell.source)
    if first_code or tree is None or _only(tree, (ast.Import, ast.ImportFrom)):
        return "skip"
    if _only_asserts(tree.body) or _only_timing(cell):
        return "skip"
    if _only(tree, (ast.FunctionDef, ast.ClassDef)) and not _is_heading(previous):
        return "skip"
    return "-"


def _markdown_lines(source: str, kind: str) -> int:
    """Lines a markdown cell takes on the deck's slide (its notes take none)."""
    if kind == "notes":
        return 0
    headline, visual, _ = split_markdown(source)
    return _text_lines(headline) + sum(_text_lines(block) for block in visual)


def _only_timing(cell: NotebookNode) -> bool:
    texts = [o.get("text", "") for o in cell.get("outputs", [])]
    return (
        bool(texts)
        and all(o.output_type == "stream" for o in cell.outputs)
        and all(_TIMING.match(line) for t in texts for line in t.splitlines() if line)
    )


def split_markdown(source: str) -> tuple[str, list[str], list[str]]:
    """Split markdown into its headline, its visual blocks and its prose.

    Returns
    -------
    headline : str
        The heading line(s) and a short lead sentence after them ("" if the
        markdown has no heading).
    visual : list of str
        Blocks a class must see: display math, tables, images, code.
    prose : list of str
        The other paragraphs (and the rest of the lead paragraph): the
        speaker notes.
    """
    blocks = list(_blocks(source))
    headline, visual, prose = [], [], []
    for block in blocks:
        if _heading_level(block):
            first, _, rest = block.partition("\n")
            headline.append(first)
            if rest.strip():
                prose.append(rest.strip())
        elif _VISUAL.search(block):
            visual.append(block)
        else:
            prose.append(block)
    if headline and prose and not _heading_level(blocks[-1]):
        lead, rest = _lead(prose[0])
        if lead:
            headline.append(lead)
            prose[0] = rest
            prose = [p for p in prose if p]
    return "\n\n".join(headline), visual, prose


def _lead(paragraph: str, most: int = LEAD_CHARS) -> tuple[str, str]:
    """The paragraph's first sentence if short (else ""), and the rest.

    A list is not a lead; a link counts by its text, not its address.
    """
    text = " ".join(paragraph.split())
    match = re.match(r"(.{8,}?[.!?])(\s+|$)(?=[A-Z*(`$\[]|$)", text)
    if (
        not match
        or re.match(r"([*+-]|\d+\.) ", text)
        or len(_plain(match.group(1))) > most
    ):
        return "", paragraph
    return match.group(1), text[match.end() :].strip()


def _plain(text: str) -> str:
    """Markdown as read: links by their text."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)


def _cleaned(cell: NotebookNode) -> NotebookNode:
    """A copy of a code cell as a deck shows it: no widget text, a short log."""
    cell = copy.deepcopy(cell)
    cell.outputs = [
        o for o in cell.get("outputs", []) if WIDGET_MIME not in o.get("data", {})
    ]
    _trim_log(cell)
    return cell


def _heading_level(source: str) -> int:
    match = re.match(r"(#{1,6}) ", source.lstrip())
    return len(match.group(1)) if match else 0


def _is_heading(cell: NotebookNode | None) -> bool:
    return (
        cell is not None
        and cell.cell_type == "markdown"
        and _heading_level(cell.source) in (2, 3)
    )


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:  # IPython magics: not ours to judge, show the cell
        return None


def _only(tree: ast.Module, kinds: tuple) -> bool:
    return bool(tree.body) and all(isinstance(node, kinds) for node in tree.body)


def _only_asserts(body: list) -> bool:
    """True if `body` holds asserts, possibly inside ``if``/``for``/``with``."""
    if not body:
        return False
    for node in body:
        if isinstance(node, (ast.If, ast.For)):
            parts = [node.body] + ([node.orelse] if node.orelse else [])
            if not all(_only_asserts(part) for part in parts):
                return False
        elif isinstance(node, ast.With):
            if not _only_asserts(node.body):
                return False
        elif not isinstance(node, ast.Assert):
            return False
    return True


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


def _figure_heights(cell: NotebookNode) -> list[int]:
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
        return _text_lines(cell.source)
    if cell.cell_type != "code":
        return 0
    shown = HIDE_INPUT_TAG not in cell.metadata.get("tags", [])
    lines = _text_lines(cell.source) if shown else 0
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            lines += _text_lines(out.text)
        elif "text/html" in out.get("data", {}):
            lines += _text_lines(out.data.get("text/plain", "")) + 2
        elif "text/plain" in out.get("data", {}) and "image/png" not in out.data:
            lines += _text_lines(out.data["text/plain"])
    for pixels in _figure_heights(cell):
        lines += math.ceil(pixels / 100 * FIGURE_LINES_PER_100PX)
    return lines


def _text_lines(text: str) -> int:
    return sum(max(1, math.ceil(len(line) / LINE_CHARS)) for line in text.splitlines())


def _blocks(source: str) -> Iterator[str]:
    """Paragraphs of `source`; code fences and ``$$`` math stay whole."""
    block: list[str] = []
    fences = 0
    for line in source.splitlines():
        if line.strip() == "" and fences % 2 == 0:
            if block:
                yield "\n".join(block)
            block = []
            continue
        fences += line.lstrip().startswith("```") + line.count("$$")
        block.append(line)
    if block:
        yield "\n".join(block)
