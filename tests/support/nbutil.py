"""Helpers for tests that read or run the lesson notebooks and their solutions,
or run code in a Python of its own."""

from __future__ import annotations

import ast
import builtins
import re
import subprocess
import symtable
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


ANCHOR = re.compile(r'<a id="[^"]*"></a>')


def headings(path: Path) -> set[str]:
    """The section headings of the notebook's Markdown cells.

    Without the ``#`` and without an anchor (``<a id="..."></a>``) that
    links from other lessons point at.
    """
    return {
        ANCHOR.sub("", line.lstrip("#")).strip()
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("#")
    }


def code_trees(path: Path) -> list[ast.Module]:
    """The notebook's code cells, parsed, in order.

    IPython syntax (``%time``, ``!ls``) is first turned into the Python a
    kernel runs, so a definition in a cell with a magic is still found.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell
    return [ast.parse(python(source), str(path)) for source in code_cells(path)]


def _top_level(path: Path, kinds: tuple) -> list[ast.stmt]:
    return [n for tree in code_trees(path) for n in tree.body if isinstance(n, kinds)]


def imports(path: Path) -> list[ast.stmt]:
    """Every top-level ``import``/``from ... import`` of the notebook, in order."""
    return _top_level(path, (ast.Import, ast.ImportFrom))


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def shown_definitions(path: Path) -> dict[str, ast.stmt]:
    """Every top-level ``def``/``class`` the notebook shows, by name, in order."""
    return {n.name: n for n in _top_level(path, DEFINITIONS)}


def globals_read(node: ast.stmt) -> set[str]:
    """The global names a ``def``/``class`` reads, in its body or its header.

    Computed by Python's own scoping (:mod:`symtable`): a name bound inside
    the function (an argument, a local, a comprehension's variable) is not
    global; decorators, defaults and annotations are read where the
    definition runs, so they count too.
    """
    found = set()

    def walk(table, header):
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (header or symbol.is_global()):
                found.add(symbol.get_name())
        for child in table.get_children():
            walk(child, header=False)

    walk(symtable.symtable(ast.unparse(node), "<definition>", "exec"), header=True)
    return found


def glue(path: Path) -> set[str]:
    """The definitions that read the notebook's own variables.

    A definition is glue when it reads a global that is neither a builtin,
    nor imported, nor defined by a ``def``/``class`` of the notebook (or
    when it reads a glue definition). ``first_tenth()`` reads lesson 07's
    ``train_iter`` and ``lr``: it glues the lesson's runs together and means
    nothing outside it, so it has no package twin and runs nowhere but in
    the notebook.
    """
    definitions = shown_definitions(path)
    known = set(dir(builtins)) | set(definitions)
    for node in imports(path):
        known |= {(a.asname or a.name).split(".")[0] for a in node.names}
    reads = {name: globals_read(node) for name, node in definitions.items()}
    found = {name for name, read in reads.items() if read - known}
    while True:  # a definition that calls glue is glue too
        more = found | {name for name, read in reads.items() if read & found}
        if more == found:
            return found
        found = more


def shown(lesson: str | Path) -> dict:
    """The namespace of a lesson's shown definitions, built from its notebook.

    Runs the notebook's imports (all of them, in order; ``setup()`` is a
    call, not an import, so it does not run) and then every ``def``/``class``
    it shows except the glue (:func:`glue`), so a test can call the
    notebook's ``batch_norm`` beside the package's. Nothing else of the
    lesson runs. `lesson` is the notebook's prefix ("05") or its path.
    """
    path = lesson if isinstance(lesson, Path) else notebook(lesson)
    skip = glue(path)
    body = imports(path) + [
        node for name, node in shown_definitions(path).items() if name not in skip
    ]
    namespace: dict = {}
    exec(compile(ast.Module(body, type_ignores=[]), str(path), "exec"), namespace)
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
