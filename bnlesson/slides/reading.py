"""Reading a lesson for its deck, and refusing one that cannot give a sensible deck.

Part of :mod:`bnlesson.slides`: :func:`load` reads a notebook (the file is
only read) and refuses, with what to do, one that is not a notebook, one
with a stored error (a cell tagged ``raises-exception``, nbval's mark of an
intended error, is allowed), one whose outputs are not from the full run
(:func:`run_mode`), and one none of whose cells would be on a slide.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from bnlesson.slides import paging as slide_paging

#: nbval's tag for a cell whose error is intended: its traceback is shown.
RAISES_TAG = "raises-exception"
#: It and nbval's other spelling of it.
RAISES_TAGS = frozenset({RAISES_TAG, "nbval-raises-exception"})


class DeckError(ValueError):
    """A notebook that cannot become a deck; the message says what to do."""


def load(notebook: Path, check_slides: bool = True) -> nbformat.NotebookNode:
    """Read `notebook` and check that it makes a deck (the file is only read).

    Raises
    ------
    DeckError
        If the file cannot be read or is not a notebook, if a cell holds a
        stored error (unless tagged ``raises-exception`` or
        ``nbval-raises-exception``), if its outputs are not from the full
        run, or (with `check_slides`) if no cell would be on a slide.
    """
    nb = _read(notebook)
    cells = list(nb.cells)
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
    if check_slides and all(
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


def _read(notebook: Path) -> nbformat.NotebookNode:
    """Read `notebook`, or say why it is not one and what to do."""
    restore = (
        f"Restore it (git checkout -- {notebook}) or save it again from "
        "Jupyter, or leave it out of the notebooks to build."
    )
    try:
        nb = nbformat.read(str(notebook), as_version=4)
        list(nb.cells)  # a notebook without cells fails here, as before
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
