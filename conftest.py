"""pytest hooks for every test run here, the notebooks' included.

Two things, both keyed by file names so that they survive tests moving into
folders:

* ``lesson(number=N)``: a marker on every test of lesson N, so that
  ``make lesson N=03`` (``-m "lesson(number=3)"``) picks the lesson's
  notebook, its solutions and its tests. See ``lesson_of``.
* Long files first (``longest_first``), for pytest-xdist's ``--dist
  loadfile``.
* A second pass of every notebook nbval runs: after the last cell of a
  notebook, the item ``runs twice in one kernel`` executes all its code cells
  again in nbval's kernel, as a student does who re-runs everything without a
  restart. (Each notebook once more, not twice more as a test of its own
  would: the first pass is nbval's.)
"""

from __future__ import annotations

import re
from pathlib import Path
from queue import Empty

import pytest

#: A test file or folder of lesson N: ``lesson03`` anywhere in its path under
#: tests/ (``test_lesson03_train.py``, ``lessons/lesson03/test_x.py``, ...).
LESSON_PATH = re.compile(r"lesson(\d\d)(?!\d)")
#: A notebook of lesson N, ``NN_<name>.ipynb``, as a file or named in a
#: parametrized test's id (``test_x[03_lenet_with_and_without_bn.ipynb]``).
LESSON_NOTEBOOK = re.compile(r"(?:^|[/\[-])(\d\d)_\w+\.ipynb")
RERUN = "runs twice in one kernel"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "lesson(number): a test of lesson NUMBER, set from its file's path or "
        "the notebook it names (conftest.py); make lesson N=03 selects them",
    )


def lesson_of(item) -> int | None:
    """The lesson an item tests: its own ``lesson`` marker if it has one (e.g.
    ``pytestmark = pytest.mark.lesson(number=5)`` in a file whose name does
    not say it), else ``lessonNN`` in its file's path, else the ``NN_*.ipynb``
    notebook it runs or names in its id; None for the others."""
    marker = item.get_closest_marker("lesson")
    if marker is not None:
        return int(marker.kwargs["number"])
    path = Path(str(item.path))
    found = LESSON_PATH.search(path.as_posix())
    if found is None:
        found = LESSON_NOTEBOOK.search(path.name) or LESSON_NOTEBOOK.search(item.name)
    return int(found.group(1)) if found else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        number = lesson_of(item)
        if number is not None and item.get_closest_marker("lesson") is None:
            item.add_marker(pytest.mark.lesson(number=number))
    longest_first(items)


def longest_first(items) -> None:
    """Order the files so that the long ones start first (in place, stable).

    With ``--dist loadfile`` pytest-xdist hands out whole files in collection
    order (``make test`` turns off its own reordering, by number of tests,
    which would start a Lab or browser test of one or two tests last and
    leave the other worker idle while it runs). First the files with a slow
    test (a browser, Lab, nbgrader, a cluster of processes), then the
    notebooks, then the rest: the short unit tests fill the workers at the end.
    """
    rank: dict[str, int] = {}
    for item in items:
        path = str(item.path)
        slow = item.get_closest_marker("slow") is not None
        kind = 0 if slow else 1 if path.endswith(".ipynb") else 2
        rank[path] = min(rank.get(path, kind), kind)
    items.sort(key=lambda item: rank[str(item.path)])


# --- the second pass of each notebook ----------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    try:
        from nbval.plugin import IPyNbFile
    except ImportError:
        return report
    if isinstance(collector, IPyNbFile) and report.passed and report.result:
        cells = len(report.result)
        report.result.append(RunAgain.from_parent(collector, name=RERUN, cells=cells))
    return report


class RunAgain(pytest.Item):
    """Every code cell of the notebook once more, in the kernel nbval ran it in.

    A student re-runs all cells: re-creating nets, data and figures must work
    (and a cell tagged ``raises-exception`` may raise, as in nbval). Only
    errors fail it; the outputs were compared on the first pass.
    """

    def __init__(self, *, cells: int, **kwargs):
        super().__init__(**kwargs)
        self.cells = cells

    def runtest(self):
        notebook = self.parent
        ran = getattr(notebook, "bnlesson_cells_run", 0)
        if ran < self.cells:
            pytest.skip(
                f"nbval ran {ran} of the {self.cells} code cells (some were "
                "deselected): no first pass to repeat"
            )
        kernel = notebook.kernel
        if kernel is None or not kernel.is_alive():
            raise AssertionError("nbval's kernel is gone: no second pass")
        timeout = self.config.option.nbval_cell_timeout
        code = [c for c in notebook.nb.cells if c.cell_type == "code"]
        for number, cell in enumerate(code):
            tags = set(cell.metadata.get("tags", []))
            if "nbval-skip" in tags:
                continue  # skipped by nbval on the first pass too
            msg_id = kernel.execute_cell_input(cell.source, allow_stdin=False)
            try:
                reply = self._reply(kernel, msg_id, timeout)
                kernel.await_idle(msg_id, timeout)
            except Empty:
                raise AssertionError(
                    f"second run, Cell {number}: no answer in {timeout} s"
                ) from None
            may_raise = tags & {"raises-exception", "nbval-raises-exception"}
            if reply["status"] == "error" and not may_raise:
                raise AssertionError(
                    f"second run in the same kernel, Cell {number} "
                    f"({cell.source[:60]!r}) raised {reply['ename']}: "
                    f"{reply['evalue']}\n" + "\n".join(reply.get("traceback", []))
                )

    @staticmethod
    def _reply(kernel, msg_id, timeout):
        while True:
            msg = kernel.get_message(stream="shell", timeout=timeout)
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]

    def reportinfo(self):
        return self.path, None, f"{self.parent.name}::{RERUN}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        return (yield)
    finally:
        # Counted whatever the outcome: the cell ran in the kernel.
        if type(item).__name__ == "IPyNbCell":
            item.parent.bnlesson_cells_run = (
                getattr(item.parent, "bnlesson_cells_run", 0) + 1
            )
