"""tools/live_copies.py: which folder make lab serves, and the students' copies."""

import importlib.util
import re
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from runmode import clear_run_env

from nbutil import ROOT

SCRIPT = ROOT / "tools" / "live_copies.py"


@pytest.fixture
def lessons(tmp_path):
    """A lesson and a solution in the committed notebooks' layout."""
    base = tmp_path / "notebooks"
    paths = [base / "01_a.ipynb", base / "solutions" / "01_a_solutions.ipynb"]
    for i, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(new_notebook(cells=[new_code_cell(f"x = {i}")]), path)
    return paths


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    """Run the tool in `mode` (as make lab does); the folder it prints."""
    spec = importlib.util.spec_from_file_location("live_copies", SCRIPT)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    clear_run_env(monkeypatch)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))

    def _run(mode, copies, paths):
        monkeypatch.setenv("BNLESSON_MODE", mode)
        capsys.readouterr()
        assert tool.main(["--copies", str(copies), *map(str, paths)]) == 0
        return capsys.readouterr().out.strip()

    return _run


def _bytes(paths):
    return [p.read_bytes() for p in paths]


def test_full_mode_serves_the_committed_notebooks(run, lessons, tmp_path):
    root = run("full", tmp_path / "live", lessons)
    assert root == str(lessons[0].parent)
    assert not (tmp_path / "live").exists()


@pytest.mark.parametrize("mode", ["live", "fast"])
def test_live_and_fast_serve_copies_in_the_same_layout(run, lessons, tmp_path, mode):
    before = _bytes(lessons)
    root = run(mode, tmp_path / "live", lessons)
    assert root == str(tmp_path / "live")
    copies = [tmp_path / "live" / "01_a.ipynb",
              tmp_path / "live" / "solutions" / "01_a_solutions.ipynb"]  # fmt: skip
    for lesson, copy in zip(lessons, copies, strict=True):
        assert nbformat.read(copy, 4).cells == nbformat.read(lesson, 4).cells
    assert _bytes(lessons) == before


def test_a_students_copy_is_kept_until_the_lesson_changes(run, lessons, tmp_path):
    live = tmp_path / "live"
    run("live", live, lessons)
    copy = live / "01_a.ipynb"
    nb = nbformat.read(copy, 4)
    nb.cells.append(new_code_cell("my_answer = 42"))
    nbformat.write(nb, copy)
    typed = copy.read_bytes()

    run("live", live, lessons)  # the next make lab: kept
    assert copy.read_bytes() == typed

    lesson = nbformat.read(lessons[0], 4)  # git pull brings a new version
    lesson.cells.append(new_code_cell("y = 1"))
    nbformat.write(lesson, lessons[0])
    run("live", live, lessons)
    assert nbformat.read(copy, 4).cells == lesson.cells
    (earlier,) = (live / "earlier").iterdir()
    assert earlier.name.startswith("01_a-") and earlier.read_bytes() == typed


def test_the_copies_are_trusted(run, lessons, tmp_path):
    from nbformat.sign import NotebookNotary

    run("live", tmp_path / "live", lessons)
    notary = NotebookNotary(data_dir=str(tmp_path / "jupyter"))
    assert notary.check_signature(nbformat.read(tmp_path / "live" / "01_a.ipynb", 4))


def test_git_ignores_the_copies_make_lab_makes():
    plan = subprocess.run(
        ["make", "-n", "--no-print-directory", "lab", "MODE=live"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (copies,) = re.findall(r"live_copies\.py --copies (\S+) ", plan)
    assert re.search(r'jupyter lab .*\n?.*--ServerApp\.root_dir="\$root"', plan)
    for path in (f"{copies}/03_x.ipynb", f"{copies}/solutions/03_x_solutions.ipynb"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"git does not ignore {path}"
