"""Every definition a lesson shows is in its package, as the same code.

The pair is tied by name only (no cell numbers), and compared as code: the
package copy may add docstrings, annotations, comments, formatting and
argument checks at the start of a body, nothing else (tests/support/twins.py).
Glue (a definition that reads the notebook's own variables) has no twin.
"""

from __future__ import annotations

import shutil
import textwrap

import nbformat
import pytest
from twins import twin_problems

from nbutil import NOTEBOOKS, glue, notebook, shown, shown_definitions


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_shown_definition_has_a_twin_of_the_same_code(path):
    problems = twin_problems(path)
    assert not problems, "\n\n".join(problems)


GLUE_CELLS = [
    "import math\nfrom os import path as osp\nlr, sizes = 0.5, {}",
    "def local(x, lr=1.0):\n    step = [lr * v for v in x]\n    return step",
    "def imported(x):\n    return math.sqrt(x) + len(osp.sep) + local([x])[0]",
    "def reads_lr(x):\n    return lr * x",
    "def by_default(x, n=sizes):\n    return x",
    "def calls_glue(x):\n    return reads_lr(x)",
    "class Holds:\n    def rate(self):\n        return lr",
    "def names_nothing_defined(x):\n    return undefined_name(x)",
]


def test_glue_is_what_reads_the_notebooks_own_variables(tmp_path):
    path, _ = made_up_lesson(tmp_path, "", GLUE_CELLS)
    assert glue(path) == {
        "reads_lr", "by_default", "calls_glue", "Holds", "names_nothing_defined",
    }  # fmt: skip


# --- the check on made-up lessons: what counts as drift -------------------

SHOWN = """\
def scale(x, k=2):
    total = k * x  # a comment
    return total


def about(x):
    return f"{x} of {steps}"  # reads the notebook's steps: glue


class Twice:
    def __init__(self, k):
        self.k = k
"""
#: The twins as they should be, with docs, annotations and leading checks.
GOOD = '''\
# Shown in lesson 01, "Scaling"
def scale(x: float, k: int = 2) -> float:
    """Scale `x` by `k`."""
    check_number("x", x)
    if k < 0:
        raise ValueError("k must be at least 0")
    total: float = k * x
    return total


# Shown in lesson 01, "Scaling"
class Twice:
    """Doubles."""

    def __init__(self, k: int):
        if k != 2:
            raise ValueError("k is 2")
        self.k = k
'''


def made_up_lesson(tmp_path, package_source, cells=(SHOWN,)):
    """A lesson 01 notebook with `cells` and a package whose lesson01.py is
    `package_source`; return the notebook's path and the package folder."""
    tmp_path.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Scaling")]
    nb.cells += [nbformat.v4.new_code_cell(c, execution_count=i + 1)
                 for i, c in enumerate(cells)]  # fmt: skip
    path = tmp_path / "01_made_up.ipynb"
    nbformat.write(nb, path)
    package = tmp_path / "bnlesson"
    package.mkdir()
    (package / "lesson01.py").write_text(package_source)
    return path, package


def test_docs_annotations_and_leading_checks_are_no_drift(tmp_path):
    assert twin_problems(*made_up_lesson(tmp_path, GOOD)) == []


@pytest.mark.parametrize(
    "old, new, shown_line",
    [
        ("total: float = k * x", "total: float = 3 * x", "+    total = 3 * x"),
        ("k: int = 2) -> float", "k: int = 3) -> float", "+def scale(x, k=3):"),
        ("    total: float = k * x\n    return total", "    return k * x",
         "+    return k * x"),
        ("        self.k = k", "        self.k = k\n        check_number('k', k)",
         "+        check_number('k', k)"),  # a check after the shown code
    ],
    ids=["constant", "default", "rewritten", "late check"],
)  # fmt: skip
def test_a_changed_twin_is_drift_and_the_message_shows_the_lines(
    tmp_path, old, new, shown_line
):
    assert old in GOOD
    (problem,) = twin_problems(*made_up_lesson(tmp_path, GOOD.replace(old, new)))
    assert "is not the code 01_made_up.ipynb shows" in problem
    assert shown_line in problem.splitlines()


def test_a_missing_twin_or_back_link_is_named(tmp_path):
    without_twice = GOOD[: GOOD.index("\n\n# Shown in lesson 01", 1)] + "\n"
    (problem,) = twin_problems(*made_up_lesson(tmp_path, without_twice))
    assert "shows Twice but no module of bnlesson/lesson01 defines it" in problem
    unlinked = GOOD.replace('"Scaling"\nclass', '"Sums"\nclass')
    (problem,) = twin_problems(*made_up_lesson(tmp_path / "b", unlinked))
    assert "Twice needs the comment '# Shown in lesson 01, \"<section>\"'" in problem


def test_a_subpackages_modules_are_all_searched(tmp_path):
    path, package = made_up_lesson(tmp_path, "")
    (package / "lesson01.py").unlink()
    (package / "lesson01").mkdir()
    twice_at = GOOD.index("# Shown in lesson 01", 1)
    (package / "lesson01" / "__init__.py").write_text(GOOD[:twice_at])
    (package / "lesson01" / "parts.py").write_text(GOOD[twice_at:])
    assert twin_problems(path, package) == []


def test_shown_runs_the_imports_and_every_definition_but_the_glue(tmp_path):
    cells = ["import math\nfrom fractions import Fraction\nsteps = 3", SHOWN,
             "print(scale(steps))"]  # fmt: skip
    path, _ = made_up_lesson(tmp_path, GOOD, cells)
    assert glue(path) == {"about"}
    namespace = shown(path)
    third = namespace["Fraction"](1, 3)  # the notebook's import ran
    assert namespace["scale"](third) == 2 * third
    assert namespace["Twice"](2).k == 2
    assert "math" in namespace
    assert not {"about", "steps"} & set(namespace)  # no glue, no other cell ran


# --- inserting a cell anywhere in a lesson needs no other edit ------------


@pytest.mark.parametrize("prefix", ["05", "08"])
def test_inserting_code_cells_in_a_lesson_needs_no_other_edit(tmp_path, prefix):
    copy = tmp_path / notebook(prefix).name
    shutil.copy(notebook(prefix), copy)
    nb = nbformat.read(copy, as_version=4)
    new = textwrap.dedent("""\
        import math
        print(math.pi)
    """)
    for at in (len(nb.cells), len(nb.cells) // 2, 1, 0):
        nb.cells.insert(at, nbformat.v4.new_code_cell(new))
    count = 0
    for cell in nb.cells:  # as a fresh run numbers them
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
    nbformat.write(nb, copy)
    assert shown_definitions(copy).keys() == shown_definitions(notebook(prefix)).keys()
    assert twin_problems(copy) == []
