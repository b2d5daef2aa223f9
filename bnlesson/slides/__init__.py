"""Reveal.js slide decks of the lessons, from their committed outputs.

``python -m bnlesson.slides [--out DIR] [notebooks...]`` (or ``make
slides``) writes ``DIR/NN_name.slides.html`` for each lesson (by default
every ``notebooks/NN_*.ipynb`` into ``decks/``). Nothing is executed: a deck
shows the outputs the notebook was committed with. Which cells make the
deck is decided by :mod:`bnlesson.slides.rules` (a cell's own
``slideshow.slide_type`` metadata wins). The decks load nothing from the
network: reveal.js and MathJax are copied next to them by
:mod:`bnlesson.slides.assets`, and nbconvert's jQuery, require.js and mermaid
(all from CDNs, none needed here) are left out of the page.

A notebook that cannot give a sensible deck is refused with what to do, and
the other decks are still built: one that is not a notebook, one none of
whose cells would be on a slide, and one with a stored error (an error
output: the committed run failed there, and the deck would show the
traceback; a cell tagged ``raises-exception``, nbval's mark of an intended
error, is allowed). The exit status is then 1; it is 2 for bad arguments
(an ``--out`` that is a file or cannot be written, no notebooks to build).

The package's modules, in the order a deck is made: :mod:`.reading` reads
and refuses a notebook, :mod:`.rules` gives each cell its Slide Type (with
:mod:`.markdown` and :mod:`.measure`), :mod:`.paging` turns the cells into
the deck's slides, :mod:`.page` makes the HTML, :mod:`.assets` copies
reveal.js and MathJax, and :mod:`.decks` writes it all into a folder. This
module is the command line, and the names a script needs are importable
from it (``bnlesson.slides.build``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import nbformat

from bnlesson.slides import assets as slide_assets
from bnlesson.slides import rules as slide_rules
from bnlesson.slides.decks import DecksFailed, OutError, build, deck, solutions_page
from bnlesson.slides.reading import DeckError, load, run_mode

__all__ = [
    "DeckError", "DecksFailed", "NOTEBOOKS", "OutError", "build", "deck", "lessons",
    "load", "main", "run_mode", "solutions_page", "write_marks",
]  # fmt: skip

#: The lessons' folder, next to this package.
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def write_marks(notebook: Path) -> int:
    """Write the rules' ``slideshow.slide_type`` into each cell of `notebook`.

    Only that metadata changes (sources, outputs and other metadata stay):
    it is what jupyterlab-rise presents in Lab, the same slides as the deck.

    Returns
    -------
    int
        The number of cells whose mark changed (0: the file is not rewritten).
    """
    nb = nbformat.read(str(notebook), as_version=4)
    changed = 0
    for cell, kind in zip(nb.cells, slide_rules.slide_types(nb)):
        if slide_rules.slide_type(cell) != kind:
            cell.metadata["slideshow"] = {"slide_type": kind}
            changed += 1
    if changed:
        nbformat.write(nb, str(notebook))
    return changed


def lessons() -> list[Path]:
    """Return the committed lessons, ``notebooks/NN_*.ipynb``, in order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bnlesson.slides")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: all")
    parser.add_argument("--out", type=Path, default=Path("decks"))
    parser.add_argument(
        "--mark",
        action="store_true",
        help="write the slide rules' Slide Type into the notebooks (for RISE) "
        "instead of building decks",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Build the decks from the command line; see the module docstring."""
    parser = _parser()
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    notebooks = args.notebooks or lessons()
    if args.mark:
        for notebook in notebooks:
            print(f"{notebook}: {write_marks(notebook)} cells marked anew")
        return 0
    if not notebooks:
        parser.error(
            f"nothing to build: {NOTEBOOKS} has no lessons (NN_*.ipynb). Name "
            "the notebooks to build: python -m bnlesson.slides NOTEBOOK.ipynb ..."
        )
    try:
        decks = build(notebooks, args.out)
    except OutError as err:
        parser.error(str(err))
    except slide_assets.AssetError as err:
        print(f"No slides built. {err}", file=sys.stderr)
        return 1
    except DecksFailed as err:
        _report(err, len(notebooks))
        return 1
    for path in decks:
        print(f"wrote {path}")
    return 0


def _report(err: DecksFailed, notebooks: int) -> None:
    """Name the decks written, then each notebook that gave none and why."""
    for path in err.written:
        print(f"wrote {path}")
    print(
        f"{len(err.failed)} of {notebooks} notebook"
        + ("" if notebooks == 1 else "s")
        + " gave no deck"
        + (" (the others were written):" if err.written else ":"),
        *err.failed,
        sep="\n- ",
        file=sys.stderr,
    )
