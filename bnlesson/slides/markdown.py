"""A markdown cell's parts as a slide shows them: headline, visual blocks, prose.

Part of :mod:`bnlesson.slides`: :func:`split_markdown` keeps a heading and
its short lead sentence for the slide, the blocks a class must see (display
math, tables, images, code) on the slide too, and hands the other
paragraphs to the speaker notes. Code fences and ``$$`` math are never split.
"""

from __future__ import annotations

import re
from typing import Iterator

#: A lead sentence longer than this stays in the speaker notes.
LEAD_CHARS = 240
#: Blocks of markdown a class must see: display math, tables, images, code.
VISUAL = re.compile(r"(\$\$|\\begin\{|^\s*\|.*\|\s*$|!\[|<img|^\s*```)", re.M)


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
    blocks = list(paragraphs(source))
    headline, visual, prose = [], [], []
    for block in blocks:
        if heading_level(block):
            first, _, rest = block.partition("\n")
            headline.append(first)
            if rest.strip():
                prose.append(rest.strip())
        elif VISUAL.search(block):
            visual.append(block)
        else:
            prose.append(block)
    if headline and prose and not heading_level(blocks[-1]):
        lead, rest = lead_sentence(prose[0])
        if lead:
            headline.append(lead)
            prose[0] = rest
            prose = [p for p in prose if p]
    return "\n\n".join(headline), visual, prose


def lead_sentence(paragraph: str, most: int = LEAD_CHARS) -> tuple[str, str]:
    """The paragraph's first sentence if short (else ""), and the rest.

    A list is not a lead; a link counts by its text, not its address.
    """
    text = " ".join(paragraph.split())
    match = re.match(r"(.{8,}?[.!?])(\s+|$)(?=[A-Z*(`$\[]|$)", text)
    if (
        not match
        or re.match(r"([*+-]|\d+\.) ", text)
        or len(plain(match.group(1))) > most
    ):
        return "", paragraph
    return match.group(1), text[match.end() :].strip()


def plain(text: str) -> str:
    """Markdown as read: links by their text."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)


def heading_level(source: str) -> int:
    """The level of the heading `source` starts with (``## x``: 2), or 0."""
    match = re.match(r"(#{1,6}) ", source.lstrip())
    return len(match.group(1)) if match else 0


def paragraphs(source: str) -> Iterator[str]:
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
