"""Install MXNet 1.9.1 and d2l 1.0.3 into the running Python, by its version.

Up to Python 3.11 the package metadata pins the whole stack (``pyproject.toml``:
numpy 1.23.5, matplotlib 3.7.2, ...), the one that produced the committed
outputs, and ``pip install`` does everything. From Python 3.12 on, those pins
cannot install (numpy 1.23.5 has no wheels there), so ``pyproject.toml``
asks for current releases of what MXNet, d2l and the lessons use, and MXNet
and d2l themselves are installed here *without their dependencies*
(``--no-deps``), which would otherwise pull numpy back below 2 and fail.
``python -m bnlesson.env.doctor --fix`` (and ``make``) call :func:`install_stack`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import subprocess
import sys
import tempfile
from typing import Sequence

from bnlesson.env import compat, cudalibs

#: Installed with ``--no-deps`` on Python 3.12+ (pinned with their
#: dependencies by pyproject.toml before that; a test keeps the two equal).
NO_DEPS = ("mxnet==1.9.1", "d2l==1.0.3")
#: The last Python whose wheels the pinned stack has.
LAST_PINNED = (3, 11)
MXNET_DIST = re.compile(r"mxnet(-cu\d+)?$")


def pinned(version: Sequence[int] | None = None) -> bool:
    """Return True if this Python gets the exact pins (3.11 and older)."""
    return tuple((version or sys.version_info)[:2]) <= LAST_PINNED


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed(name: str) -> str | None:
    """Return the installed version of distribution `name`, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def mxnet_builds() -> dict[str, str]:
    """Return ``{distribution: version}`` of every MXNet build installed."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = _normal(dist.metadata["Name"] or "")
        if MXNET_DIST.fullmatch(name):
            found[name] = dist.version
    return found


def _run(command: str, *args: str) -> list[str]:
    """Run ``python -m pip <command> <args>`` in this interpreter; return argv."""
    argv = [sys.executable, "-m", "pip", command, "--disable-pip-version-check"]
    argv += args
    print("$ python", " ".join(argv[1:]), flush=True)
    subprocess.run(argv, check=True)
    return argv


#: The CUDA builds of MXNet 1.9.1 on the registry (checked with ``pip index
#: versions mxnet-cu11N``: cu110 to cu117, no cu118 or cu119), newest first.
#: Only CUDA 11: its libraries exist as ``nvidia-*-cu11`` wheels, CUDA 10's do
#: not. The Makefile's GPU check lists the same (a test keeps them equal).
GPU_BUILDS = tuple(f"cu11{n}" for n in range(7, -1, -1))


def _check_gpu(gpu: str) -> None:
    if gpu not in GPU_BUILDS:
        raise ValueError(
            f"GPU={gpu!r} is not a CUDA build of MXNet 1.9.1 on the package "
            f"registry; use cu117 (or {', '.join(GPU_BUILDS[1:])}): only CUDA 11 "
            "builds have their CUDA libraries as nvidia-*-cu11 wheels. Nothing "
            "was changed."
        )


def _missing(want_mxnet: str, builds: dict[str, str]) -> list[str]:
    mxnet_spec, *others = NO_DEPS
    version = mxnet_spec.split("==")[1]
    missing = [] if builds.get(want_mxnet) == version else [f"{want_mxnet}=={version}"]
    for spec in others:
        name, version = spec.split("==")
        if installed(name) != version:
            missing.append(spec)
    return missing


def install_stack(gpu: str | None = None) -> list[list[str]]:
    """Install what is missing of MXNet 1.9.1 and d2l 1.0.3; return the commands.

    With `gpu` (e.g. ``"cu117"``) MXNet's CUDA build replaces the CPU one and
    the CUDA 11 libraries of :data:`bnlesson.env.cudalibs.WHEELS` come along. The
    environment's numpy is never touched on Python 3.12+.

    A build that replaces another is downloaded first (with the CUDA
    libraries), and the installed one is uninstalled only once the download
    succeeded: offline, or for a build the registry does not have, the
    working build stays.

    Raises
    ------
    ValueError
        If `gpu` is not one of :data:`GPU_BUILDS`; nothing is run then.
    OSError
        If the download of a replacing build fails; nothing was removed then.
    subprocess.CalledProcessError
        If another pip command fails.
    """
    if gpu:
        _check_gpu(gpu)
    want_mxnet = f"mxnet-{gpu}" if gpu else "mxnet"
    builds = mxnet_builds()
    if set(builds) - {want_mxnet}:
        return _replace(want_mxnet, sorted(builds), gpu)
    run = []
    missing = _missing(want_mxnet, builds)
    if missing:
        # --no-deps on 3.12+ (their pins cannot install) and for a CUDA build
        # (its dependencies are the CPU build's, already installed).
        no_deps = ["--no-deps"] if gpu or not pinned() else []
        run.append(_run("install", *no_deps, *missing))
    wheels = cudalibs.missing_wheels() if gpu else []
    if wheels:
        run.append(_run("install", "--no-deps", *wheels))
    return run


def _replace(want_mxnet: str, builds: list[str], gpu: str | None) -> list[list[str]]:
    """Replace the MXNet `builds` by `want_mxnet`, downloading before removing."""
    # All builds share the folder mxnet/: every one must go before the wanted
    # one is installed afresh, or its files would be half overwritten. So the
    # new files are fetched first, while the old build still works.
    missing = _missing(want_mxnet, {})
    wheels = cudalibs.missing_wheels() if gpu else []
    with tempfile.TemporaryDirectory(prefix="bnlesson-install-") as folder:
        # --no-deps: every MXNet build has the same dependencies, installed
        # with the build it replaces (and d2l's are the pinned stack's).
        try:
            run = [_run("download", "--no-deps", "--dest", folder, *missing, *wheels)]
        except subprocess.CalledProcessError as err:
            raise OSError(
                f"could not download {' '.join(missing + wheels)} (pip's message "
                f"is above); nothing was changed: {', '.join(builds)} stays "
                "installed and working. Run the command again once the package "
                "registry can be reached."
            ) from err
        run.append(_run("uninstall", "-y", *builds))
        # --no-index: from the downloaded files only, never the network.
        local = ["--no-deps", "--no-index", "--find-links", folder]
        run.append(_run("install", *local, *missing, *wheels))
    return run


def pth_dirs() -> list[str]:
    """Return where the ``.pth`` file may go: site-packages, then the user's."""
    import site
    import sysconfig

    dirs = [sysconfig.get_paths()["purelib"]]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return dirs


def installed_pth() -> str | None:
    """Return the ``.pth`` file that activates the layer, if one is installed."""
    for folder in pth_dirs():
        path = os.path.join(folder, compat.PTH_NAME)
        if os.path.isfile(path):
            with open(path) as f:
                if f.read() == compat.PTH_LINE:
                    return path
    return None


def install_pth() -> str:
    """Write the ``.pth`` file into the first writable folder and return its path.

    Written to a temporary file first and renamed, so a failure never leaves a
    half-written file for every interpreter start to trip on.
    """
    errors = []
    for folder in pth_dirs():
        path = os.path.join(folder, compat.PTH_NAME)
        try:
            os.makedirs(folder, exist_ok=True)
            with open(path + ".tmp", "w") as f:
                f.write(compat.PTH_LINE)
            os.replace(path + ".tmp", path)
            return path
        except OSError as err:
            errors.append(f"  - {folder}: {err}")
    raise OSError(
        f"could not write {compat.PTH_NAME} into any site-packages folder:\n"
        + "\n".join(errors)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bnlesson.env.install",
        description="Install MXNet 1.9.1 and d2l 1.0.3 as this Python needs them, "
        "and the .pth file that activates bnlesson.env.compat (what `make` runs; "
        "`python -m bnlesson.env.doctor --fix` does it too, and checks).",
    )
    parser.add_argument("--gpu", metavar="cu117", help="MXNet's CUDA 11 build")
    args = parser.parse_args(argv)
    try:
        install_stack(args.gpu)
        if installed_pth() is None:
            print(f"wrote {install_pth()}")
    except (ValueError, OSError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
