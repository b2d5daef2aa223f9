"""Strip the volatile metadata of executed notebooks before they are committed.

    python tools/clean_notebooks.py [--check] [notebook ...]

Executing a notebook records things that change on every run and say
nothing about the lesson: nbclient (``jupyter nbconvert --execute``, so
``make run``) writes each code cell's timestamps into
``metadata.execution``; papermill, the ExecuteTime extension and saved
widget state add their own. They show in every diff and in Jupyter Lab, so
this tool removes them (by default from every committed lesson and
solution) and changes nothing else: sources, outputs, execution counts, tags
and the file's formatting stay as they are, and a clean notebook is not
rewritten. ``kernelspec`` and ``language_info`` stay: they name the kernel
and the Python (``language_info.version``) that produced the committed
outputs, and change only when that Python does.

Exit status: 0 when every notebook is clean (or was cleaned); 1 with
``--check`` when a notebook carries volatile metadata (each one is named,
nothing is changed), or when a notebook cannot be read (the others are
still done); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
#: A cell's volatile metadata: nbclient's timestamps, papermill's run record,
#: the ExecuteTime extension's timestamps, the trust flag of an old server.
CELL_KEYS = ("execution", "papermill", "ExecuteTime", "trusted")
#: The notebook's: papermill's run record, the widgets' saved state.
NOTEBOOK_KEYS = ("papermill", "widgets")


def committed() -> list[Path]:
    """The executed notebooks of the repository: the lessons, then the solutions."""
    notebooks = ROOT / "notebooks"
    return sorted(notebooks.glob("[0-9][0-9]_*.ipynb")) + sorted(
        (notebooks / "solutions").glob("[0-9][0-9]_*_solutions.ipynb")
    )


def volatile(nb: nbformat.NotebookNode) -> list[str]:
    """Name the volatile metadata `nb` carries, e.g. ``cell 3: execution``."""
    found = [f"notebook: {key}" for key in NOTEBOOK_KEYS if key in nb.metadata]
    for number, cell in enumerate(nb.cells, 1):
        found += [f"cell {number}: {key}" for key in CELL_KEYS if key in cell.metadata]
    return found


def clean(nb: nbformat.NotebookNode) -> None:
    """Remove the volatile metadata from `nb` in place."""
    for key in NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in CELL_KEYS:
            cell.metadata.pop(key, None)


def _one(path: Path, check: bool) -> tuple[int, str]:
    """Clean (or check) one notebook; return its exit status and a line to print."""
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except Exception as err:  # OSError, JSON or nbformat's validation errors
        why = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        return 1, (
            f"{path}: cannot be read as a notebook ({why}); restore it "
            f"(git checkout -- {path}) or name another file"
        )
    found = volatile(nb)
    if not found:
        return 0, ""
    if check:
        return 1, (
            f"{path}: volatile metadata ({', '.join(found)}); remove it with "
            f"python tools/clean_notebooks.py {path}"
        )
    clean(nb)
    text = nbformat.writes(nb)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return 0, f"{path}: removed {len(found)} volatile metadata entries"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Strip volatile metadata (execution timestamps, ...) from "
        "notebooks; by default from every committed lesson and solution."
    )
    parser.add_argument(
        "--check", action="store_true",
        help="change nothing; exit 1 naming each notebook that needs cleaning",
    )  # fmt: skip
    parser.add_argument("notebooks", nargs="*", type=Path, metavar="notebook")
    args = parser.parse_args(argv)
    paths = args.notebooks or committed()
    if not paths:
        parser.error("no notebooks given, and none found in notebooks/")
    status = 0
    for path in paths:
        code, line = _one(path, args.check)
        status = max(status, code)
        if line:
            print(line, file=sys.stderr if code else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
