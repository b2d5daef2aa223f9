"""Links between lessons lead somewhere: the notebook exists, and so does the section.

A fragment (``06_design_choices.ipynb#small-batches``) must name an explicit
``<a id="small-batches"></a>`` in the target's markdown: the ids JupyterLab
derives from heading text are not stable (they change with the wording, and
a heading with "·" gets an id its own fragment lookup does not find).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from nbutil import NOTEBOOKS, SOLUTIONS

LINK = re.compile(r"\]\((?!https?:)([^)\s#]+\.ipynb)(?:#([^)\s]+))?\)")
ANCHOR = re.compile(r'<a id="([^"]+)"></a>')


def _markdown(path: Path) -> str:
    cells = nbformat.read(path, as_version=4).cells
    return "\n".join(c.source for c in cells if c.cell_type == "markdown")


def broken_links(path: Path) -> list[str]:
    """Every relative notebook link in `path` whose file or anchor is missing."""
    broken = []
    for target, fragment in LINK.findall(_markdown(path)):
        file = path.parent / target
        if not file.exists():
            broken.append(f"{target}: no such notebook")
        elif fragment and fragment not in ANCHOR.findall(_markdown(file)):
            broken.append(f'{target}#{fragment}: no <a id="{fragment}"></a> there')
    return broken


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_every_link_to_another_lesson_resolves(path):
    assert broken_links(path) == []


def test_a_missing_notebook_or_anchor_is_reported(tmp_path):
    target = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell('## <a id="here"></a>1 · A section')]
    )
    nbformat.write(target, tmp_path / "02_b.ipynb")
    links = "[ok](02_b.ipynb#here), [gone](03_c.ipynb), [moved](02_b.ipynb#there)"
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(links)])
    nbformat.write(source, tmp_path / "01_a.ipynb")
    assert broken_links(tmp_path / "01_a.ipynb") == [
        "03_c.ipynb: no such notebook",
        '02_b.ipynb#there: no <a id="there"></a> there',
    ]
