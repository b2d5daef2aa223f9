"""The student edition, made by nbgrader from nbgrader_config.py as
``make student`` makes it, and graded by nbgrader as a course would.

The source lessons pass every self-check: strict nbval runs them (a
self-check that fails raises). Here, in a course folder of its own:
``generate_assignment`` blanks every written piece, clears the outputs,
keeps and locks the self-checks and drops the hidden claims checks;
``validate --invert`` finds that no self-check passes on the blank
lessons; ``autograde`` gives lesson 02 written as in the lesson full marks
and left blank zero. Only lesson 02 is autograded end to end (each run
executes the notebook; it is the shortest lesson), the others validated.
``nbgrader validate`` exits 0 even when validation fails
(jupyter/nbgrader#1908), so its output is read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nbutil import NOTEBOOKS, ROOT

pytestmark = pytest.mark.slow

ASSIGNMENT = "student"
#: The lessons with a written piece: the student edition.
EXERCISES = [p for p in NOTEBOOKS if "### BEGIN SOLUTION" in p.read_text()]
AUTOGRADED = next(p for p in EXERCISES if p.name.startswith("02_"))
BIN = Path(sys.executable).parent


def nbgrader(course: Path, *args: str) -> str:
    """Run ``nbgrader`` in this checkout (its nbgrader_config.py) on `course`."""
    env = dict(os.environ, BNLESSON_FAST="1", OMP_NUM_THREADS="1")
    env["PATH"] = (
        f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # alembic, for the gradebook
    )
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    done = subprocess.run(
        [str(BIN / "nbgrader"), *args, f"--CourseDirectory.root={course}",
         "--CourseDirectory.release_directory=release"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for path in EXERCISES:
        shutil.copy(path, source)
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    return course


def released(course: Path, path: Path) -> nbformat.NotebookNode:
    return nbformat.read(course / "release" / ASSIGNMENT / path.name, as_version=4)


def graded(nb) -> dict:
    """grade_id -> cell, of the nbgrader cells of `nb`."""
    return {
        c.metadata.nbgrader["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata
    }


def test_there_are_exercises():
    assert {p.name[:2] for p in EXERCISES} >= {"01", "02", "08"}


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name[:2])
def test_the_student_edition_blanks_the_pieces_and_keeps_the_self_checks(course, path):
    source, student = nbformat.read(path, as_version=4), released(course, path)
    kept = [c for c in source.cells if "check" not in c.metadata.get("tags", [])]
    assert [c.cell_type for c in student.cells] == [c.cell_type for c in kept]
    for old, new in zip(kept, student.cells):
        assert not new.get("outputs"), "outputs cleared"
        meta = old.metadata.get("nbgrader", {})
        if meta.get("solution"):
            assert "### BEGIN SOLUTION" not in new.source
            assert "# YOUR CODE HERE\n" in new.source
            assert "raise NotImplementedError()" in new.source
        else:
            assert new.source == old.source  # self-checks and the lesson as they are
        if meta.get("grade"):
            assert new.metadata.get("editable") is False and meta["points"] > 0
    assert graded(student).keys() == graded(source).keys()
    assert any(m.metadata.nbgrader.get("grade") for m in graded(student).values())


def test_no_self_check_passes_on_the_blank_edition(course):
    """One ``validate --invert`` for all of them: nbgrader starts once."""
    blank = [course / "release" / ASSIGNMENT / p.name for p in EXERCISES
             if p != AUTOGRADED]  # fmt: skip
    out = nbgrader(course, "validate", "--invert", *map(str, blank))
    assert out.count("Success! The notebook does not pass any tests.") == len(blank), (
        out
    )


def submit(course: Path, student: str, nb) -> None:
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / AUTOGRADED.name)


def test_autograde_gives_the_lessons_code_full_marks_and_the_blank_zero(course):
    from nbgrader.api import Gradebook

    blank = released(course, AUTOGRADED)
    solved = released(course, AUTOGRADED)
    answers = graded(nbformat.read(AUTOGRADED, as_version=4))
    for grade_id, cell in graded(solved).items():
        if cell.metadata.nbgrader.get("solution"):
            cell.source = answers[grade_id].source  # written as in the lesson
    submit(course, "solved", solved)
    submit(course, "blank", blank)
    nbgrader(course, "autograde", ASSIGNMENT)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "bnlesson") as gb:
        scores = {
            student: gb.find_submission_notebook(AUTOGRADED.stem, ASSIGNMENT, student)
            for student in ("solved", "blank")
        }
        max_score = scores["solved"].max_score
        assert max_score > 0
        assert scores["solved"].score == max_score
        assert scores["blank"].score == 0
