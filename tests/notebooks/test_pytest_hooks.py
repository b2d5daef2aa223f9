"""conftest.py's hooks: the lesson marks make lesson selects by, and the
second pass of every notebook nbval runs."""

import os
import subprocess
import sys
import textwrap

import nbformat
import pytest

from nbutil import ROOT


def _pytest(where, *args, timeout=300):
    """pytest in `where` with the repository's conftest.py as its only plugin."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest",
         "-p", "no:cacheprovider", *args],
        cwd=where, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_lesson_marks_follow_file_names_wherever_the_files_are(tmp_path):
    files = {
        "test_lesson03.py": "def test_a(): pass",
        "test_lesson03_train.py": "def test_b(): pass",
        "lessons/lesson03/test_c.py": "def test_c(): pass",
        "lessons/lesson031/test_no.py": "def test_no(): pass",
        "test_lesson05_grid.py": "def test_five(): pass",
        "training/test_grid.py": (
            "import pytest\npytestmark = pytest.mark.lesson(number=3)\n"
            "def test_marked(): pass"
        ),
        "test_named.py": (
            "import pytest\n@pytest.mark.parametrize('nb', "
            "['03_lenet.ipynb', '04_gluon.ipynb'])\ndef test_nb(nb): pass"
        ),
        "test_other.py": "def test_other(): pass",
    }
    for name, source in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(source) + "\n")
    _notebook(tmp_path / "notebooks" / "03_lenet.ipynb", "1")
    _notebook(tmp_path / "notebooks" / "solutions" / "03_lenet_solutions.ipynb", "1")
    _notebook(tmp_path / "notebooks" / "04_gluon.ipynb", "1")
    done = _pytest(tmp_path, "--collect-only", "--nbval", "-m", "lesson(number=3)")
    listed = {line for line in done.stdout.splitlines() if "::" in line}
    assert listed == {
        "test_lesson03.py::test_a",
        "test_lesson03_train.py::test_b",
        "lessons/lesson03/test_c.py::test_c",
        "training/test_grid.py::test_marked",
        "test_named.py::test_nb[03_lenet.ipynb]",
        "notebooks/03_lenet.ipynb::Cell 0",
        "notebooks/03_lenet.ipynb::runs twice in one kernel",
        "notebooks/solutions/03_lenet_solutions.ipynb::Cell 0",
        "notebooks/solutions/03_lenet_solutions.ipynb::runs twice in one kernel",
    }, done.stdout + done.stderr


@pytest.mark.slow
def test_a_notebook_that_fails_when_run_again_fails_the_second_pass(tmp_path):
    """A notebook that works once but not twice in one kernel: its cells pass
    nbval, its second pass fails naming the cell; a notebook that works twice
    passes both; under xdist too (the make targets' way)."""
    _notebook(
        tmp_path / "01_once.ipynb",
        "n = globals().get('n', 0) + 1",
        "assert n == 1, 'ran twice'",
    )
    _notebook(tmp_path / "02_twice.ipynb", "m = 1", "assert m == 1")
    done = _pytest(tmp_path, "--nbval-lax", "--nbval-current-env", "-n", "2",
                   "--dist", "loadfile", "-rf", "01_once.ipynb",
                   "02_twice.ipynb")  # fmt: skip
    report = done.stdout + done.stderr
    failed = [line.split(" - ")[0] for line in done.stdout.splitlines()
              if line.startswith("FAILED ")]  # fmt: skip
    assert failed == ["FAILED 01_once.ipynb::runs twice in one kernel"], report
    assert "1 failed, 5 passed" in done.stdout, report
    assert "second run in the same kernel, Cell 1" in done.stdout, report
    assert "ran twice" in done.stdout, report
