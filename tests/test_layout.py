"""The package follows the lessons: one module per lesson, imports only backwards.

A reader goes from notebook NN to ``bnlesson/lessonNN.py`` (or
``lessonNN_*.py``) in one step, every definition a lesson shows has its
twin there under a comment naming the notebook and cell, and a lesson's
module builds only on earlier lessons and the infrastructure.
"""

import ast
import re
from pathlib import Path

import pytest

from nbutil import NOTEBOOKS, ROOT, defined_names

PACKAGE = ROOT / "bnlesson"
LESSON_MODULE = re.compile(r"lesson(\d\d)(?:_\w+)?\.py$")
#: Definitions a lesson shows that only glue one cell to the notebook's own
#: variables (they read its globals), so they have no package twin.
NOTEBOOK_ONLY = {
    "07": {"first_tenth"},
    "09": {"batches", "typical", "by_step_size", "first_quarter"},
}


def lesson_modules(number: str) -> list[Path]:
    return sorted(PACKAGE.glob(f"lesson{number}*.py"))


def package_imports(path: Path) -> set[str]:
    """The bnlesson modules that `path` imports (relative or absolute)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found |= {alias.name for alias in node.names}
            elif (node.module or "").startswith("bnlesson."):
                found.add(node.module.split(".")[1])
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_lesson_has_its_module(path):
    assert lesson_modules(path.name[:2]), (
        f"{path.name} has no bnlesson/lesson{path.name[:2]}.py"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_shown_definition_has_a_twin_naming_its_cell(path):
    glue = NOTEBOOK_ONLY.get(path.name[:2], set())
    shown = {k: v for k, v in defined_names(path).items() if k not in glue}
    source = "\n".join(p.read_text() for p in lesson_modules(path.name[:2]))
    pattern = rf"# {re.escape(path.name)}, In \[(\d+)\]\n(?:@.*\n)*(?:def|class) (\w+)"
    named = {name: int(cell) for cell, name in re.findall(pattern, source)}
    assert named == shown


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.glob("lesson*.py")), ids=lambda p: p.stem
)
def test_a_lesson_module_imports_only_earlier_lessons(path):
    number = int(LESSON_MODULE.search(path.name).group(1))
    for module in package_imports(path):
        match = re.fullmatch(r"lesson(\d\d)(?:_\w+)?", module)
        if not match:
            continue  # infrastructure
        earlier = int(match.group(1)) < number
        # a lesson's extra modules (lesson09_runs) may build on its main one
        own_part = module == f"lesson{number:02d}" and path.stem != module
        assert earlier or own_part, f"{path.name} imports {module}"


def test_the_test_finds_a_backward_import(tmp_path):
    module = tmp_path / "lesson03.py"
    module.write_text("from .lesson08 import FastBatchNorm\nfrom . import config\n")
    assert package_imports(module) == {"lesson08", "config"}
