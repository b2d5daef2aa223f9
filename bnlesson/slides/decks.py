"""Writing the decks, and the pages of the worked solutions, into a folder.

Part of :mod:`bnlesson.slides`: :func:`build` reads and checks every
notebook first (:func:`bnlesson.slides.reading.load`), installs reveal.js
and MathJax next to the decks, and writes each deck (and its lesson's
solutions page, ``solutions/NN_name_solutions.html``) through a temporary
file, so that a failed build leaves no half-written deck. A bad notebook is
reported, not built, and does not stop the others.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import nbformat

from bnlesson.slides import assets as slide_assets
from bnlesson.slides import page as slide_page
from bnlesson.slides import paging as slide_paging
from bnlesson.slides.reading import DeckError, load


class OutError(ValueError):
    """The folder for the decks is a file or cannot be written."""


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


def _load_all(notebooks: Sequence[Path]) -> tuple[list, list[str]]:
    """``(notebook, nb)`` for each notebook that makes a deck, and a message
    for each that does not."""
    good, failed = [], []
    for notebook in notebooks:
        try:
            good.append((notebook, load(notebook)))
        except DeckError as err:
            failed.append(str(err))
        except Exception as err:  # one odd notebook must not stop the others
            failed.append(_unexpected(notebook, err))
    return good, failed


def _write_solutions(notebook: Path, out: Path) -> list[str]:
    """Write the page of `notebook`'s worked solutions, if it has some, into
    ``out/solutions/``; return the failure message, if any, as a list."""
    solutions = _solutions_of(notebook)
    if not solutions.is_file():
        return []
    try:
        page = solutions_page(solutions)
    except Exception as err:  # the deck stands; its link would not
        return [_unexpected(solutions, err)]
    (out / "solutions").mkdir(exist_ok=True)
    _write(out / "solutions" / f"{solutions.stem}.html", page)
    return []


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
    good, failed = _load_all(notebooks)
    if good:
        slide_assets.install(out)
    written = []
    for notebook, nb in good:
        try:
            html = _html(nb, notebook.stem)
        except Exception as err:  # nbconvert's; the other decks still build
            failed.append(_unexpected(notebook, err))
            continue
        target = out / f"{notebook.stem}.slides.html"
        _write(target, html)
        written.append(target)
        failed += _write_solutions(notebook, out)
    if failed:
        raise DecksFailed(written, failed)
    return written
