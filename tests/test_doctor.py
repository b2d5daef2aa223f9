"""python -m bnlesson.doctor: one screen, a fix under each failure, exit status.

Each failure is produced for real in a fresh interpreter: the layer switched
off, an empty data folder, a kernel that runs another Python.
"""

import json
import os
import subprocess
import sys

import numpy
import pytest

from bnlesson import checks, compat, doctor

LAYER_NEEDED = bool(compat.missing_names(numpy))


def doctor_run(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bnlesson.doctor", *args],
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
    assert "fix: python -m bnlesson.doctor --fix" in result.stdout


def test_a_missing_dataset_fails_with_the_ways_to_get_it(tmp_path):
    result = doctor_run(BNLESSON_DATA=str(tmp_path))
    assert result.returncode == 1
    assert line(result.stdout, "Fashion-MNIST").split()[0] == "FAIL"
    assert str(tmp_path) in result.stdout
    assert "python -m bnlesson.doctor --fix (downloads it)" in result.stdout
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
