"""The checks of ``python -m bnlesson.env.doctor``, one function each.

Each returns ``(status, what was found, how to fix it)``, status being
"ok", "warn" (the lessons can still run) or "FAIL" (they cannot).
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
import platform
import sys
from pathlib import Path

from bnlesson.env import compat, cudalibs, install

FIX = "python -m bnlesson.env.doctor --fix"
TESTED = ((3, 8), (3, 13))  # 3.8-3.11 with the pins, 3.12-3.13 current releases


def ok(found: str) -> tuple[str, str, str]:
    return "ok", found, ""


def warn(found: str, fix: str = "") -> tuple[str, str, str]:
    return "warn", found, fix


def fail(found: str, fix: str) -> tuple[str, str, str]:
    return "FAIL", found, fix


def python() -> tuple[str, str, str]:
    found = f"{platform.python_version()} ({sys.executable})"
    if sys.version_info[:2] < TESTED[0]:
        return fail(found, "use Python 3.11, 3.12 or 3.13")
    if sys.version_info[:2] > TESTED[1]:
        return warn(found + ", newer than any tested (3.8-3.13)")
    stack = "the pinned stack" if install.pinned() else "current releases"
    return ok(f"{found}, gets {stack}")


def numpy() -> tuple[str, str, str]:
    if importlib.util.find_spec("numpy") is None:
        return fail("not installed", f"pip install numpy, then {FIX}")
    import numpy

    if install.pinned() and numpy.__version__ != "1.23.5":
        pinned = "the lessons' outputs were made with the pinned 1.23.5"
        return warn(f"{numpy.__version__}; {pinned}", "pip install numpy==1.23.5")
    return ok(numpy.__version__)


def compat_layer() -> tuple[str, str, str]:
    if importlib.util.find_spec("numpy") is None:
        return fail("not checked: numpy is missing", FIX)
    import numpy

    names = compat.missing_names(numpy)
    pth = install.installed_pth()
    where = "via its .pth" if pth else "no .pth file"
    version = f"numpy {numpy.__version__}"
    if not names:
        return ok(f"not needed: {version} has every name MXNet reads ({where})")
    lacks = f"{version} lacks {len(names)} names MXNet reads"
    if compat.finder() is not None:
        shown = ", ".join(names[:4])
        return ok(f"active {where}: {lacks} ({shown}, ...), for MXNet's eyes only")
    if compat.disabled():
        off = f"switched off by ${compat.DISABLE_ENV}"
        return fail(f"{off}; {lacks}", f"unset {compat.DISABLE_ENV}")
    if pth:
        restart = "restart the interpreter or kernel (python -S skips .pth files)"
        return fail(f"installed, not loaded by this interpreter; {lacks}", restart)
    fix = f"{FIX} (installs {compat.PTH_NAME}), then restart the kernel"
    return fail(f"not installed; {lacks}", fix)


def system_libraries() -> tuple[str, str, str]:
    if sys.platform != "linux":
        return ok(f"not checked on {sys.platform}")
    missing = []
    for soname in ("libgomp.so.1", "libquadmath.so.0"):
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    if missing:
        fix = "apt-get install libgomp1 libquadmath0 (your system's GCC runtime)"
        return fail(f"missing {', '.join(missing)}", fix)
    return ok("libgomp.so.1 and libquadmath.so.0 found")


def _import_error(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except Exception as err:  # any failure is the finding, shown to the user
        return f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
    return None


def _import_fix() -> str:
    """Return the fix for an import of MXNet (or of d2l, which imports it)."""
    # With the layer switched off, MXNet cannot import on a numpy that lacks
    # its names, and --fix changes nothing: only unsetting the variable helps.
    if compat.disabled() and importlib.util.find_spec("numpy") is not None:
        import numpy

        if compat.missing_names(numpy):
            return (
                f"unset {compat.DISABLE_ENV} (it switches off the compatibility "
                f"layer MXNet needs with numpy {numpy.__version__}; --fix cannot "
                "help while it is set)"
            )
    return FIX


def mxnet() -> tuple[str, str, str]:
    builds = install.mxnet_builds()
    if not builds:
        return fail("not installed", FIX)
    found = ", ".join(f"{name} {version}" for name, version in builds.items())
    error = _import_error("mxnet")
    if error and "libcuda.so" in error:
        return fail(f"{found}; import fails: {error}", "see GPU below")
    if error:
        return fail(f"{found}; import fails: {error}", _import_fix())
    return ok(f"{found}, imports")


def d2l() -> tuple[str, str, str]:
    version = install.installed("d2l")
    if version is None:
        return fail("not installed", FIX)
    error = _import_error("d2l.mxnet")
    if error:
        return fail(f"{version}; import fails: {error}", _import_fix())
    return ok(f"{version}, `from d2l import mxnet` works")


def kernel() -> tuple[str, str, str]:
    if importlib.util.find_spec("ipykernel") is None:
        return fail("ipykernel is not installed", "pip install ipykernel")
    if "ipykernel" in sys.modules:
        return ok("running in this environment's kernel")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    register = "python -m ipykernel install --user --name bnlesson"
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return warn("no 'python3' kernel registered", register)
    runs = spec.argv[0]
    # A bare "python" is the interpreter Jupyter itself runs in: this one.
    if (
        runs in ("python", "python3")
        or Path(runs).resolve() == Path(sys.executable).resolve()
    ):
        return ok("'python3' runs this Python")
    fix = f"{register}, then pick the kernel 'bnlesson' in Jupyter"
    return warn(f"'python3' runs {runs}, not this Python", fix)


def dataset() -> tuple[str, str, str]:
    from bnlesson import data
    from bnlesson.data import files as data_module

    try:
        folder = data.find_data()
        for name in data.FILES:
            data.read_verified(data._file_in(folder, name))
    except data.DataError as err:
        lines = str(err).splitlines()
        searched = [line.strip(" -") for line in lines if line.startswith("  - ")]
        found = lines[0] + (" " + "; ".join(searched) if searched else "")
        ways = lines[lines.index("Fix it one of three ways:") + 1 :]
        download = f"{FIX} (downloads it)"
        if not data_module._writable(data.cache_dir()):  # it would fail there
            download = f"set MXNET_HOME to a folder you can write, then {download}"
        if os.environ.get(data.DATA_ENV):  # a named folder is never filled
            download = f"unset {data.DATA_ENV} and run {download}"
        return fail(found, f"{download}, or:\n" + "\n".join(ways))
    return ok(f"4 files verified by SHA-256 in {folder}")


def gpu() -> tuple[str, str, str]:
    cuda = sorted(set(install.mxnet_builds()) - {"mxnet"})
    if not cuda:
        return ok("CPU build of MXNet: the lessons run on the CPU")
    loaded = cudalibs.preload()
    if not loaded:
        fix = f"{FIX} --gpu cu117 (installs the nvidia-*-cu11 wheels)"
        return fail(f"{cuda[0]}, but no CUDA 11 libraries found", fix)
    found = f"{cuda[0]}, {len(loaded)} CUDA 11 libraries loaded"
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        fix = f"install the NVIDIA driver, or go back to the CPU build: {FIX}"
        return fail(f"{found}, but no NVIDIA driver (libcuda.so.1)", fix)
    if "mxnet" not in sys.modules:
        return warn(f"{found}; GPUs not counted: MXNet does not import")
    import mxnet as mx

    return ok(f"{found}, {mx.context.num_gpus()} GPU(s) visible to MXNet")


#: (name shown, check), in the order of the report
CHECKS = (
    ("Python", python),
    ("numpy", numpy),
    ("compat layer", compat_layer),
    ("system libs", system_libraries),
    ("MXNet", mxnet),
    ("d2l", d2l),
    ("Jupyter kernel", kernel),
    ("Fashion-MNIST", dataset),
    ("GPU", gpu),
)
