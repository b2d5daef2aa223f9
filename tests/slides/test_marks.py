"""The committed lessons' Slide Types are the slide rules' (what RISE shows).

The marks are recomputed from the rules alone (``slide_types`` ignores the
stored marks), so a rule changed, a cell added, or a mark set by hand in
Lab's property inspector fails here until the lessons are marked again.
"""

import nbformat
import pytest

from bnlesson.slides import rules as slide_rules

from nbutil import NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_each_lesson_carries_the_rules_slide_types(path):
    nb = nbformat.read(path, as_version=4)
    stored = [slide_rules.slide_type(cell) for cell in nb.cells]
    wrong = [
        f"cell {i + 1} ({cell.cell_type}, {cell.source[:40]!r}): {mark} != {rule}"
        for i, (cell, mark, rule) in enumerate(
            zip(nb.cells, stored, slide_rules.slide_types(nb))
        )
        if mark != rule
    ]
    assert not wrong, (
        f"{path.name}: the Slide Types differ from the slide rules; run "
        f"python -m bnlesson.slides --mark notebooks/{path.name} (after "
        "make run too, as outputs' heights count), or change the rules:\n"
        + "\n".join(wrong[:10])
    )


def test_a_lesson_presents_its_headings_and_leaves_out_its_set_up():
    # What RISE shows of a lesson: every ## heading starts a slide, and the
    # set-up cell is skipped.
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        kinds = slide_rules.slide_types(nb)
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        assert kinds[first_code] == "skip", path.name
        for cell, kind in zip(nb.cells, kinds):
            if cell.cell_type == "markdown" and cell.source.startswith("## "):
                assert kind == "slide", (path.name, cell.source[:40])
