"""The environment descriptions agree, and unsupported Pythons are refused."""

import importlib.util
import re
import subprocess
import sys

import pytest
import yaml
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None

from nbutil import ROOT


def pyproject():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def pinned_requirements(names) -> set:
    """Return the requirements of `names` that apply on Python 3.11, as pins."""
    found = set()
    for line in names:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"python_version": "3.11"}):
            found.add(f"{req.name}{req.specifier}")
    return found


def conda_pip_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return env, {p for p in pip if not p.startswith("-e")}


def test_environment_yml_pins_match_pyproject():
    project = pyproject()["project"]
    wanted = pinned_requirements(project["dependencies"]) | pinned_requirements(
        project["optional-dependencies"]["dev"]
    )
    _, pins = conda_pip_pins()
    assert pins == wanted
    assert all(re.fullmatch(r"[\w.-]+==[\w.]+", p) for p in wanted), "exact pins only"


def test_environment_yml_python_gets_the_pins_and_installs_the_package():
    env, _ = conda_pip_pins()
    python = next(d for d in env["dependencies"] if str(d).startswith("python="))
    assert python == "python=3.11"  # the newest Python the exact pins install on
    assert pyproject()["project"]["requires-python"] == ">=3.8"
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e .[dev]" in pip


def load_checker():
    spec = importlib.util.spec_from_file_location(
        "check_python", ROOT / "tools/check_python.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("version", [(3, 8), (3, 11), (3, 12), (3, 13)])
def test_supported_pythons_pass(version):
    checker = load_checker()
    assert checker.problem(version) is None and checker.warning(version) is None


def test_too_old_python_gets_the_fix():
    message = load_checker().problem((3, 7))
    assert "this is Python 3.7" in message
    assert "make PY=3.11" in message and "environment.yml" in message


def test_untested_newer_python_is_tried_with_a_warning():
    checker = load_checker()
    assert checker.problem((3, 14)) is None
    assert "Python 3.14 is newer than any" in checker.warning((3, 14))


def test_checker_agrees_with_requires_python():
    spec = pyproject()["project"]["requires-python"]
    low, _ = load_checker().SUPPORTED
    assert spec == f">={low[0]}.{low[1]}"


def test_the_python_ranges_agree():
    # tools/check_python.py runs before bnlesson is installed, so it cannot
    # import the doctor's range: this keeps the two copies equal, and the
    # last pinned Python equal to the markers of pyproject.toml.
    from bnlesson.env import checks, install

    assert checks.TESTED == load_checker().SUPPORTED
    markers = {
        str(Requirement(line).marker)
        for line in pyproject()["project"]["dependencies"]
        if Requirement(line).marker is not None
    }
    newer = install.LAST_PINNED[0], install.LAST_PINNED[1] + 1
    assert markers == {
        f'python_version < "{newer[0]}.{newer[1]}"',
        f'python_version >= "{newer[0]}.{newer[1]}"',
    }


def test_checker_script_exit_codes():
    ok = subprocess.run([sys.executable, str(ROOT / "tools/check_python.py")])
    assert ok.returncode == 0  # the test suite itself runs on a supported Python


def test_gpu_environment_differs_only_in_the_mxnet_build():
    env = yaml.safe_load((ROOT / "environment-gpu.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    gpu_pins = {p for p in pip if not p.startswith("-e")}
    _, cpu_pins = conda_pip_pins()
    assert cpu_pins - gpu_pins == {"mxnet==1.9.1"}
    assert gpu_pins - cpu_pins == {"mxnet-cu117==1.9.1"}
    # `-e .[dev]` would pull the CPU mxnet wheel over the CUDA one.
    assert not any(p.startswith("-e") for p in pip)
