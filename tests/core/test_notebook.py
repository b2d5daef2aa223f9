"""A lesson's first cell, ``bnlesson.core.notebook.setup``: the line it prints
in every mode, and its refusal of a bad mode."""

import re
from pathlib import Path

import numpy as onp
import pytest
from runmode import clear_run_env, set_mode

from bnlesson.core import notebook
from bnlesson.core.notebook import rounded

SANITIZE = Path(__file__).parents[1] / "sanitize.cfg"


@pytest.fixture(autouse=True)
def _no_mode(monkeypatch):
    """Each test starts with no run variable set, whatever the shell had."""
    clear_run_env(monkeypatch)


def setup():
    """notebook.setup() without its PNG switch: outside a kernel that creates
    IPython's global shell, after which matplotlib 3.7.2 fails to switch
    backends (backend2gui) in every later test of the session."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(notebook, "use_png", lambda: None)
        notebook.setup()


def _sanitized(text: str) -> str:
    """Apply tests/sanitize.cfg's substitutions, as nbval does."""
    rules = re.findall(r"regex: (.*)\nreplace: (.*)", SANITIZE.read_text())
    for pattern, replacement in rules:
        text = re.sub(pattern, replacement, text)
    return text


@pytest.mark.parametrize("mode, fast", [(None, None), ("live", None), (None, "1")])
def test_the_setup_line_names_the_versions_not_the_mode(
    monkeypatch, capsys, mode, fast
):
    # A student reads the versions; the sizes say when they are smaller.
    set_mode(monkeypatch, mode, fast)
    setup()
    line = capsys.readouterr().out
    assert re.fullmatch(
        r"Python 3\.\d+\.\d+, MXNet 1\.9\.1, d2l 1\.0\.3, numpy \d+\.\d+\.\d+\n",
        line,
    )
    # nbval compares a fast or live run against the committed full run: the
    # sanitizer makes the lines of any two Pythons equal.
    full = "Python 3.11.7, MXNet 1.9.1, d2l 1.0.3, numpy 1.23.5\n"
    assert _sanitized(line) == _sanitized(full)


def test_setup_in_a_bad_mode_stops_with_the_message(monkeypatch):
    set_mode(monkeypatch, "live", "1")
    with pytest.raises(ValueError, match="unset BNLESSON_FAST"):
        setup()


# --- rounded: printed numbers that read the same on every run -----------------


def test_rounded_gives_plain_decimals_without_a_negative_zero():
    from mxnet import np

    values = rounded(np.array([-1e-9, 1.23456, -2.0004, 0.5]))
    assert isinstance(values, onp.ndarray) and values.dtype == onp.float64
    assert values.tolist() == [0.0, 1.235, -2.0, 0.5]
    # -1e-9 rounds to -0.0, which prints "-0." on one run and "0." on another.
    assert not onp.signbit(values).tolist()[0]
    assert str(rounded(-1e-9)) == "0.0"


def test_rounded_takes_lists_and_other_precisions():
    assert rounded([0.12345, -0.00004], decimals=4).tolist() == [0.1234, 0.0]
    assert rounded(2.5, decimals=0) == 2.0  # NumPy rounds halves to even


@pytest.mark.slow
def test_a_lessons_figures_are_retina_in_a_real_kernel():
    """In a kernel, in a lesson's order (pyplot imported, then setup(), then
    the first figure), the PNG has twice the pixels of the size it is shown
    at: IPython's lazy activation of the inline backend must not undo it."""
    import base64
    import struct

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "from bnlesson.core.notebook import setup\n"
            "setup()"
        ),
        nbformat.v4.new_code_cell(
            "plt.figure(figsize=(3, 2))\nplt.plot([0, 1])\nplt.show()"
        ),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    (figure,) = [o for o in nb.cells[1].outputs if "image/png" in o.get("data", {})]
    png = base64.b64decode(figure["data"]["image/png"])
    width, _ = struct.unpack(">II", png[16:24])
    shown = figure["metadata"]["image/png"]["width"]
    assert abs(width - 2 * shown) <= 2, (width, shown)
