"""tools/clean_notebooks.py (run by make run) and the committed notebooks' metadata."""

import importlib.util
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from nbutil import NOTEBOOKS, ROOT, SOLUTIONS

EXECUTED = NOTEBOOKS + SOLUTIONS
#: The metadata a committed notebook may carry: the kernel and the Python
#: that produced its outputs.
NOTEBOOK_METADATA = {"kernelspec", "language_info"}
#: A cell's: nbval's tags and their reasons, the slides' choices, Jupyter's
#: own display state (a collapsed or hidden cell, a scrolled output), and
#: nbgrader's marks of a written piece and its self-check (make student).
CELL_METADATA = {
    "tags", "bnlesson", "slideshow", "jupyter", "collapsed", "scrolled",
    "editable", "deletable", "name", "nbgrader",
}  # fmt: skip
#: What nbclient writes into a cell executed by `jupyter nbconvert --execute`.
TIMESTAMPS = {
    "iopub.execute_input": "2026-12-04T11:55:33.018859Z",
    "iopub.status.busy": "2026-12-04T11:55:33.018711Z",
    "iopub.status.idle": "2026-12-04T11:55:33.022721Z",
    "shell.execute_reply": "2026-12-04T11:55:33.021723Z",
}


def _tool():
    spec = importlib.util.spec_from_file_location(
        "clean_notebooks", ROOT / "tools/clean_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", EXECUTED, ids=[p.name for p in EXECUTED])
def test_committed_notebooks_carry_no_volatile_metadata(path):
    nb = nbformat.read(path, as_version=4)
    extra = set(nb.metadata) - NOTEBOOK_METADATA
    assert not extra, f"notebook metadata {sorted(extra)}: run make run or " + (
        f"python tools/clean_notebooks.py {path.relative_to(ROOT)}"
    )
    for number, cell in enumerate(nb.cells, 1):
        extra = set(cell.metadata) - CELL_METADATA
        assert not extra, (
            f"cell {number} carries metadata {sorted(extra)} (timestamps?): "
            f"python tools/clean_notebooks.py {path.relative_to(ROOT)}"
        )


def _executed(path, **notebook_metadata):
    """A notebook as nbconvert --execute leaves it (and papermill, if asked)."""
    cell = new_code_cell(
        "print(1)", execution_count=1,
        outputs=[new_output("stream", name="stdout", text="1\n")],
        metadata={"execution": dict(TIMESTAMPS), "tags": ["nbval-ignore-output"]},
    )  # fmt: skip
    nb = new_notebook(cells=[cell, new_code_cell("x = 2", execution_count=2)])
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.update(kernelspec=kernel, **notebook_metadata)
    nb.cells[1].metadata["papermill"] = {"duration": 0.5}
    nbformat.write(nb, path)
    return path


def test_check_names_the_timestamps_and_changes_nothing(tmp_path, capsys):
    path = _executed(tmp_path / "nb.ipynb", papermill={"duration": 3.1})
    before = path.read_bytes()
    assert _tool().main(["--check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"{path}: volatile metadata (notebook: papermill, cell 1: execution, "
        f"cell 2: papermill); remove it with python tools/clean_notebooks.py "
        f"{path}\n"
    )
    assert path.read_bytes() == before


def test_cleaning_removes_only_the_volatile_metadata(tmp_path):
    path = _executed(tmp_path / "nb.ipynb", papermill={"duration": 3.1})
    before = nbformat.read(path, as_version=4)
    assert _tool().main([str(path)]) == 0
    after = nbformat.read(path, as_version=4)
    assert after.metadata == {"kernelspec": before.metadata.kernelspec}
    assert [c.metadata for c in after.cells] == [{"tags": ["nbval-ignore-output"]}, {}]
    for old, new in zip(before.cells, after.cells):
        assert (new.source, new.execution_count) == (old.source, old.execution_count)
        assert new.get("outputs") == old.get("outputs")
    assert _tool().main(["--check", str(path)]) == 0


@pytest.mark.parametrize("path", [NOTEBOOKS[0]], ids=[NOTEBOOKS[0].name])
def test_a_cleaned_notebook_is_byte_for_byte_the_committed_one(tmp_path, path):
    """Timestamps added to a committed notebook, then cleaned: the file is as
    committed (the formatting nbconvert writes is kept)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["metadata"]["execution"] = dict(TIMESTAMPS)
    copy = tmp_path / path.name
    copy.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    assert _tool().main([str(copy)]) == 0
    assert copy.read_bytes() == path.read_bytes()
    mtime = copy.stat().st_mtime_ns
    assert _tool().main([str(copy)]) == 0
    assert copy.stat().st_mtime_ns == mtime, "a clean notebook was rewritten"


def test_an_unreadable_notebook_is_named_and_the_others_are_cleaned(tmp_path, capsys):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json", encoding="utf-8")
    good = _executed(tmp_path / "good.ipynb")
    assert _tool().main([str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}: cannot be read as a notebook (")
    assert f"git checkout -- {bad}" in err
    assert _tool().volatile(nbformat.read(good, as_version=4)) == []
