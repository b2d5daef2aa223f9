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
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import nbformat

from bnlesson.slides import assets as slide_assets
from bnlesson.slides import page as slide_page
from bnlesson.slides import paging as slide_paging
from bnlesson.slides import rules as slide_rules

#: The lessons' folder, next to this package.
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
#: nbval's tag for a cell whose error is intended: its traceback is shown.
RAISES_TAG = "raises-exception"
#: It and nbval's other spelling of it.
RAISES_TAGS = frozenset({RAISES_TAG, "nbval-raises-exception"})


class OutError(ValueError):
    """The folder for the decks is a file or cannot be written."""


class DeckError(ValueError):
    """A notebook that cannot become a deck; the message says what to do."""


class DecksFailed(RuntimeError):
    """Some notebooks gave no deck; the decks of the others were written.

    Attributes
    ----------
    written : list of Path
        The decks written.
    failed : list of str
        One message per notebook that gave no deck, naming it and the fix.
    """

    def __init__(self, written: list[Path], failed: list[str]) -> None:
        super().__init__("\n".join(failed))
        self.written = written
        self.failed = failed


def load(notebook: Path, check_slides: bool = True) -> nbformat.NotebookNode:
    """Read `notebook` and check that it makes a deck (the file is only read).

    Raises
    ------
    DeckError
        If the file cannot be read or is not a notebook, if a cell holds a
        stored error (unless tagged ``raises-exception`` or
        ``nbval-raises-exception``), or if no cell
        would be on a slide.
    """
    restore = (
        f"Restore it (git checkout -- {notebook}) or save it again from "
        "Jupyter, or leave it out of the notebooks to build."
    )
    try:
        nb = nbformat.read(str(notebook), as_version=4)
        cells = list(nb.cells)
    except OSError as err:
        raise DeckError(
            f"{notebook} cannot be read ({err.strerror or err}): check its "
            "permissions, or leave it out of the notebooks to build."
        ) from None
    except UnicodeDecodeError:
        raise DeckError(
            f"{notebook} is not a notebook: it is not UTF-8 text. {restore}"
        ) from None
    except nbformat.reader.NotJSONError:
        raise DeckError(
            f"{notebook} is not a notebook: it is not JSON. {restore}"
        ) from None
    except Exception as err:  # nbformat's ValidationError, KeyError, ...
        why = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise DeckError(
            f"{notebook} is not a Jupyter notebook (nbformat: {why}). {restore}"
        ) from None
    for index, cell in enumerate(cells):
        if cell.cell_type != "code" or RAISES_TAGS & set(cell.metadata.get("tags", [])):
            continue
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if errors:
            raise DeckError(_stored_error(notebook, cells, index, errors[0]))
    mode = run_mode(nb)
    if mode != "full":
        raise DeckError(
            f"{notebook}: its outputs are from a {mode} run (its set-up cell "
            f"prints 'Smaller sizes for a {mode} run'), not from the full run "
            "whose numbers its text quotes. Re-execute it in full mode (make "
            "run), or restore its committed outputs (git checkout -- "
            f"{notebook}), then build again."
        )
    if not check_slides:
        return nb
    if all(
        c.metadata.slideshow.slide_type in ("skip", "notes")
        for c in slide_paging.mark(nb).cells
    ):
        raise DeckError(
            f"{notebook}: none of its cells ({len(cells)}) would be on a slide "
            "(the set-up cell, cells that only import, assert or define "
            "helpers, and cells whose Slide Type is Skip or Notes are left "
            "out). Start it with a markdown title cell ('# Title'), or set a "
            "cell's Slide Type to Slide (Jupyter Lab's property inspector)."
        )
    return nb


#: What :func:`bnlesson.core.sizes.sizes` prints when a run is smaller than
#: full (live or fast mode): "Smaller sizes for a live run: ...".
SMALLER_RUN = re.compile(r"^Smaller sizes for an? (\w+) run:", re.M)


def run_mode(nb: nbformat.NotebookNode) -> str:
    """Return the run mode that produced `nb`'s stored outputs.

    A live or fast run prints its smaller sizes, in the set-up cell, in one
    line (:data:`SMALLER_RUN`); a full run prints none. A lesson whose sizes
    do not depend on the mode (lessons 01 and 02) gives the same outputs in
    every mode, and is full.
    """
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            match = SMALLER_RUN.search(out.get("text", ""))
            if match:
                return match.group(1)
    return "full"


def _stored_error(notebook: Path, cells: list, index: int, error) -> str:
    """Say which cell holds a stored error, as time_lessons names a failed cell."""
    cell = cells[index]
    number = cell.get("execution_count") or sum(
        c.cell_type == "code" for c in cells[: index + 1]
    )
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    value = str(error.get("evalue", "")).strip().splitlines()
    why = f"{error.get('ename', 'Error')}: {value[0]}" if value else error.get("ename")
    return (
        f"{notebook}: cell In [{number}] (cell {index + 1} of the notebook), "
        f"which starts {first!r}, holds a stored error ({why}). The committed "
        "run failed there, and the deck would show the traceback: fix the "
        "cell, re-execute the notebook (make run) and commit it; if the error "
        f"is the lesson's point, tag the cell {RAISES_TAG}."
    )


def solutions_page(notebook: Path) -> str:
    """Return the HTML page of a solutions notebook, for ``decks/solutions/``.

    The worked solutions are read, not presented: one plain page with the
    committed outputs, its links pointing at the decks (``../NN.slides.html``).
    """
    nb = load(notebook, check_slides=False)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = slide_page.relink(cell.source)
    page = slide_page.page_exporter()
    body, _ = page.from_notebook_node(
        nb, resources={"metadata": {"name": notebook.stem}}
    )
    return body


def _solutions_of(notebook: Path) -> Path:
    return notebook.parent / "solutions" / f"{notebook.stem}_solutions.ipynb"


def _html(nb: nbformat.NotebookNode, name: str) -> str:
    marked = slide_paging.mark(nb)
    for cell in marked.cells:
        if cell.cell_type == "markdown":
            cell.source = slide_page.relink(cell.source)
    body, _ = slide_page.exporter().from_notebook_node(
        marked, resources={"metadata": {"name": name}}
    )
    return body


def deck(notebook: Path) -> str:
    """Return the HTML of `notebook`'s deck (the file is only read).

    Raises
    ------
    DeckError
        If the notebook cannot make a deck (see :func:`load`).
    """
    return _html(load(notebook), notebook.stem)


def _unexpected(notebook: Path, err: Exception) -> str:
    return (
        f"{notebook}: its deck could not be made ({type(err).__name__}: "
        f"{err}). Open it in Jupyter, check its cells' Slide Types and "
        "outputs, save it and build again; if it persists, report it with "
        "this message."
    )


def _check_out(out: Path) -> None:
    """Create `out` if needed and check that files can be written into it."""
    if out.exists() and not out.is_dir():
        raise OutError(
            f"--out {out} is a file, not a folder: name a folder for the decks "
            "(it is created if missing)."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".bnlesson-probe-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutError(
            f"--out {out} cannot be written ({err.strerror or err}): make it "
            "writable, or name a folder you can write (it is created if "
            "missing)."
        ) from None


def _write(target: Path, html: str) -> None:
    """Write `html` to a temporary file next to `target`, then rename it."""
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".part-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as part:
            part.write(html)
        os.chmod(tmp, 0o644)  # mkstemp's file is private; a deck is not
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def build(notebooks: Sequence[Path], out: Path) -> list[Path]:
    """Write a deck for each notebook into `out`, with reveal.js and MathJax.

    Every notebook is read and checked first; a bad one is reported, not
    built, and does not stop the others. Each deck is written to a temporary
    file of its own and renamed, so a failed build leaves no half-written
    deck and two builds of one deck do not collide.

    Returns
    -------
    list of Path
        The decks written, ``out/<notebook stem>.slides.html``.

    Raises
    ------
    OutError
        If `out` is a file or cannot be written (before anything is built).
    slide_assets.AssetError
        If reveal.js or MathJax cannot be downloaded or installed into `out`.
    DecksFailed
        After the other decks were written, if some notebooks gave none.
    """
    _check_out(out)
    good, failed = [], []
    for notebook in notebooks:
        try:
            good.append((notebook, load(notebook)))
        except DeckError as err:
            failed.append(str(err))
        except Exception as err:  # one odd notebook must not stop the others
            failed.append(_unexpected(notebook, err))
    if good:
        slide_assets.install(out)
    written = []
    for notebook, nb in good:
        target = out / f"{notebook.stem}.slides.html"
        try:
            html = _html(nb, notebook.stem)
        except Exception as err:  # nbconvert's; the other decks still build
            failed.append(_unexpected(notebook, err))
            continue
        _write(target, html)
        written.append(target)
        solutions = _solutions_of(notebook)
        if solutions.is_file():
            try:
                page = solutions_page(solutions)
            except Exception as err:  # the deck stands; its link would not
                failed.append(_unexpected(solutions, err))
                continue
            (out / "solutions").mkdir(exist_ok=True)
            _write(out / "solutions" / f"{solutions.stem}.html", page)
    if failed:
        raise DecksFailed(written, failed)
    return written


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


def main(argv: Sequence[str] | None = None) -> int:
    """Build the decks from the command line; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m bnlesson.slides")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: all")
    parser.add_argument("--out", type=Path, default=Path("decks"))
    parser.add_argument(
        "--mark",
        action="store_true",
        help="write the slide rules' Slide Type into the notebooks (for RISE) "
        "instead of building decks",
    )
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
        for path in err.written:
            print(f"wrote {path}")
        print(
            f"{len(err.failed)} of {len(notebooks)} notebook"
            + ("" if len(notebooks) == 1 else "s")
            + " gave no deck"
            + (" (the others were written):" if err.written else ":"),
            *err.failed,
            sep="\n- ",
            file=sys.stderr,
        )
        return 1
    for path in decks:
        print(f"wrote {path}")
    return 0
