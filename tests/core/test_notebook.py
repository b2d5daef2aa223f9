"""A lesson's first cell, ``bnlesson.core.notebook.setup``: the line it prints
in every mode, and its refusal of a bad mode."""

import re
from pathlib import Path

import pytest
from runmode import clear_run_env, set_mode

from bnlesson.core import notebook

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
