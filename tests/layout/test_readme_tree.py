"""The README's map of the package is the package: every module listed, with
its line count.

The block under "bnlesson/" in README.md lists each module as
``name.py  <lines>  <what it holds>``, indented under its folder; a folder
listed with a count of its own (``plots/  1091  ...``) stands for all its
modules, and the first line gives the package's total. A module added,
removed, moved or grown without its line in the README fails here, with
the line the README should have.
"""

from __future__ import annotations

import re
from pathlib import Path

from nbutil import ROOT

PACKAGE = ROOT / "bnlesson"
#: A folder's docstring-only ``__init__.py`` and a ``__main__.py`` that calls
#: ``main()`` need no line of their own (the total counts them).
STUBS = ("__init__.py", "__main__.py")
#: ``  name.py   123  what it holds`` or ``  folder/   123  ...`` or ``  folder/``
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.]+/?)(?:\s+(?P<lines>\d+))?")


def lines_of(path: Path) -> int:
    """Lines of a module, or of every module under a folder."""
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return sum(len(f.read_text().splitlines()) for f in files)


def readme_tree(text: str) -> tuple[int, dict[Path, int]]:
    """The package total and {path: lines} of the package map in `text`."""
    start = text.index("\nbnlesson/")
    block = text[start + 1 : text.index("\ntests/", start)].splitlines()
    total = int(ENTRY.match(block[0].replace("bnlesson/", "bnlesson", 1))["lines"])
    listed: dict[Path, int] = {}
    folders: list[tuple[int, str]] = []  # (indent, name) of the open folders
    for line in block[1:]:
        entry = ENTRY.match(line)
        indent, name = len(entry["indent"]), entry["name"]
        folders = [f for f in folders if f[0] < indent]
        path = PACKAGE.joinpath(*(f[1] for f in folders), name.rstrip("/"))
        if entry["lines"] is not None:
            listed[path] = int(entry["lines"])
        elif name.endswith("/"):
            folders.append((indent, name.rstrip("/")))
    return total, listed


def test_the_readme_lists_every_module_with_its_lines():
    total, listed = readme_tree((ROOT / "README.md").read_text())
    wrong = {
        str(p.relative_to(ROOT)): f"README {n}, file {lines_of(p)}"
        for p, n in listed.items()
        if not p.exists() or lines_of(p) != n
    }
    assert not wrong, f"README.md's package map is stale: {wrong}"
    covered = set()
    for path in listed:
        covered |= set(path.rglob("*.py")) if path.is_dir() else {path}
    missing = sorted(
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if p not in covered and "__pycache__" not in p.parts
        and not (p.name in STUBS and lines_of(p) < 10)
    )  # fmt: skip
    assert not missing, f"modules missing from README.md's package map: {missing}"
    package = lines_of(PACKAGE)
    assert total == package, f"README.md's total {total}, the package's {package}"


def test_a_stale_count_is_read_as_written():
    """The parser reads each count where it stands: one line more in the
    README is one line more for that module, so the test above would fail."""
    text = (ROOT / "README.md").read_text()
    _, listed = readme_tree(text)
    path = PACKAGE / "lesson01.py"
    stale = re.sub(r"(\n +lesson01\.py\s+)(\d+)",
                   lambda m: f"{m[1]}{int(m[2]) + 1}", text, count=1)  # fmt: skip
    assert readme_tree(stale)[1][path] == listed[path] + 1
