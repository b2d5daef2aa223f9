"""Which cell of a lesson is a slide, a sub-slide, speaker notes or skipped.

Part of :mod:`bnlesson.slides`. Two steps, both from the rules below, so
that the committed lessons' ``slideshow`` metadata (what
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
   :data:`~bnlesson.slides.measure.MAX_LINES` lines of text), and a figure
   starts one unless the slide holds only its headline, so that the figure
   can fill the slide.

:func:`bnlesson.slides.paging.mark` turns a notebook into the cells of its
deck: a cell's own stored ``slideshow.slide_type`` wins, every other cell
gets its type from :func:`slide_types`; then a heading cell keeps its heading and lead
sentence on the slide and hands its paragraphs to the speaker notes (a
markdown cell on the slide does the same with its prose), widget outputs
lose their text fallback, logs are trimmed, and content that would
overflow a slide moves to a sub-slide that repeats the section's heading.

A markdown cell's parts come from :mod:`bnlesson.slides.markdown`, a
cell's lines on a slide from :mod:`bnlesson.slides.measure`. All of this
works on a copy: the notebook passed in is never changed.
"""

from __future__ import annotations

import ast
import re

from nbformat import NotebookNode

from bnlesson.slides.markdown import VISUAL, heading_level, split_markdown
from bnlesson.slides.measure import MAX_LINES, cleaned, figures, height, text_lines

#: Lines a slide's headline may take before a figure needs a slide of its own.
HEADLINE_LINES = 5
#: The tag of a hidden cell that checks a lesson's claims: never a slide.
CHECK_TAG = "check"
#: The slide types of Jupyter's property inspector (RISE and nbconvert's).
SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
# An output that only reports how long the lesson (or a cell) ran.
_TIMING = re.compile(
    r"^\s*(this lesson )?ran in [\d.]+ ?(s|seconds?|minutes?)\.?\s*$", re.I
)


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
            shown = cleaned(cell)
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
        heading = heading_level(cell.source)
        if heading:
            return {1: "slide", 2: "slide", 3: "subslide"}.get(heading, "-")
        return "-" if VISUAL.search(cell.source) else "notes"
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
    return text_lines(headline) + sum(text_lines(block) for block in visual)


def _only_timing(cell: NotebookNode) -> bool:
    texts = [o.get("text", "") for o in cell.get("outputs", [])]
    return (
        bool(texts)
        and all(o.output_type == "stream" for o in cell.outputs)
        and all(_TIMING.match(line) for t in texts for line in t.splitlines() if line)
    )


def _is_heading(cell: NotebookNode | None) -> bool:
    return (
        cell is not None
        and cell.cell_type == "markdown"
        and heading_level(cell.source) in (2, 3)
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
