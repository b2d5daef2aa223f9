"""The cells of a deck: a lesson's cells as the slide rules place them.

Infrastructure for :mod:`bnlesson.slides`: :func:`mark` applies
:mod:`bnlesson.slides.rules` to a copy of a notebook, keeps each heading's
headline (and lead sentence) on its slide and hands its paragraphs to the
speaker notes, and continues a full slide on the next one under the same
heading. The notebook passed in is never changed.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Iterator

from nbformat import NotebookNode, from_dict

from bnlesson.slides.markdown import (
    LEAD_CHARS,
    VISUAL,
    heading_level,
    lead_sentence,
    paragraphs,
    plain,
    split_markdown,
)
from bnlesson.slides.measure import (
    HIDE_INPUT_TAG,
    MAX_LINES,
    cleaned,
    figures,
    height,
    text_lines,
)
from bnlesson.slides.rules import slide_type, slide_types

#: A figure's code is shown when it has at most this many lines.
FIGURE_CODE_LINES = 4


def mark(nb: NotebookNode) -> NotebookNode:
    """Return a copy of `nb` as the cells of its deck, each with a type.

    Parameters
    ----------
    nb : NotebookNode
        A notebook with its outputs (it is not changed).

    Returns
    -------
    NotebookNode
        The copy: each cell's ``metadata.slideshow.slide_type`` is its own
        stored mark or the rules' (:func:`slide_types`); headings keep their
        headline on the slide and their paragraphs go to the notes; content
        that would overflow a slide starts a sub-slide under the same heading.
    """
    nb = copy.deepcopy(nb)
    kinds = slide_types(nb)
    cells: list[NotebookNode] = []
    for cell, rule in zip(nb.cells, kinds):
        kind = slide_type(cell) or rule
        if cell.cell_type == "code":
            cell = cleaned(cell)
            if figures(cell) and len(cell.source.splitlines()) > FIGURE_CODE_LINES:
                cell.metadata.setdefault("tags", []).append(HIDE_INPUT_TAG)
            cells.append(_typed(cell, kind))
        elif cell.cell_type == "markdown":
            cells.extend(_deck_markdown(cell, kind))
        else:
            cells.append(_typed(cell, "skip"))
    nb.cells = _paginate(cells)
    return nb


def _typed(cell: NotebookNode, kind: str) -> NotebookNode:
    cell.metadata["slideshow"] = {"slide_type": kind}
    return cell


def _deck_markdown(cell: NotebookNode, kind: str) -> Iterator[NotebookNode]:
    """The headline (or the visual blocks) on the slide, the prose as notes."""
    if kind in ("skip", "notes", "fragment"):
        yield _typed(cell, kind)
        return
    parts = []
    for n, section in enumerate(_sections(cell.source)):
        level = heading_level(section)
        section_kind = kind if n == 0 else {3: "subslide"}.get(level, "slide")
        headline, visual, prose = split_markdown(section)
        parts += [(headline, section_kind)] if headline else []
        parts += [(block, "-") for block in visual]
        if prose:
            parts.append(("\n\n".join(prose), "notes"))
    if parts and parts[0][1] == "notes" and kind in ("slide", "subslide"):
        parts[0] = (parts[0][0], kind)  # a heading cell without a heading line
    for i, (source, part_kind) in enumerate(parts):
        part = copy.deepcopy(cell)
        part.source = source
        if i and "id" in part:
            part.id = f"{cell.id}-{i}"  # ids must stay unique
        yield _typed(part, part_kind)


def _sections(source: str) -> list[str]:
    """Split markdown at its headings: each heading starts a section."""
    sections: list[list[str]] = [[]]
    for block in paragraphs(source):
        if heading_level(block) and sections[-1]:
            sections.append([])
        sections[-1].append(block)
    return ["\n\n".join(blocks) for blocks in sections if blocks]


def _paginate(cells: list[NotebookNode]) -> list[NotebookNode]:
    """Start a sub-slide, under the section's heading, where a slide is full.

    A slide left with its heading alone (a section of prose) shows the
    first paragraph of its notes too: no slide is a title alone.
    """
    pager = _Pager()
    for cell in cells:
        pager.add(cell)
    _lead_from_notes(pager.out, pager.bare)
    return pager.out


@dataclass
class _Pager:
    """The deck's cells so far, and what is on its current slide."""

    out: list[NotebookNode] = field(default_factory=list)
    #: Estimated lines of text on the current slide.
    used: int = 0
    #: The heading line of the current section, repeated where it goes on.
    heading: str | None = None
    #: The index in `out` of a heading cell alone on its slide, if any.
    bare: int | None = None

    def add(self, cell: NotebookNode) -> None:
        """Append `cell`, typed anew where a slide is full or bare."""
        kind = slide_type(cell)
        lines = height(cell) if kind not in ("skip", "notes") else 0
        headed = cell.cell_type == "markdown" and bool(heading_level(cell.source))
        if kind == "subslide" and headed and self._bare_without_notes():
            self._join_bare(cell, lines)  # a heading alone, then a sub-heading
            return
        if kind in ("slide", "subslide") and headed:
            _lead_from_notes(self.out, self.bare)
        self._place(cell, kind, headed, lines)
        if kind in ("slide", "subslide"):
            self.bare = len(self.out) if headed and _one_line(cell) else None
        elif kind not in ("skip", "notes"):
            self.bare = None
        self.out.append(cell)

    def _bare_without_notes(self) -> bool:
        return self.bare is not None and not any(
            slide_type(c) == "notes" for c in self.out[self.bare + 1 :]
        )

    def _join_bare(self, cell: NotebookNode, lines: int) -> None:
        """Put a sub-heading on the slide of the heading alone before it."""
        _typed(cell, "-")
        self.heading = cell.source.splitlines()[0]
        self.used += lines
        self.bare = len(self.out) if _one_line(cell) else None
        self.out.append(cell)

    def _place(self, cell: NotebookNode, kind: str, headed: bool, lines: int) -> None:
        """Count `cell`'s lines on its slide; continue a full slide on the next."""
        if (
            kind in ("-", "subslide", "fragment")
            and self.bare is not None
            and not headed
        ):
            _typed(cell, "-")  # fill the bare slide
            self.used += lines
        elif kind == "subslide" and not headed and self.heading is not None:
            self.out.append(_headline(self.heading, cell))  # a slide that goes on
            _typed(cell, "-")
            self.used = text_lines(self.heading) + lines
        elif kind in ("slide", "subslide"):
            self.used = lines
            if headed:
                self.heading = cell.source.splitlines()[0]
        elif (
            kind in ("-", "fragment")
            and self.used + lines > MAX_LINES
            and self.used > 0
        ):
            if self.heading is not None:  # the slide's headline, again
                self.out.append(_headline(self.heading, cell))
                self.used = text_lines(self.heading)
            else:
                _typed(cell, "subslide")
                self.used = 0
            self.used += lines
        elif kind in ("-", "fragment"):
            self.used += lines


def _one_line(cell: NotebookNode) -> bool:
    return "\n" not in cell.source.strip()


def _lead_from_notes(cells: list[NotebookNode], bare: int | None) -> None:
    """Move the first paragraph of a lone heading's notes onto its slide."""
    if bare is None:
        return
    notes = next(
        (
            c
            for c in cells[bare + 1 :]
            if slide_type(c) == "notes" and c.cell_type == "markdown"
        ),
        None,
    )
    if notes is None:
        return
    first, _, rest = notes.source.strip().partition("\n\n")
    if re.match(r"\s*([*+-]|\d+\.) ", first):  # a list: all of it, or its first item
        if text_lines(first) > MAX_LINES // 2:
            item = re.split(r"\n(?=[*+-] |\d+\. )", first)[0]
            first, rest = item, first[len(item) :] + "\n\n" + rest
    elif VISUAL.search(first) or len(plain(first)) > 2 * LEAD_CHARS:
        lead, tail = lead_sentence(first, 2 * LEAD_CHARS)
        first, rest = lead, tail + "\n\n" + rest
    if first:
        cells[bare].source += "\n\n" + first
        notes.source = rest.strip() or " "


def _headline(heading: str, cell: NotebookNode) -> NotebookNode:
    """A sub-slide's first cell: the heading of the slide it continues."""
    return from_dict(
        {
            "cell_type": "markdown",
            "id": f"{cell.get('id', 'cell')}-head",
            "metadata": {"slideshow": {"slide_type": "subslide"}},
            "source": heading,
            "attachments": {},
        }
    )
