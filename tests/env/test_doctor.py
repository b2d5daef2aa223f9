"""python -m bnlesson.env.doctor: one screen, a fix under each failure, exit status.

Each failure is produced for real in a fresh interpreter: the layer switched
off, an empty data folder, a kernel that runs another Python.
"""

import json
import os
import subprocess
import sys

import numpy
import pytest

from bnlesson.data import files as dataset
from bnlesson.env import checks, compat, doctor

LAYER_NEEDED = bool(compat.missing_names(numpy))


def doctor_run(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bnlesson.env.doctor", *args],
        capture_output=True, text=True, cwd="/", env={**os.environ, **env},
    )  # fmt: skip


def line(output: str, name: str) -> str:
    """The report's row for check `name` (names are in columns 8-22)."""
    return next(row for row in output.splitlines() if row[8:23].strip() == name)


@pytest.mark.slow
def test_this_environment_can_run_the_lessons():
    result = doctor_run()
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("\n  ok ") >= len(checks.CHECKS) - 1
    assert "The lessons can run here." in result.stdout


@pytest.mark.slow
def test_without_the_layer_the_doctor_names_the_fix():
    result = doctor_run("--no-data", **{compat.DISABLE_ENV: "1"})
    if not LAYER_NEEDED:  # numpy 1.23.5 needs no layer
        assert result.returncode == 0, result.stdout
        assert "not needed" in line(result.stdout, "compat layer")
        return
    assert result.returncode == 1
    assert line(result.stdout, "compat layer").split()[0] == "FAIL"
    assert f"fix: unset {compat.DISABLE_ENV}" in result.stdout
    assert "AttributeError" in line(result.stdout, "MXNet")
    # --fix changes nothing while the layer is off: only unsetting helps.
    rows = result.stdout.splitlines()
    for name in ("MXNet", "d2l"):
        fix = rows[rows.index(line(result.stdout, name)) + 1].strip()
        assert fix.startswith(f"fix: unset {compat.DISABLE_ENV} (it switches off")
    assert "fix: python -m bnlesson.env.doctor --fix" not in result.stdout


def test_with_the_layer_switched_off_the_import_fix_is_to_unset_it(monkeypatch):
    # Python 3.13's situation, faked: numpy lacks names MXNet reads, the layer
    # is switched off, and so importing MXNet (and d2l) fails.
    monkeypatch.setenv(compat.DISABLE_ENV, "1")
    monkeypatch.setattr(compat, "missing_names", lambda np: ["PZERO"])
    monkeypatch.setattr(checks.install, "mxnet_builds", lambda: {"mxnet": "1.9.1"})
    monkeypatch.setattr(checks.install, "installed", lambda name: "1.0.3")
    error = "AttributeError: `np.PZERO` was removed in the NumPy 2.0 release."
    monkeypatch.setattr(checks, "_import_error", lambda module: error)
    for check in (checks.mxnet, checks.d2l):
        status, found, fix = check()
        assert status == "FAIL" and error in found
        assert fix == (
            f"unset {compat.DISABLE_ENV} (it switches off the compatibility layer "
            f"MXNet needs with numpy {numpy.__version__}; --fix cannot help while "
            "it is set)"
        )
    # Switched on again, a failing import is one --fix can repair.
    monkeypatch.setenv(compat.DISABLE_ENV, "0")
    assert checks.mxnet()[2] == checks.d2l()[2] == checks.FIX


def test_an_unwritable_cache_is_not_offered_for_the_doctors_download(
    tmp_path, monkeypatch
):
    (tmp_path / "a-file").write_bytes(b"")
    monkeypatch.delenv("BNLESSON_DATA", raising=False)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "a-file" / "home"))
    monkeypatch.setattr(dataset, "DEBIAN_DIR", tmp_path / "no-debian")
    status, _, fix = checks.dataset()
    assert status == "FAIL"
    assert fix.startswith(
        "set MXNET_HOME to a folder you can write, then python -m bnlesson.env.doctor "
        "--fix (downloads it), or:"
    )


def test_a_missing_dataset_fails_with_the_ways_to_get_it(tmp_path):
    result = doctor_run(BNLESSON_DATA=str(tmp_path))
    assert result.returncode == 1
    assert line(result.stdout, "Fashion-MNIST").split()[0] == "FAIL"
    assert str(tmp_path) in result.stdout
    assert "python -m bnlesson.env.doctor --fix (downloads it)" in result.stdout
    assert "apt-get install dataset-fashion-mnist" in result.stdout


def test_a_kernel_of_another_python_is_a_warning_with_the_fix(tmp_path):
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = ["/elsewhere/bin/python", "-m", "ipykernel_launcher", "-f", "{c}"]
    kernel = {"argv": argv, "display_name": "x", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    result = doctor_run("--no-data", JUPYTER_PATH=str(tmp_path))
    row = line(result.stdout, "Jupyter kernel")
    assert row.split()[0] == "warn" and "/elsewhere/bin/python" in row
    assert "python -m ipykernel install --user --name bnlesson" in result.stdout


def test_report_prints_each_fix_and_says_whether_lessons_can_run(capsys):
    results = [
        doctor.Check("numpy", "warn", "1.24.4", "pip install numpy==1.23.5"),
        doctor.Check("MXNet", "FAIL", "import fails", "do this\nthen that"),
        doctor.Check("d2l", "ok", "1.0.3", "never shown"),
    ]
    assert doctor.report(results) is False
    out = capsys.readouterr().out
    assert "  FAIL  MXNet" in out and "fix: do this\n             then that" in out
    assert "never shown" not in out and "1 check(s) failed (MXNet)" in out
    assert doctor.report(results[::2]) is True


def test_a_broken_check_is_reported_not_raised():
    def broken():
        raise KeyError("x")

    result = doctor.run("GPU", broken)
    assert (result.status, result.found) == (
        "FAIL",
        "the check itself failed: KeyError('x')",
    )
