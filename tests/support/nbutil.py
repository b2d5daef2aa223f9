"""Helpers for tests that read or run the lesson notebooks and their solutions,
or run code in a Python of its own."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: Worked solutions of a lesson's exercises: ``NN_<lesson>_solutions.ipynb``.
SOLUTIONS = sorted(
    (ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*_solutions.ipynb")
)


def notebook(prefix: str) -> Path:
    """Return the lesson notebook whose name starts with `prefix` (e.g. "01")."""
    matches = [p for p in NOTEBOOKS if p.name.startswith(prefix)]
    if len(matches) != 1:
        raise LookupError(f"expected one notebook starting with {prefix!r}: {matches}")
    return matches[0]


def code_cells(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells
            if c.cell_type == "code"]  # fmt: skip


def defined_names(path: Path) -> dict[str, int]:
    """Map each top-level ``def``/``class`` of the notebook to its cell's ``In [n]``.

    Every definition a lesson shows, so a test can check that each one has a
    package twin and that the twin's comment names the right cell.
    """
    found = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # IPython magics; definitions never use them
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found[node.name] = cell.execution_count
    return found


def definitions(path: Path, names: set[str], preamble: str = "") -> dict:
    """Execute the notebook cells that define `names` and return what they define.

    Only cells whose top-level statements are all ``def``/``class``/imports
    are taken, so nothing else in the lesson runs. `preamble` supplies the
    imports the lesson made in its setup cell.
    """
    namespace: dict = {}
    exec(preamble, namespace)
    found = set()
    for source in code_cells(path):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # IPython magics; definitions never use them
        defined = {n.name for n in tree.body
                   if isinstance(n, (ast.FunctionDef, ast.ClassDef))}  # fmt: skip
        only_definitions = all(
            isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))
            for n in tree.body
        )
        if defined & names and only_definitions:
            exec(compile(tree, str(path), "exec"), namespace)
            found |= defined
    missing = names - found
    if missing:
        raise LookupError(
            f"{path.name} defines no {sorted(missing)} in a cell of its own"
        )
    return namespace


def run_cell(source: str, namespace: dict) -> str:
    """Execute one code cell's `source` in `namespace`; return what it printed.

    As a kernel runs the cells a student picks, in the order they pick, so a
    test can run a lesson's cells out of order or run one again.
    """
    import contextlib
    import io
    from unittest import mock

    out = io.StringIO()
    # setup()'s PNG switch creates IPython's shell outside a kernel, which
    # breaks every later test's plt.switch_backend (FACTS: backend2gui).
    with contextlib.redirect_stdout(out), mock.patch("bnlesson.core.notebook.use_png"):
        exec(compile(source, "<cell>", "exec"), namespace)
    return out.getvalue()


def run_apart(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python: an MXNet failure there cannot reach this one."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,  # the repository: finds bnlesson
        capture_output=True,
        text=True,
        timeout=timeout,
    )
