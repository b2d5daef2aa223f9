"""bnlesson.env.install: what gets installed, by Python version.

References: pyproject.toml (the pins and their markers), the commands pip is
asked to run for each situation, and real shared libraries built here.
"""

import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from bnlesson.env import compat, cudalibs, install

from nbutil import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None


def requirements(python: str) -> dict:
    """Return ``{name: specifier}`` of pyproject's dependencies on `python`."""
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {}
    for line in project["dependencies"]:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"python_version": python}):
            found[req.name] = str(req.specifier)
    return found


def test_no_deps_pins_are_the_pinned_stacks():
    on_311 = requirements("3.11")
    for spec in install.NO_DEPS:
        name, version = spec.split("==")
        assert on_311[name] == f"=={version}"


@pytest.mark.parametrize("python", ["3.12", "3.13"])
def test_newer_pythons_get_no_pin_that_cannot_install(python):
    deps = requirements(python)
    assert not {"mxnet", "d2l"} & set(deps)  # those come with --no-deps
    assert not any(s.startswith("==") for s in deps.values())
    assert {"numpy", "setuptools", "ipykernel", "matplotlib", "pandas"} <= set(deps)


def test_the_pinned_pythons_are_the_ones_pyproject_pins():
    assert install.pinned((3, 11)) and not install.pinned((3, 12))
    assert requirements("3.11")["numpy"] == "==1.23.5"
    assert requirements("3.12")["numpy"].startswith(">=")


@pytest.fixture
def pip_calls(monkeypatch):
    """Record the pip commands instead of running them."""
    calls = []
    monkeypatch.setattr(install, "_run", lambda *argv: calls.append(list(argv)))
    monkeypatch.setattr(install, "installed", lambda name: None)
    monkeypatch.setattr(cudalibs, "missing_wheels", lambda: list(cudalibs.WHEELS))
    return calls


def test_new_python_installs_mxnet_and_d2l_without_dependencies(pip_calls, monkeypatch):
    monkeypatch.setattr(install, "pinned", lambda: False)
    monkeypatch.setattr(install, "mxnet_builds", lambda: {})
    install.install_stack()
    assert pip_calls == [["install", "--no-deps", "mxnet==1.9.1", "d2l==1.0.3"]]


def test_pinned_python_installs_them_with_their_pins(pip_calls, monkeypatch):
    monkeypatch.setattr(install, "pinned", lambda: True)
    monkeypatch.setattr(install, "mxnet_builds", lambda: {})
    install.install_stack()
    assert pip_calls == [["install", "mxnet==1.9.1", "d2l==1.0.3"]]


def test_nothing_is_run_when_all_is_installed(pip_calls, monkeypatch):
    monkeypatch.setattr(install, "mxnet_builds", lambda: {"mxnet": "1.9.1"})
    monkeypatch.setattr(install, "installed", lambda name: "1.0.3")
    assert install.install_stack() == [] and pip_calls == []


def downloaded_into(calls: list) -> str:
    """Return the folder of the first (download) call, checking its form."""
    command, no_deps, dest, folder, *_ = calls[0]
    assert (command, no_deps, dest) == ("download", "--no-deps", "--dest")
    return folder


def test_gpu_replaces_every_build_then_adds_the_cuda_libraries(pip_calls, monkeypatch):
    monkeypatch.setattr(install, "mxnet_builds", lambda: {"mxnet": "1.9.1"})
    monkeypatch.setattr(install, "installed", lambda name: "1.0.3")
    install.install_stack("cu117")
    # Downloaded first; the CPU build goes only then, and the new one comes
    # from the downloaded files, not the network.
    folder = downloaded_into(pip_calls)
    local = ["--no-deps", "--no-index", "--find-links", folder]
    new = ["mxnet-cu117==1.9.1", *cudalibs.WHEELS]
    assert pip_calls == [
        ["download", "--no-deps", "--dest", folder, *new],
        ["uninstall", "-y", "mxnet"],
        ["install", *local, *new],
    ]


def test_a_build_installed_over_another_is_reinstalled_cleanly(pip_calls, monkeypatch):
    # Both builds own mxnet/: uninstalling one breaks the other, so both go.
    builds = {"mxnet": "1.9.1", "mxnet-cu117": "1.9.1"}
    monkeypatch.setattr(install, "mxnet_builds", lambda: builds)
    monkeypatch.setattr(install, "installed", lambda name: "1.0.3")
    monkeypatch.setattr(cudalibs, "missing_wheels", lambda: [])
    install.install_stack("cu117")
    folder = downloaded_into(pip_calls)
    local = ["--no-deps", "--no-index", "--find-links", folder]
    assert pip_calls == [
        ["download", "--no-deps", "--dest", folder, "mxnet-cu117==1.9.1"],
        ["uninstall", "-y", "mxnet", "mxnet-cu117"],
        ["install", *local, "mxnet-cu117==1.9.1"],
    ]


def test_back_to_the_cpu_build_is_downloaded_before_the_gpu_one_goes(
    pip_calls, monkeypatch
):
    monkeypatch.setattr(install, "mxnet_builds", lambda: {"mxnet-cu117": "1.9.1"})
    monkeypatch.setattr(install, "installed", lambda name: "1.0.3")
    install.install_stack()
    folder = downloaded_into(pip_calls)
    assert [call[0] for call in pip_calls] == ["download", "uninstall", "install"]
    assert pip_calls[0][4:] == pip_calls[2][5:] == ["mxnet==1.9.1"]
    assert pip_calls[2][1:5] == ["--no-deps", "--no-index", "--find-links", folder]


def test_a_failed_download_leaves_the_working_build_installed(monkeypatch, capsys):
    # Offline (or a build the registry lacks): pip download fails, and then
    # nothing may be uninstalled.
    calls = []

    def pip(*argv):
        calls.append(list(argv))
        if argv[0] == "download":
            raise subprocess.CalledProcessError(1, ["pip", *argv])

    monkeypatch.setattr(install, "_run", pip)
    monkeypatch.setattr(install, "mxnet_builds", lambda: {"mxnet": "1.9.1"})
    monkeypatch.setattr(install, "installed", lambda name: "1.0.3")
    monkeypatch.setattr(cudalibs, "missing_wheels", lambda: [])
    monkeypatch.setattr(install, "installed_pth", lambda: "x.pth")
    assert install.main(["--gpu", "cu117"]) == 1
    assert [call[0] for call in calls] == ["download"]
    err = capsys.readouterr().err
    assert "could not download mxnet-cu117==1.9.1" in err
    assert "nothing was changed: mxnet stays installed and working" in err


@pytest.mark.parametrize("gpu", ["cu118", "cu119", "cu120", "cuda", "cu102", "CU117"])
def test_only_cuda_builds_on_the_registry_are_offered(gpu, pip_calls, monkeypatch):
    # The registry has mxnet-cu110 to mxnet-cu117 in version 1.9.1 and no
    # mxnet-cu118; before the check, cu118 removed the CPU build and failed.
    monkeypatch.setattr(install, "mxnet_builds", lambda: {"mxnet": "1.9.1"})
    with pytest.raises(ValueError, match=f"GPU='{gpu}' is not .* use cu117 "):
        install.install_stack(gpu)
    assert pip_calls == []


@pytest.mark.parametrize("gpu", ["cu110", "cu112", "cu117"])
def test_the_cuda_builds_of_the_registry_are_accepted(gpu, pip_calls, monkeypatch):
    monkeypatch.setattr(install, "mxnet_builds", lambda: {})
    install.install_stack(gpu)
    assert pip_calls[0] == ["install", "--no-deps", f"mxnet-{gpu}==1.9.1", "d2l==1.0.3"]


def test_make_refuses_the_gpu_builds_install_refuses():
    # The Makefile checks GPU= before creating or changing the environment.
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "env", "GPU=cu118"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "GPU=cu118 is not a CUDA build of MXNet 1.9.1" in result.stderr
    assert "use GPU=cu117" in result.stderr
    listed = subprocess.run(
        ["make", "-n", "--no-print-directory", "-p", "help"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout  # fmt: skip
    line = next(x for x in listed.splitlines() if x.startswith("GPU_BUILDS :="))
    assert tuple(line.split(":=")[1].split()) == install.GPU_BUILDS


def test_install_pth_writes_the_line_atomically(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # a folder cannot be made under a file
    target = tmp_path / "site"
    monkeypatch.setattr(install, "pth_dirs", lambda: [str(blocked / "x"), str(target)])
    path = install.install_pth()
    assert Path(path) == target / compat.PTH_NAME
    assert Path(path).read_text() == compat.PTH_LINE
    assert install.installed_pth() == path
    assert [p.name for p in target.iterdir()] == [compat.PTH_NAME]


def test_install_pth_says_where_it_could_not_write(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr(install, "pth_dirs", lambda: [str(blocked / "x")])
    with pytest.raises(OSError, match="(?s)could not write.*a-file"):
        install.install_pth()
