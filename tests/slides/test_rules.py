"""The slide rules (bnlesson.slides.rules) on a hand-made notebook."""

import base64

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bnlesson.slides import rules as slide_rules

# A 1 x 1 PNG: a figure output.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def _notebook():
    log = "".join(f"epoch {i}, loss {1 / i:.2f}\n" for i in range(1, 11))
    cells = [
        new_markdown_cell("# Lesson 99 · A title\n\nWhat it is about."),
        new_code_cell("import bnlesson\nbnlesson.notebook.setup()"),
        new_markdown_cell("## The function"),
        new_code_cell("def f(x):\n    return 2 * x"),
        new_code_cell("def helper(x):\n    return x"),
        new_code_cell("import math"),
        new_code_cell("assert f(1) == 2\nif True:\n    assert f(2) == 4"),
        new_markdown_cell("### A detail"),
        new_code_cell(
            "train()",
            outputs=[new_output("stream", name="stdout", text=log)],
            metadata={"tags": ["nbval-ignore-output"]},
        ),
        new_code_cell(
            "report()",
            outputs=[new_output("stream", name="stdout", text=log)],
        ),
        new_code_cell(
            "fig = plot()",
            outputs=[new_output("display_data", data={"image/png": PNG})],
        ),
        new_code_cell("import os", metadata={"slideshow": {"slide_type": "slide"}}),
        new_markdown_cell("\n\n".join(f"Paragraph {i}." for i in range(40))),
    ]
    return new_notebook(cells=cells)


def test_rules_decide_each_cell():
    nb = _notebook()
    before = nbformat.writes(nb)
    marked = slide_rules.mark(nb)
    assert nbformat.writes(nb) == before, "the notebook passed in was changed"
    kinds = [c.metadata.slideshow.slide_type for c in marked.cells]
    # title, set-up, heading, its def, other def, import, asserts, ###, log,
    # untagged output, figure, metadata's own choice, then the long markdown
    # in 2 pieces of a slide each (neither fits under the import).
    assert kinds[:12] == [
        "slide", "skip", "slide", "-", "skip", "skip", "skip",
        "subslide", "-", "-", "fragment", "slide",
    ]  # fmt: skip
    assert kinds[12:] == ["subslide", "subslide"]
    text = "\n\n".join(c.source for c in marked.cells[12:])
    assert text == "\n\n".join(f"Paragraph {i}." for i in range(40))


def test_a_log_tagged_for_nbval_keeps_its_last_lines():
    tagged, untagged = slide_rules.mark(_notebook()).cells[8:10]
    assert tagged.source == "train()"
    assert tagged.outputs[0].text.splitlines() == [
        "[... 7 lines ...]",
        "epoch 8, loss 0.12",
        "epoch 9, loss 0.11",
        "epoch 10, loss 0.10",
    ]
    assert untagged.outputs[0].text == _notebook().cells[9].outputs[0].text


def test_a_heading_inside_markdown_starts_a_slide():
    nb = new_notebook(
        cells=[new_markdown_cell("## Summary\n\n* one\n\n## Exercises\n\n1. x")]
    )
    marked = slide_rules.mark(nb).cells
    assert [c.source for c in marked] == ["## Summary\n\n* one", "## Exercises\n\n1. x"]
    assert [c.metadata.slideshow.slide_type for c in marked] == ["slide", "slide"]


def test_math_and_code_blocks_are_never_split():
    math = "$$\n" + "\n\n".join(f"x_{i}" for i in range(60)) + "\n$$"
    assert list(slide_rules._chunks(math)) == [math]
    code = "```\n" + "\n\n".join(f"x = {i}" for i in range(60)) + "\n```"
    assert list(slide_rules._chunks("Intro.\n\n" + code)) == ["Intro.", code]


def test_a_hidden_check_cell_is_never_a_slide():
    # Not only assertions: a check cell may prepare what it asserts.
    check = new_code_cell(
        "gap = a - b\nprint(gap)\nassert gap > 0",
        metadata={"tags": ["check"], "jupyter": {"source_hidden": True}},
    )
    plain = new_code_cell("gap = a - b\nprint(gap)\nassert gap > 0")
    nb = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell("import x"),
                             check, plain])  # fmt: skip
    kinds = [c.metadata.slideshow.slide_type for c in slide_rules.mark(nb).cells]
    assert kinds[2:] == ["skip", "-"]
