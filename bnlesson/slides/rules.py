"""Which cell of a lesson is a slide, a sub-slide, a fragment or skipped.

Infrastructure for :mod:`bnlesson.slides`. A cell's own
``metadata.slideshow.slide_type`` always wins. Every other cell is decided by
these rules, so that a rewritten lesson gets a sensible deck without hand
edits:

1. Markdown: the title (``#``) and every ``##`` heading start a slide, a
   ``###`` heading a sub-slide. Markdown is split at the headings inside
   it, and where longer than :data:`MAX_LINES` at blank lines (never inside
   a code block or display math).
2. Code that is left out: the first code cell (imports and the version
   line), cells that only import, cells that only assert (checks, not
   lecture), and cells that only define functions or classes, unless they come
   right after a heading (then they are the section's key code).
3. A cell tagged ``nbval-ignore-output`` (its output differs from run to
   run, e.g. a training log) keeps only the last :data:`LOG_LINES` lines of
   its text output (the log's end).
4. A figure is a fragment (it appears on the next click); the code of a
   figure longer than :data:`FIGURE_CODE_LINES` lines is hidden.
5. Everything else continues the current slide, and any cell that would
   overflow it (estimated :data:`MAX_LINES` text lines) starts a sub-slide.

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
MAX_LINES = 26
#: Text lines a figure takes per 100 pixels of its height.
FIGURE_LINES_PER_100PX = 5
#: Text-output lines kept of a cell tagged :data:`IGNORE_OUTPUT_TAG`.
LOG_LINES = 3
#: A figure's code is shown when it has at most this many lines.
FIGURE_CODE_LINES = 4
#: Characters per line of text before it wraps.
LINE_CHARS = 90
#: The tag that makes :mod:`bnlesson.slides` hide a cell's code.
HIDE_INPUT_TAG = "bnlesson-slides-hide-input"
#: nbval's tag for a cell whose output is not compared: a log, timings.
IGNORE_OUTPUT_TAG = "nbval-ignore-output"
#: The tag of a hidden cell that checks a lesson's claims: never a slide.
CHECK_TAG = "check"


def slide_type(cell: NotebookNode) -> str | None:
    """Return the ``slideshow.slide_type`` a cell sets itself, or None."""
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def mark(nb: NotebookNode) -> NotebookNode:
    """Return a copy of `nb` whose every cell has a ``slide_type``.

    Parameters
    ----------
    nb : NotebookNode
        A notebook with its outputs (it is not changed).

    Returns
    -------
    NotebookNode
        The copy, with long markdown split, logs trimmed and each cell's
        ``metadata.slideshow.slide_type`` set by the module's rules.
    """
    nb = copy.deepcopy(nb)
    nb.cells = list(_split_long_markdown(nb.cells))
    used = 0  # estimated lines on the current slide
    first_code = True
    for i, cell in enumerate(nb.cells):
        kind = slide_type(cell)
        if kind is None:
            kind = _rule(cell, nb.cells[i - 1] if i else None, first_code)
            if kind in ("-", "fragment") and used + height(cell) > MAX_LINES:
                kind = "subslide"
            cell.metadata["slideshow"] = {"slide_type": kind}
        if cell.cell_type == "code":
            first_code = False
        if kind in ("slide", "subslide"):
            used = height(cell)
        elif kind != "skip" and kind != "notes":
            used += height(cell)
    return nb


def _rule(cell: NotebookNode, previous: NotebookNode | None, first_code: bool) -> str:
    if cell.cell_type == "markdown":
        heading = _heading_level(cell.source)
        return {1: "slide", 2: "slide", 3: "subslide"}.get(heading, "-")
    if cell.cell_type != "code" or CHECK_TAG in cell.metadata.get("tags", []):
        return "skip"
    tree = _parse(cell.source)
    if first_code or tree is None or _only(tree, (ast.Import, ast.ImportFrom)):
        return "skip"
    if _only_asserts(tree.body):
        return "skip"
    if _only(tree, (ast.FunctionDef, ast.ClassDef)) and not _is_heading(previous):
        return "skip"
    _trim_log(cell)
    if figures(cell):
        if len(cell.source.splitlines()) > FIGURE_CODE_LINES:
            cell.metadata.setdefault("tags", []).append(HIDE_INPUT_TAG)
        return "fragment"
    return "-"


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


def height(cell: NotebookNode) -> int:
    """Estimate the lines of text a cell takes on a slide."""
    if cell.cell_type == "markdown":
        return _text_lines(cell.source)
    if cell.cell_type != "code":
        return 0
    shown = HIDE_INPUT_TAG not in cell.metadata.get("tags", [])
    lines = _text_lines(cell.source) if shown else 0
    for out in cell.outputs:
        if out.output_type == "stream":
            lines += _text_lines(out.text)
        elif "text/plain" in out.get("data", {}) and "image/png" not in out.data:
            lines += _text_lines(out.data["text/plain"])
    for png in figures(cell):
        pixels = struct.unpack(">I", png[20:24])[0]  # the IHDR chunk's height
        lines += math.ceil(pixels / 100 * FIGURE_LINES_PER_100PX)
    return lines


def _text_lines(text: str) -> int:
    return sum(max(1, math.ceil(len(line) / LINE_CHARS)) for line in text.splitlines())


def _split_long_markdown(cells: list) -> Iterator[NotebookNode]:
    for cell in cells:
        if cell.cell_type != "markdown" or slide_type(cell) is not None:
            yield cell
            continue
        for i, chunk in enumerate(_chunks(cell.source)):
            part = copy.deepcopy(cell)
            part.source = chunk
            if i and "id" in part:
                part.id = f"{cell.id}-{i}"  # ids must stay unique
            yield part


def _chunks(source: str) -> Iterator[str]:
    """Split markdown at blank lines into pieces of about MAX_LINES lines.

    A heading inside the cell starts a piece of its own, so that it opens a
    slide as a heading cell would.
    """
    piece: list[str] = []
    for block in _blocks(source):
        full = _text_lines("\n".join(piece + [block])) > MAX_LINES
        if piece and (full or _heading_level(block)):
            yield "\n\n".join(piece)
            piece = []
        piece.append(block)
    if piece:
        yield "\n\n".join(piece)


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
