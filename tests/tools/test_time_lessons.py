"""tools/time_lessons.py (make time-lessons) on tiny generated notebooks."""

import os
import re
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nbutil import ROOT

SCRIPT = ROOT / "tools" / "time_lessons.py"


def _notebook(folder, name, *sources):
    """Write a notebook of code cells (a source starting '#md' is markdown)."""
    folder.mkdir(exist_ok=True)
    cells = [new_markdown_cell(s[3:]) if s.startswith("#md") else new_code_cell(s)
             for s in sources]  # fmt: skip
    path = folder / f"{name}.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    return path


def _run(*args, env_fast=None):
    env = dict(os.environ)
    env.pop("BNLESSON_MODE", None)
    env.pop("BNLESSON_FAST", None)
    if env_fast is not None:
        env["BNLESSON_FAST"] = env_fast
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def _outputs(path):
    nb = nbformat.read(path, as_version=4)
    return ["".join(o.get("text", "") for o in c.outputs)
            for c in nb.cells if c.cell_type == "code"]  # fmt: skip


@pytest.mark.slow
def test_runs_a_copy_in_the_chosen_mode_and_times_it(tmp_path):
    nb = _notebook(
        tmp_path / "nbs", "01_tiny",
        "import os\nfrom bnlesson.core.config import mode\n"
        "print(mode(), os.environ.get('BNLESSON_FAST'), os.getcwd())",
    )  # fmt: skip
    before = nb.read_bytes()
    # A BNLESSON_FAST=1 left in the shell does not fight the explicit mode.
    done = _run("--mode", "live", "--output-dir", tmp_path / "out", nb, env_fast="1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Executing 1 lesson in live mode, budget 60 s each"
    assert re.fullmatch(r"01_tiny +\d+\.\d s  within the 60 s budget", lines[1])
    assert re.fullmatch(r"1 lesson ran in live mode in \d+ s, each within 60 s",
                        lines[2])  # fmt: skip
    assert nb.read_bytes() == before  # the notebook itself is untouched
    # The kernel ran in live mode, in the notebook's own folder.
    assert _outputs(tmp_path / "out" / nb.name) == [f"live None {nb.parent}\n"]


@pytest.mark.slow
def test_a_failing_cell_is_named_and_the_others_still_run(tmp_path):
    nbs = tmp_path / "nbs"
    good = _notebook(nbs, "01_good", "print('fine')")
    bad = _notebook(
        nbs, "02_bad", "x = 1", "#md ## a heading",
        "\n# the second code cell\ny = x + 1\nraise ValueError('no such size')",
        "print('never reached')",
    )  # fmt: skip
    done = _run("--mode", "fast", "--output-dir", tmp_path / "out", good, bad)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == "Executing 2 lessons in fast mode"  # no budget in fast mode
    assert re.fullmatch(r"01_good +\d+\.\d s", lines[1])
    assert re.fullmatch(
        r"02_bad +\d+\.\d s  FAILED in cell In \[2\] \(cell 3 of the notebook\), "
        r"which starts '# the second code cell': ValueError: no such size",
        lines[2],
    )  # fmt: skip
    assert done.stderr.strip().endswith(
        "1 of 2 lessons failed in fast mode: 02_bad. To see the whole "
        "traceback, open the lesson in Jupyter (make lab MODE=fast) and run "
        "all cells."
    )
    assert _outputs(tmp_path / "out" / bad.name)[-1] == ""  # stopped there


@pytest.mark.slow
def test_a_lesson_over_its_budget_is_reported(tmp_path):
    nb = _notebook(tmp_path / "nbs", "03_slow", "import time\ntime.sleep(1.5)")
    done = _run("--mode", "full", "--budget", "1", nb)
    assert done.returncode == 3
    assert re.search(r"03_slow +\d+\.\d s  OVER the 1 s budget", done.stdout)
    assert done.stderr.strip().endswith(
        "1 of 1 lesson took longer than 1 s in full mode: 03_slow. Re-time "
        "them on a quieter machine."
    )


def test_bad_arguments_stop_before_any_kernel_starts(tmp_path):
    nb = _notebook(tmp_path, "01_x", "1")
    cases = {
        ("--mode", "quick", nb): "invalid choice: 'quick'",
        (tmp_path / "missing.ipynb",): "no such notebook: ",
        ("--output-dir", tmp_path, nb): "would overwrite them",
        ("--output-dir", nb, nb): (
            f"error: --output-dir {nb} is a file, not a folder: name a folder "
            "for the executed copies (it is created if missing)\n"
        ),
        ("--output-dir", nb / "out", nb): (
            f"error: --output-dir {nb / 'out'} cannot be written (Not a "
            "directory): make it writable, or name a folder you can write\n"
        ),
        # NaN was "OVER" on every row, "each within nan s", and exit 0.
        ("--budget", "nan", nb): (
            "error: --budget must be a number of seconds of at least 0 (0 for "
            "no budget), not nan\n"
        ),
        ("--budget", "-1", nb): "of at least 0 (0 for no budget), not -1\n",
        # nbclient takes 0 or less as no limit at all, and whole seconds only.
        ("--timeout", "0", nb): (
            "error: --timeout must be a whole number of seconds above 0 (leave "
            "it out for no limit), not 0\n"
        ),
        ("--timeout", "2.5", nb): "argument --timeout: invalid int value: '2.5'",
        ("--timeout", "nan", nb): "argument --timeout: invalid int value: 'nan'",
    }
    for args, message in cases.items():
        done = _run(*args)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert done.stdout == ""


def _unreadable(folder):
    folder.mkdir(exist_ok=True)
    (folder / "02_text.ipynb").write_text("not a notebook\n")
    (folder / "03_empty.ipynb").write_text("{}")
    return folder / "02_text.ipynb", folder / "03_empty.ipynb"


def _not_run_lines(text, empty):
    return [
        f"02_text - NOT RUN: {text} cannot be read (it is not JSON): "
        f"restore it (git checkout -- {text}) or save it again from Jupyter",
        f"03_empty - NOT RUN: {empty} cannot be read (nbformat: Notebook "
        "could not be converted from version 1 to version 2 because it's "
        f"missing a key: cells): restore it (git checkout -- {empty}) or save "
        "it again from Jupyter",
    ]


def test_unreadable_notebooks_are_named_with_what_to_do(tmp_path):
    text, empty = _unreadable(tmp_path / "nbs")
    done = _run("--mode", "fast", text, empty)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Executing 2 lessons in fast mode"
    # One row per notebook, in the table's columns (spacing aside).
    assert [" ".join(line.split()) for line in lines[1:]] == _not_run_lines(text, empty)
    assert done.stderr == (
        "2 of 2 lessons could not be read and did not run: 02_text, 03_empty "
        "(see NOT RUN above for what to do).\n"
    )


@pytest.mark.slow
def test_an_unreadable_notebook_does_not_stop_the_others(tmp_path):
    nbs = tmp_path / "nbs"
    good = _notebook(nbs, "01_good", "print('fine')")
    text, empty = _unreadable(nbs)
    last = _notebook(nbs, "04_last", "print('also fine')")
    done = _run("--mode", "fast", "--output-dir", tmp_path / "out",
                good, text, empty, last)  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"01_good +\d+\.\d s", lines[1])
    assert lines[2].split()[:3] == ["02_text", "-", "NOT"]
    assert lines[3].split()[:3] == ["03_empty", "-", "NOT"]
    assert re.fullmatch(r"04_last +\d+\.\d s", lines[4])
    assert _outputs(tmp_path / "out" / last.name) == ["also fine\n"]
    assert "2 of 4 lessons could not be read and did not run" in done.stderr
