"""The ``.pth`` line across a move of the compatibility layer.

An environment set up before ``bnlesson.compat`` became
``bnlesson.env.compat`` holds a ``.pth`` line naming the old module. The
install step must notice it (its content is not today's line) and replace
it, and ``make`` must re-run that step (its stamp depends on the modules
that write the line).
"""

import re
import subprocess
import sys
from pathlib import Path

from bnlesson.env import compat, install

from nbutil import ROOT

#: The line every environment set up before the move holds.
OLD_LINE = (
    "import importlib.util; importlib.util.find_spec('bnlesson') and "
    "__import__('bnlesson.compat').compat.activate()\n"
)


def test_an_old_line_is_noticed_and_replaced(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / compat.PTH_NAME).write_text(OLD_LINE)
    monkeypatch.setattr(install, "pth_dirs", lambda: [str(site)])
    assert install.installed_pth() is None  # what `python -m bnlesson.env.install` asks
    install.install_pth()
    assert (site / compat.PTH_NAME).read_text() == compat.PTH_LINE


def test_the_old_line_fails_and_todays_line_activates_the_layer():
    def run(line):
        code = (
            f"exec({line!r}); import sys; print('bnlesson.env.compat' in sys.modules)"
        )
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                              capture_output=True, text=True)  # fmt: skip

    assert "No module named 'bnlesson.compat'" in run(OLD_LINE).stderr
    today = run(compat.PTH_LINE)
    assert today.returncode == 0 and today.stdout.strip() == "True", today.stderr


def test_make_reinstalls_when_the_line_s_modules_change():
    makefile = (ROOT / "Makefile").read_text()
    rule = re.search(r"^\$\(STAMP\):(.*)$", makefile, re.M).group(1).split()
    line_written_by = {Path(compat.__file__), Path(install.__file__)}
    assert {(ROOT / p).resolve() for p in rule} >= line_written_by
