"""bnlesson.env.cudalibs: the CUDA 11 libraries of the nvidia-* wheels, found
and preloaded for a GPU build of MXNet, on real shared libraries built here."""

import shutil
import subprocess
import sys

import pytest

from bnlesson.env import cudalibs


def test_cuda_11_libraries_are_found_and_others_ignored(tmp_path):
    names = {
        "cudnn": ["libcudnn.so.8", "libcudnn_ops_infer.so.8", "libcudnn.so.9"],
        "cuda_runtime": ["libcudart.so.11.0", "libcudart.so.12", "libOpenCL.so.1"],
        "cuda_nvrtc": ["libnvrtc.so.11.2", "libnvrtc-builtins.so.11.7"],
    }
    for part, files in names.items():
        (tmp_path / "nvidia" / part / "lib").mkdir(parents=True)
        for name in files:
            (tmp_path / "nvidia" / part / "lib" / name).write_bytes(b"")
    found = sorted(p.name for p in cudalibs.library_files([str(tmp_path)]))
    assert found == [
        "libcudart.so.11.0", "libcudnn.so.8", "libcudnn_ops_infer.so.8",
        "libnvrtc-builtins.so.11.7", "libnvrtc.so.11.2",
    ]  # fmt: skip


PRELOAD = """
import ctypes, sys
from bnlesson.env import cudalibs
loaded = cudalibs.preload([sys.argv[1]])
print(sorted(p.name for p in loaded))
ctypes.CDLL("libcublas.so.11")  # by soname alone: found because preloaded
"""


def test_nothing_is_preloaded_for_the_cpu_build(tmp_path):
    lib = tmp_path / "nvidia" / "cudnn" / "lib"
    lib.mkdir(parents=True)
    (lib / "libcudnn.so.8").write_bytes(b"")
    (tmp_path / "mxnet-1.9.1.dist-info").mkdir()
    assert cudalibs.library_files([str(tmp_path)]) == [lib / "libcudnn.so.8"]
    assert not cudalibs.cuda_build_installed([str(tmp_path)])
    assert cudalibs.preload([str(tmp_path)]) == []


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_preload_loads_dependencies_first_so_sonames_resolve(tmp_path):
    lib = tmp_path / "nvidia" / "cublas" / "lib"
    lib.mkdir(parents=True)
    (tmp_path / "lt.c").write_text("int lt(void) { return 1; }\n")
    (tmp_path / "blas.c").write_text("int lt(void);\nint blas(void) { return lt(); }\n")

    def build(source, soname, *extra):
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib / soname),
                        f"-Wl,-soname,{soname}", str(tmp_path / source), *extra],
                       check=True)  # fmt: skip

    build("lt.c", "libcublasLt.so.11")
    (tmp_path / "mxnet_cu117-1.9.1.dist-info").mkdir()  # else nothing is loaded
    # libcublas needs libcublasLt and sorts before it: the first pass fails.
    build("blas.c", "libcublas.so.11", f"-L{lib}", "-l:libcublasLt.so.11")
    result = subprocess.run([sys.executable, "-c", PRELOAD, str(tmp_path)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['libcublas.so.11', 'libcublasLt.so.11']"
