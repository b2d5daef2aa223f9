"""The slide rules (bnlesson.slides.rules) on hand-made notebooks."""

import base64

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from bnlesson.slides import markdown as slide_markdown
from bnlesson.slides import measure as slide_measure
from bnlesson.slides import paging as slide_paging
from bnlesson.slides import rules as slide_rules

# A 1 x 1 PNG: a figure output.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def _figure(height=400):
    """A figure output that says it is shown `height` pixels high (retina)."""
    return new_output(
        "display_data",
        data={"image/png": PNG, "text/plain": "<Figure>"},
        metadata={"image/png": {"width": 500, "height": height}},
    )


def _notebook():
    log = "".join(f"epoch {i}, loss {1 / i:.2f}\n" for i in range(1, 11))
    cells = [
        new_markdown_cell("# Lesson 99 · A title\n\nWhat it is about, in short."),
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
        new_code_cell("report()", outputs=[new_output("stream", text=log)]),
        new_code_cell("fig = plot()", outputs=[_figure()]),
        new_markdown_cell("A paragraph of prose, for the lecturer to say."),
        new_markdown_cell("The formula:\n\n$$y = 2x$$"),
        new_code_cell("import os", metadata={"slideshow": {"slide_type": "slide"}}),
        new_code_cell(
            "print_elapsed()",
            outputs=[new_output("stream", text="This lesson ran in 1.7 minutes.\n")],
        ),
        new_code_cell("x = 1", metadata={"tags": ["check"]}),
    ]
    return new_notebook(cells=cells)


def test_the_rules_give_one_slide_type_per_cell():
    nb = _notebook()
    before = nbformat.writes(nb)
    kinds = slide_rules.slide_types(nb)
    assert nbformat.writes(nb) == before, "the notebook passed in was changed"
    # title, set-up, heading, its def, other def, import, asserts, ###, log,
    # untagged output, figure (a slide of its own: the slide is not empty),
    # prose (notes), math (on the slide), a stored mark (ignored: the import
    # is skipped), a timing line, a check.
    assert kinds == [
        "slide", "skip", "slide", "-", "skip", "skip", "skip", "subslide", "-",
        "-", "subslide", "notes", "-", "skip", "skip", "skip",
    ]  # fmt: skip
    assert set(kinds) <= set(slide_rules.SLIDE_TYPES)


def test_a_stored_mark_wins_in_the_deck():
    marked = slide_paging.mark(_notebook()).cells
    stored = [c for c in marked if c.source == "import os"]
    assert [c.metadata.slideshow.slide_type for c in stored] == ["slide"]


def _deck(*cells):
    """The deck's cells (type, source) after a set-up cell, which is skipped."""
    setup = new_code_cell("import bnlesson")
    marked = slide_paging.mark(new_notebook(cells=[setup, *cells])).cells
    return [(c.metadata.slideshow.slide_type, c.source) for c in marked[1:]]


def test_the_headline_is_on_the_slide_and_the_paragraphs_in_the_notes():
    text = (
        "## Heading\n\nThe lead sentence says it. The rest explains it at "
        "length.\n\nA second paragraph.\n\n$$y = 2x$$\n\nA last word."
    )
    deck = _deck(new_markdown_cell(text), new_code_cell("f(1)"))
    assert deck == [
        ("slide", "## Heading\n\nThe lead sentence says it."),
        ("-", "$$y = 2x$$"),
        ("notes", "The rest explains it at length.\n\nA second paragraph."
                  "\n\nA last word."),
        ("-", "f(1)"),
    ]  # fmt: skip


def test_no_slide_is_a_title_alone():
    # A section of prose only: its first paragraph comes onto its slide.
    deck = _deck(
        new_markdown_cell("## Summary\n\n* one\n* two\n\n## Exercises\n\n1. x"),
        new_markdown_cell("## Next\n\nA very long " + "word " * 80 + "sentence."),
    )
    slides = [source for kind, source in deck if kind == "slide"]
    assert slides[:2] == ["## Summary\n\n* one\n* two", "## Exercises\n\n1. x"]
    assert slides[2].startswith("## Next\n\nA very long word")


def test_a_full_slide_goes_on_under_the_same_heading():
    long = "".join(f"line {i}\n" for i in range(15))
    cells = [new_markdown_cell("## Results\n\nWhat we found here.")]
    cells += [
        new_code_cell(f"show({i})", outputs=[new_output("stream", text=long)])
        for i in range(3)
    ]
    deck = _deck(*cells)
    starts = [source for kind, source in deck if kind in ("slide", "subslide")]
    assert starts == ["## Results\n\nWhat we found here.", "## Results", "## Results"]
    assert [source for _, source in deck if source.startswith("show")] == [
        "show(0)", "show(1)", "show(2)",
    ]  # fmt: skip


def test_a_widget_shows_its_static_figure_not_its_text():
    widget = new_output(
        "display_data",
        data={
            slide_measure.WIDGET_MIME: {"model_id": "abc", "version_major": 2},
            "text/plain": "interactive(children=(FloatSlider(value=1.0),))",
        },
    )
    nb = new_notebook(
        cells=[
            new_markdown_cell("## A slider\n\nMove it."),
            new_code_cell("slider()", outputs=[widget, _figure(300)]),
        ]
    )
    cell = slide_paging.mark(nb).cells[-1]
    assert [list(o.data) for o in cell.outputs] == [["image/png", "text/plain"]]


def test_a_log_tagged_for_nbval_keeps_its_last_lines():
    marked = slide_paging.mark(_notebook()).cells
    tagged = next(c for c in marked if c.source == "train()")
    untagged = next(c for c in marked if c.source == "report()")
    assert tagged.outputs[0].text.splitlines() == [
        "[... 7 lines ...]",
        "epoch 8, loss 0.12",
        "epoch 9, loss 0.11",
        "epoch 10, loss 0.10",
    ]
    assert untagged.outputs[0].text == _notebook().cells[9].outputs[0].text


def test_math_and_code_blocks_are_never_split():
    math = "$$\n" + "\n\n".join(f"x_{i}" for i in range(60)) + "\n$$"
    code = "```\n" + "\n\n".join(f"x = {i}" for i in range(60)) + "\n```"
    headline, visual, prose = slide_markdown.split_markdown(
        f"## H\n\n{math}\n\nSome prose here. And more.\n\n{code}"
    )
    assert headline == "## H\n\nSome prose here."  # the lead sentence
    assert (visual, prose) == ([math, code], ["And more."])


def test_a_hidden_check_cell_is_never_a_slide():
    # Not only assertions: a check cell may prepare what it asserts.
    check = new_code_cell(
        "gap = a - b\nprint(gap)\nassert gap > 0",
        metadata={"tags": ["check"], "jupyter": {"source_hidden": True}},
    )
    plain = new_code_cell("gap = a - b\nprint(gap)\nassert gap > 0")
    nb = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell("import x"),
                             check, plain])  # fmt: skip
    assert slide_rules.slide_types(nb)[2:] == ["skip", "-"]


def test_the_live_training_plot_takes_its_shown_height_not_its_pixels():
    # LivePlot's output (lesson 03's training curves) is a retina PNG whose
    # metadata gives the shown size; the rules must size it by that, as they
    # size the inline figures, not by its doubled pixels.
    import io
    import struct

    from bnlesson.training.live import LivePlot

    sent = []
    board = LivePlot(display=lambda data, raw, metadata, display_id: sent.append(
        new_output("display_data", data=data, metadata=metadata)))  # fmt: skip
    board.show()
    one_x = io.BytesIO()
    board.fig.savefig(one_x, format="png", bbox_inches="tight")
    one_x_height = struct.unpack(">I", one_x.getvalue()[20:24])[0]
    (shown,) = slide_measure.figure_heights(new_code_cell("train()", outputs=sent))
    assert abs(shown - one_x_height) <= 1, (shown, one_x_height)
    png = base64.b64decode(sent[0].data["image/png"])
    assert struct.unpack(">I", png[20:24])[0] >= 2 * shown
