"""Worked solutions: one notebook per lesson, linked both ways, one answer per exercise.

A lesson ``notebooks/NN_name.ipynb`` with exercises may have its solutions in
``notebooks/solutions/NN_name_solutions.ipynb``. Adding that file is all it
takes: ``make test`` runs it under nbval, ``make run`` re-executes it,
tests/notebooks/test_notebooks.py checks it is committed executed, and this module
checks that the lesson and the solutions point at each other and that every
exercise has an answer that asserts something.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from nbutil import NOTEBOOKS, ROOT, SOLUTIONS

SOLUTIONS_DIR = ROOT / "notebooks" / "solutions"
EXERCISES = re.compile(r"^#+\s*Exercises\s*$", re.MULTILINE)
DETAILS = re.compile(r"<details>.*?</details>", re.DOTALL)
ITEM = re.compile(r"^(\d+)\.\s", re.MULTILINE)
ANSWER = re.compile(r"^##\s*Exercise (\d+)\b", re.MULTILINE)


def solutions_path(lesson: Path) -> Path:
    return SOLUTIONS_DIR / f"{lesson.stem}_solutions.ipynb"


def lesson_of(solutions: Path) -> Path:
    return ROOT / "notebooks" / (solutions.name.replace("_solutions", "", 1))


def markdown(path: Path) -> list[str]:
    cells = nbformat.read(path, as_version=4).cells
    return [c.source for c in cells if c.cell_type == "markdown"]


def exercise_cells(lesson: Path) -> list[str]:
    """The lesson's markdown from its Exercises heading to the end."""
    cells = markdown(lesson)
    start = next((i for i, s in enumerate(cells) if EXERCISES.search(s)), None)
    if start is None:
        return []
    cells = cells[start:]
    cells[0] = cells[0][EXERCISES.search(cells[0]).start() :]
    return cells


def exercise_numbers(lesson: Path) -> list[int]:
    """The numbers of the lesson's exercises (numbered items outside hints)."""
    text = DETAILS.sub("", "\n".join(exercise_cells(lesson)))
    return [int(n) for n in ITEM.findall(text)]


def sections(path: Path) -> dict[int, list]:
    """The cells of each ``## Exercise N`` section of a solutions notebook."""
    found: dict[int, list] = {}
    current = None
    for cell in nbformat.read(path, as_version=4).cells:
        heading = ANSWER.search(cell.source) if cell.cell_type == "markdown" else None
        if heading:
            current = int(heading.group(1))
            found[current] = []
        elif cell.cell_type == "markdown" and re.match(r"^##\s", cell.source):
            current = None
        elif current is not None:
            found[current].append(cell)
    return found


def asserts(source: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_solutions_belong_to_a_lesson_with_exercises(path):
    lesson = lesson_of(path)
    assert lesson in NOTEBOOKS, f"{path.name}: no lesson {lesson.name}"
    assert exercise_numbers(lesson), f"{lesson.name} has no exercises to solve"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_solutions_link_back_to_their_lesson(path):
    title = markdown(path)[0]
    assert title.startswith("# "), f"{path.name} starts without a title"
    assert f"](../{lesson_of(path).name})" in title, (
        f"{path.name}: its title cell should link to ../{lesson_of(path).name}"
    )


@pytest.mark.parametrize(
    "lesson",
    [p for p in NOTEBOOKS if solutions_path(p).exists()],
    ids=lambda p: p.name[:2],
)
def test_a_lesson_links_to_its_solutions_from_its_exercises(lesson):
    link = f"](solutions/{solutions_path(lesson).name})"
    assert any(link in cell for cell in exercise_cells(lesson)), (
        f"{lesson.name}: add [Worked solutions]{link[1:]} to its hints"
    )


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_every_exercise_has_an_answer_that_asserts(path):
    answers = sections(path)
    assert sorted(answers) == exercise_numbers(lesson_of(path)), (
        f"{path.name}: one '## Exercise N' section per exercise of the lesson"
    )
    for number, cells in answers.items():
        code = [c.source for c in cells if c.cell_type == "code"]
        assert code and any(asserts(s) for s in code), (
            f"{path.name}, exercise {number}: the answer asserts nothing"
        )


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_solutions_import_the_package_one_way(path):
    """Only ``from bnlesson.<module> import names``, as in the lessons."""
    cells = nbformat.read(path, as_version=4).cells
    for source in (c.source for c in cells if c.cell_type == "code"):
        for line in source.splitlines():
            bad = re.match(r"\s*(import bnlesson\b|from bnlesson import\b)", line)
            assert not bad, f"{path.name}: {line.strip()}"


def test_the_checks_read_a_lesson(tmp_path):
    """The exercise counter skips hints; the section reader finds asserts."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\n1. not an exercise"),
        nbformat.v4.new_markdown_cell(
            "## Exercises\n\n1. First.\n2. Second.\n\n"
            "<details><summary>Hints</summary>\n\n1. hint\n2. hint\n3. hint\n"
            "</details>"
        ),
    ]
    lesson = tmp_path / "01_x.ipynb"
    nbformat.write(nb, lesson)
    assert exercise_numbers(lesson) == [1, 2]
    sol = nbformat.v4.new_notebook()
    sol.cells = [
        nbformat.v4.new_markdown_cell("## Exercise 1 · First"),
        nbformat.v4.new_code_cell("x = 1\nassert x == 1"),
        nbformat.v4.new_markdown_cell("## Exercise 2 · Second"),
        nbformat.v4.new_code_cell("print(2)"),
        nbformat.v4.new_markdown_cell("## Summary"),
        nbformat.v4.new_code_cell("assert True"),
    ]
    path = tmp_path / "01_x_solutions.ipynb"
    nbformat.write(sol, path)
    found = sections(path)
    assert [asserts(c.source) for c in found[1]] == [True]
    assert [asserts(c.source) for c in found[2]] == [False]


def test_slides_are_made_of_lessons_only():
    """``make slides`` and ``python -m bnlesson.slides`` never deck a solution."""
    from bnlesson import slides

    assert set(slides.lessons()) == set(NOTEBOOKS)
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "slides"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    command = next(
        line for line in dry.stdout.splitlines() if "bnlesson.slides" in line
    )
    assert "solutions" not in command
    assert all(p.relative_to(ROOT).as_posix() in command for p in NOTEBOOKS)
