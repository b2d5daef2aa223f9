"""The two environment descriptions agree, and unsupported Pythons are refused."""

import importlib.util
import re
import subprocess
import sys

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None

from nbutil import ROOT


def pyproject():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def conda_pip_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return env, {p for p in pip if not p.startswith("-e")}


def test_environment_yml_pins_match_pyproject():
    project = pyproject()["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    _, pins = conda_pip_pins()
    assert pins == wanted
    assert all(re.fullmatch(r"[\w.-]+==[\w.]+", p) for p in wanted), "exact pins only"


def test_environment_yml_python_is_supported_and_installs_the_package():
    env, _ = conda_pip_pins()
    python = next(d for d in env["dependencies"] if str(d).startswith("python="))
    major, minor = map(int, python.split("=")[1].split("."))
    spec = pyproject()["project"]["requires-python"]  # ">=3.8,<3.12"
    low = tuple(map(int, re.search(r">=(\d+)\.(\d+)", spec).groups()))
    high = tuple(map(int, re.search(r"<(\d+)\.(\d+)", spec).groups()))
    assert low <= (major, minor) < high
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e .[dev]" in pip


def load_checker():
    spec = importlib.util.spec_from_file_location(
        "check_python", ROOT / "tools/check_python.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("version", [(3, 8), (3, 11)])
def test_supported_pythons_pass(version):
    assert load_checker().problem(version) is None


@pytest.mark.parametrize("version", [(3, 7), (3, 12), (3, 13)])
def test_unsupported_python_gets_the_fix(version):
    message = load_checker().problem(version)
    assert f"this is Python {version[0]}.{version[1]}" in message
    assert "python3.11" in message and "environment.yml" in message


def test_checker_agrees_with_requires_python():
    spec = pyproject()["project"]["requires-python"]
    low, high = load_checker().SUPPORTED
    assert spec == f">={low[0]}.{low[1]},<{high[0]}.{high[1] + 1}"


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
