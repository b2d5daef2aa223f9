"""The CUDA 11 libraries of MXNet's CUDA build, from the registry's wheels.

``mxnet-cu117==1.9.1`` links against the CUDA 11.x runtime, cuBLAS, cuFFT,
cuRAND, cuSOLVER, cuSPARSE, NVRTC, cuDNN 8 and NCCL 2, which today's systems
(CUDA 12, cuDNN 9) no longer have. The ``nvidia-*-cu11`` wheels in
:data:`WHEELS` put them under ``site-packages/nvidia/<part>/lib``, where the
dynamic loader does not look. :func:`preload` loads them first, by full path
and globally, so that when ``libmxnet.so`` asks for ``libcudnn.so.8`` the
loader finds it already loaded, with no ``LD_LIBRARY_PATH``. The
compatibility layer (:mod:`bnlesson.env.compat`) calls it when ``mxnet`` is
imported; without those wheels it does nothing.
"""

from __future__ import annotations

import ctypes
import re
import sys
from pathlib import Path

#: The wheels that provide them, for ``GPU=cu117`` (CUDA 11.7, cuDNN 8).
WHEELS = (
    "nvidia-cuda-runtime-cu11==11.7.99",
    "nvidia-cublas-cu11==11.10.3.66",
    "nvidia-cufft-cu11==10.9.0.58",
    "nvidia-curand-cu11==10.2.10.91",
    "nvidia-cusolver-cu11==11.4.0.1",
    "nvidia-cusparse-cu11==11.7.4.91",
    "nvidia-cuda-nvrtc-cu11==11.7.99",
    "nvidia-cudnn-cu11==8.5.0.96",
    "nvidia-nccl-cu11==2.14.3",
    "nvidia-nvtx-cu11==11.7.91",
)
#: The CUDA 11 sonames (and cuDNN 8's sub-libraries) that are preloaded.
SONAME = re.compile(
    r"lib(cudart\.so\.11|cublas(Lt)?\.so\.11|cufft\.so\.10|curand\.so\.10"
    r"|cusolver\.so\.11|cusparse\.so\.11|nvrtc(-builtins)?\.so\.11"
    r"|cudnn(_\w+)?\.so\.8|nccl\.so\.2|nvToolsExt\.so\.1)(\.[\d.]+)?"
)
_loaded: dict[str, ctypes.CDLL] = {}


def library_files(paths: list[str] | None = None) -> list[Path]:
    """Return the CUDA 11 libraries found under ``<path>/nvidia/*/lib``."""
    found = {}
    for entry in sys.path if paths is None else paths:
        root = Path(entry or ".") / "nvidia"
        if not root.is_dir():
            continue
        for lib in sorted(root.glob("*/lib/lib*.so*")):
            if SONAME.fullmatch(lib.name) and lib.name not in found:
                found[lib.name] = lib
    return list(found.values())


def cuda_build_installed(paths: list[str] | None = None) -> bool:
    """Return True if a CUDA 11 build of MXNet (``mxnet-cu11x``) is installed."""
    for entry in sys.path if paths is None else paths:
        if any(Path(entry or ".").glob("mxnet_cu11*.dist-info")):
            return True
    return False


def preload(paths: list[str] | None = None) -> list[Path]:
    """Load every library of :func:`library_files` globally; return those loaded.

    Only with a CUDA 11 build of MXNet installed: the CPU build needs none of
    them, and loading gigabytes of CUDA for nothing would slow its import.
    A library whose own dependencies are not loaded yet fails; it is retried
    after the others, until a pass loads nothing new.
    """
    if not cuda_build_installed(paths):
        return []
    pending = [p for p in library_files(paths) if p.name not in _loaded]
    while pending:
        failed = []
        for lib in pending:
            try:
                _loaded[lib.name] = ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                failed.append(lib)
        if len(failed) == len(pending):
            break
        pending = failed
    return [Path(lib._name) for lib in _loaded.values()]


def missing_wheels() -> list[str]:
    """Return the requirements of :data:`WHEELS` not installed at that version."""
    from importlib.metadata import PackageNotFoundError, version

    missing = []
    for spec in WHEELS:
        name, wanted = spec.split("==")
        try:
            ok = version(name) == wanted
        except PackageNotFoundError:
            ok = False
        if not ok:
            missing.append(spec)
    return missing
