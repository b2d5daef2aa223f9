"""A lesson's shown definitions and their package twins, compared as code.

Every ``def``/``class`` a lesson notebook shows, except its glue
(:func:`nbutil.glue`), has a twin of the same name in the lesson's package
(``bnlesson/lessonNN.py`` or any module of ``bnlesson/lessonNN/``). The twin
is the notebook's code plus what a reader of the package needs and a reader
of the lesson does not: docstrings, type annotations, comments, formatting,
and argument checks at the start of a body. Nothing ties a pair but its
name, so inserting a cell in a lesson needs no edit anywhere else.
"""

from __future__ import annotations

import ast
import copy
import difflib
import re
from pathlib import Path

from nbutil import DEFINITIONS, ROOT, glue, headings, shown_definitions

PACKAGE = ROOT / "bnlesson"
#: Calls that only check arguments: ``check_input(X, shape)``, ``_check_etas(etas)``.
CHECK_CALL = re.compile(r"_?(check|require)_\w*")
#: The comment right above a twin: where a reader finds it in the lesson.
BACK_LINK = re.compile(r'# Shown in lesson (\d\d), "([^"]+)"')


def lesson_modules(number: str, package: Path = PACKAGE) -> list[Path]:
    """Lesson `number`'s modules: ``lessonNN.py``, or all of ``lessonNN/``."""
    single = package / f"lesson{number}.py"
    return [single] if single.exists() else sorted(package.glob(f"lesson{number}/*.py"))


def package_definitions(number: str, package: Path = PACKAGE) -> dict:
    """Map each top-level ``def``/``class`` name of lesson `number`'s package
    to ``(module, node, the comment lines right above it)``."""
    found = {}
    for module in lesson_modules(number, package):
        lines = module.read_text().splitlines()
        for node in ast.parse("\n".join(lines)).body:
            if isinstance(node, DEFINITIONS):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                above = []
                for line in reversed(lines[: first - 1]):
                    if not line.startswith("#"):
                        break
                    above.append(line)
                found[node.name] = (module, node, above)
    return found


def normalised(node: ast.stmt) -> ast.stmt:
    """A copy of `node` without docstrings and type annotations.

    Comments and formatting are not in the tree at all; an annotated
    assignment ``x: int = 0`` becomes ``x = 0`` (a bare ``x: int`` goes).
    """
    node = copy.deepcopy(node)
    for part in ast.walk(node):
        if isinstance(part, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = part.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                part.body = body[1:] or [ast.Pass()]
        if isinstance(part, (ast.FunctionDef, ast.AsyncFunctionDef)):
            part.returns = None
        elif isinstance(part, ast.arg):
            part.annotation = None
    return ast.fix_missing_locations(_Unannotate().visit(node))


class _Unannotate(ast.NodeTransformer):
    def visit_AnnAssign(self, node: ast.AnnAssign):
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign([node.target], node.value), node)


def is_check(statement: ast.stmt) -> bool:
    """True for an argument check: ``check_*(...)`` or ``require_*(...)``,
    ``x = check_*(x, ...)`` (a check that returns `x` as the body uses it:
    a list of floats for any iterable of numbers), or ``if ...: raise ...``."""
    if isinstance(statement, ast.Expr):
        return is_check_call(statement.value)
    if isinstance(statement, ast.Assign):
        return (
            len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and is_check_call(statement.value)
            and any(
                isinstance(a, ast.Name) and a.id == statement.targets[0].id
                for a in statement.value.args
            )
        )
    return (
        isinstance(statement, ast.If)
        and not statement.orelse
        and all(isinstance(s, ast.Raise) for s in statement.body)
    )


def is_check_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return bool(CHECK_CALL.fullmatch(name))


def functions(node: ast.AST, prefix: str = "") -> dict[str, ast.AST]:
    """Every function in `node`, by qualified name (``BatchNorm.forward``)."""
    found = {}
    for child in getattr(node, "body", []):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = prefix + child.name
            if not isinstance(child, ast.ClassDef):
                found[name] = child
            found |= functions(child, name + ".")
    return found


def without_leading_checks(package: ast.stmt, shown: ast.stmt) -> ast.stmt:
    """`package` without the checks its functions add before the shown body.

    A function of the twin may begin with statements the notebook's does
    not have if they are all checks (:func:`is_check`); anything else stays
    and shows up as drift.
    """
    package = copy.deepcopy(package)
    theirs = functions(ast.Module([shown], []))
    for name, ours in functions(ast.Module([package], [])).items():
        extra = len(ours.body) - len(theirs[name].body) if name in theirs else 0
        if extra > 0 and all(is_check(s) for s in ours.body[:extra]):
            ours.body = ours.body[extra:]
    return package


def drift(shown: ast.stmt, package: ast.stmt) -> str:
    """The lines by which the package twin differs from the shown code, or ""."""
    shown = normalised(shown)
    package = without_leading_checks(normalised(package), shown)
    if ast.dump(shown) == ast.dump(package):
        return ""
    return "\n".join(
        difflib.unified_diff(
            ast.unparse(shown).splitlines(),
            ast.unparse(package).splitlines(),
            "notebook",
            "package",
            lineterm="",
        )
    )


def twin_problems(path: Path, package: Path = PACKAGE) -> list[str]:
    """What is wrong with the twins of the lesson notebook at `path` ([] if nothing)."""
    number = path.name[:2]
    twins = package_definitions(number, package)
    skip = glue(path)
    problems = []
    for name, node in shown_definitions(path).items():
        if name in skip:
            continue
        if name not in twins:
            problems.append(
                f"{path.name} shows {name} but no module of bnlesson/lesson{number} "
                f"defines it: copy it there (with a docstring), or make it read "
                f"the notebook's own variables if it only glues cells together"
            )
            continue
        module, twin, above = twins[name]
        where = f"{module.relative_to(package.parent)}: {name}"
        difference = drift(node, twin)
        if difference:
            problems.append(
                f"{where} is not the code {path.name} shows (beyond docstrings, "
                f"annotations, comments, formatting and leading checks):\n"
                f"{difference}"
            )
        problems += back_link_problems(path, where, above)
    return problems


def back_link_problems(path: Path, where: str, above: list[str]) -> list[str]:
    """[] if a comment in `above` names the lesson of `path` and one of its
    sections, else what is wrong."""
    links = [m for m in map(BACK_LINK.match, above) if m]
    number, sections = path.name[:2], headings(path)
    if any(m.group(1) == number and m.group(2) in sections for m in links):
        return []
    return [
        f"{where} needs the comment '# Shown in lesson {number}, \"<section>\"' "
        f"right above it, <section> one of the headings of {path.name}"
        + (f" (it has {links[0].group(0)!r})" if links else "")
    ]
