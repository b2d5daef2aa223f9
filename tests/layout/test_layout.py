"""The package's folders are its layers, and every import points down them.

``bnlesson/__init__.py`` describes the layers; this test is the rule: what
each layer may import (every import, also one inside a function), one
import path per name, and the student's namespace without the teacher's
and the installer's tools.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

import bnlesson

from nbutil import NOTEBOOKS, ROOT, SOLUTIONS

PACKAGE = ROOT / "bnlesson"
LESSON = re.compile(r"lesson(\d\d)")
#: What each layer may import besides itself; a lesson also imports the
#: lessons before it (see allowed()).
MAY_IMPORT = {
    "core": set(),
    "plots": set(),
    "data": {"core"},
    "training": {"core", "data"},
    "lesson": {"core", "plots", "data", "training"},
    "check": {"core", "lesson"},
    "experiments": {"core", "plots", "data", "training", "lesson"},
    "slides": {"core"},
    "env": {"core", "data"},
}
#: Packages whose public names are imported from the package itself
#: (``from bnlesson.data import Batches``); their modules are their inside.
#: Lessons 03, 05, 08 and 09 are packages whose lessons import names of their
#: modules from the package (``from bnlesson.lesson03 import train``).
FACADES = {
    "bnlesson.data", "bnlesson.plots", "bnlesson.check", "bnlesson.slides",
    "bnlesson.lesson03", "bnlesson.lesson05", "bnlesson.lesson08",
    "bnlesson.lesson09",
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(p): p
    for p in sorted(PACKAGE.rglob("*.py"))
    if p.name != "__main__.py" and "__pycache__" not in p.parts
}


def layer(module: str) -> str:
    """The layer of `module`: ``bnlesson.training.sgd`` -> ``training``.

    Every lesson is one layer, ``lesson`` (``bnlesson.lesson09.runs`` too).
    """
    top = module.split(".")[1]
    return "lesson" if LESSON.fullmatch(top) else top


def imports(path: Path, module: str) -> list[tuple[str, str]]:
    """Each ``(module, name)`` that `path` (the module `module`) imports from bnlesson.

    ``import bnlesson.x`` gives ``(bnlesson.x, "")``; relative imports are
    resolved against `module`.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.startswith("bnlesson")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = (
                    package.rsplit(".", node.level - 1)[0]
                    if node.level > 1
                    else package
                )
                base = f"{parent}.{base}".rstrip(".")
            if base.startswith("bnlesson"):
                found += [(base, a.name) for a in node.names]
    return found


def target(module: str, name: str) -> str:
    """The module an import reaches.

    ``from bnlesson.core import config`` reaches ``bnlesson.core.config``.
    """
    return f"{module}.{name}" if f"{module}.{name}" in MODULES else module


def allowed(importer: str, imported: str) -> bool:
    own, other = layer(importer), layer(imported)
    if own == other and own != "lesson":
        return True
    if own == other == "lesson":
        mine, theirs = (int(LESSON.search(m).group(1)) for m in (importer, imported))
        return theirs < mine or mine == theirs  # earlier lessons, or its own modules
    return other in MAY_IMPORT[own]


@pytest.mark.parametrize("module", [m for m in MODULES if m != "bnlesson"])
def test_every_import_points_down_the_layers(module):
    wrong = [
        target(m, n)
        for m, n in imports(MODULES[module], module)
        if not allowed(module, target(m, n))
    ]
    assert not wrong, f"{module} ({layer(module)}) imports {wrong}"


def test_the_package_itself_imports_nothing_of_its_own():
    """``import bnlesson`` stays light: submodules load on first use."""
    assert imports(PACKAGE / "__init__.py", "bnlesson") == []


def test_the_rule_catches_an_upward_import(tmp_path):
    module = tmp_path / "metrics.py"
    module.write_text("def f():\n    from bnlesson.lesson03 import lenet\n")
    found = [target(m, n) for m, n in imports(module, "bnlesson.training.metrics")]
    assert found == ["bnlesson.lesson03"]
    assert not allowed("bnlesson.training.metrics", "bnlesson.lesson03")
    assert not allowed("bnlesson.lesson03", "bnlesson.lesson05")
    assert allowed("bnlesson.lesson09.runs", "bnlesson.lesson09")
    assert not allowed("bnlesson.lesson05", "bnlesson.experiments.grid")


def defines(module: str) -> set[str]:
    """The names `module` defines at its top level (not the ones it imports)."""
    names = set()
    for node in ast.parse(MODULES[module].read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {
                n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)
            }
    return names


def everything_that_imports_bnlesson():
    """(where, module, name) for the package, the tests, the tools and the notebooks."""
    for module, path in MODULES.items():
        for m, n in imports(path, module):
            yield module, m, n
    for path in sorted((ROOT / "tests").rglob("*.py")) + sorted(
        (ROOT / "tools").glob("*.py")
    ):
        for m, n in imports(path, "tests"):
            yield str(path.relative_to(ROOT)), m, n
    for path in NOTEBOOKS + SOLUTIONS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "bnlesson" in cell.source:
                try:
                    tree = ast.parse(cell.source)
                except SyntaxError:
                    continue  # IPython magics
                for node in ast.walk(tree):
                    if isinstance(node, ast.ImportFrom) and (
                        node.module or ""
                    ).startswith("bnlesson"):
                        for alias in node.names:
                            yield path.name, node.module, alias.name


def test_every_name_has_one_import_path():
    """A name is imported from the module that defines it, or from its facade."""
    wrong = []
    for where, module, name in everything_that_imports_bnlesson():
        if not name or f"{module}.{name}" in MODULES or module not in MODULES:
            continue  # a module, not a name
        if module in FACADES and not where.startswith(module):
            continue
        if name not in defines(module):
            wrong.append(f"{where}: from {module} import {name}")
    assert not wrong, "import these from the module that defines them:\n" + "\n".join(
        wrong
    )


def test_the_data_facade_is_the_only_path_to_its_modules_from_outside():
    wrong = [
        f"{where}: from {module} import {name}"
        for where, module, name in everything_that_imports_bnlesson()
        if module.startswith("bnlesson.data.")
        and not where.startswith("bnlesson.data")
        and not where.startswith(("tests/data", "bnlesson.env"))
    ]
    assert not wrong


def test_the_students_namespace_lists_lessons_not_tools():
    listed = set(dir(bnlesson))
    lessons = {p.stem for p in PACKAGE.glob("lesson[0-9][0-9]*")}
    assert lessons <= listed
    assert {"core", "data", "training", "plots", "check"} <= listed
    assert not listed & {"experiments", "slides", "env"}
    assert bnlesson.env.compat.__name__ == "bnlesson.env.compat"  # still importable


def test_the_submodule_list_is_the_folder():
    on_disk = {
        p.stem
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert bnlesson.SUBMODULES | bnlesson.TOOLS == on_disk - {"__init__"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_lesson_has_its_module(path):
    number = path.name[:2]
    assert f"bnlesson.lesson{number}" in MODULES, (
        f"{path.name} has no bnlesson/lesson{number}.py or bnlesson/lesson{number}/"
    )


def test_no_module_is_long():
    """A module a newcomer reads in one sitting: split one that grows past this."""
    long = {
        m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long
