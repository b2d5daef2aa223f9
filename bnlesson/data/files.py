"""Fashion-MNIST's four files: where they are looked for, and checking them.

Where the files are looked for, in order:

1. an explicit ``root`` argument;
2. ``$BNLESSON_DATA``;
3. MXNet's dataset cache, ``$MXNET_HOME/datasets/fashion-mnist``
   (``~/.mxnet/datasets/fashion-mnist`` by default);
4. ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``).

A location named explicitly (1 or 2) is used or fails: it never falls
through to other data. Each file may be gzipped or not; it is checked by the
SHA-256 of its *decompressed* bytes, so recompressed copies (Debian's) are
accepted and corrupt ones are not. :mod:`bnlesson.data.mirrors` fetches missing
files; :mod:`bnlesson.data` loads and batches them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as onp

DATA_ENV = "BNLESSON_DATA"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
#: name -> (SHA-256 of the decompressed IDX bytes, decompressed size in bytes)
FILES = {
    "train-images-idx3-ubyte": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        47040016,
    ),
    "train-labels-idx1-ubyte": (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        60008,
    ),
    "t10k-images-idx3-ubyte": (
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        7840016,
    ),
    "t10k-labels-idx1-ubyte": (
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        10008,
    ),
}
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataError(RuntimeError):
    """Fashion-MNIST is missing, corrupt or could not be downloaded."""


def _how_to_fix(
    root: str | os.PathLike | None = None, unwritable: Path | None = None
) -> str:
    """Return the three ways to get the files, as they apply right now.

    The download (the third way) goes into MXNet's cache and is tried only
    when no folder is named (no `root`, no ``$BNLESSON_DATA``), so its advice
    says to unname the folder, or to pick another cache when this one cannot
    be written (`unwritable` failed, or the cache is not writable).
    """
    env = os.environ.get(DATA_ENV)
    second = [f"export {DATA_ENV}=/a/folder/with/the/four/files (gzipped or not)"]
    if env:
        second = [
            f"set {DATA_ENV} to a folder with the four files (gzipped or not);",
            f"it is now {env!r}",
        ]
    # No download is tried while a folder is named: it must be unnamed first.
    named = ["leave out --root (the `root` argument)"] if root is not None else []
    named += [f"`unset {DATA_ENV}`"] if env else []
    third = []
    if named:
        third.append(
            f"{' and '.join(named)} (no download is tried while a folder is named),"
        )
    blocked = unwritable or (None if _writable(cache_dir()) else cache_dir())
    into = cache_dir()
    if blocked is not None:
        third.append(
            f"set MXNET_HOME to a folder you can write ({blocked} cannot be written),"
        )
        into = "$MXNET_HOME/datasets/fashion-mnist"
    third += [
        "go online and run `python -m bnlesson.data` (or `make data`), which",
        f"downloads them into {into}",
    ]
    lines = ["Fix it one of three ways:"]
    for number, text in enumerate(
        (["Debian/Ubuntu: apt-get update && apt-get install dataset-fashion-mnist",
          f"(puts the four files in {DEBIAN_DIR})"], second, third), start=1
    ):  # fmt: skip
        lines += [f"  {number}. {text[0]}"] + [f"     {line}" for line in text[1:]]
    return "\n".join(lines)


def _writable(folder: Path) -> bool:
    """Return True if `folder`, or the folder it would be made in, is writable."""
    for path in (folder, *folder.parents):
        if path.exists():
            return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
    return False


def cache_dir() -> Path:
    """Return MXNet's dataset cache folder for Fashion-MNIST."""
    home = os.environ.get("MXNET_HOME") or os.path.join("~", ".mxnet")
    return Path(home).expanduser() / "datasets" / "fashion-mnist"


def candidate_dirs(root: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """Return ``(folder, why)`` pairs in the order they are searched.

    A relative `root` or ``$BNLESSON_DATA`` is taken from the working
    directory, and returned as the absolute path it became.
    """
    if root is not None:
        return [(Path(root).expanduser().absolute(), "the `root` argument")]
    if os.environ.get(DATA_ENV):
        return [(Path(os.environ[DATA_ENV]).expanduser().absolute(), f"${DATA_ENV}")]
    return [
        (cache_dir(), "MXNet's dataset cache"),
        (DEBIAN_DIR, "Debian's dataset-fashion-mnist"),
    ]


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _complete(folder: Path) -> bool:
    return all(_file_in(folder, name) for name in FILES)


def find_data(root: str | os.PathLike | None = None) -> Path:
    """Return the first folder holding all four files, or raise :class:`DataError`.

    Only presence is checked here; :func:`read_verified` checks the contents.
    """
    candidates = candidate_dirs(root)
    for folder, _ in candidates:
        if _complete(folder):
            return folder
    searched = "\n".join(f"  - {folder} ({why})" for folder, why in candidates)
    detail = _named_detail(candidates[0][0]) if len(candidates) == 1 else ""
    raise DataError(
        f"Fashion-MNIST was not found{detail}. Searched:\n{searched}\n"
        f"{_relative_env_note(root)}{_how_to_fix(root)}"
    )


def _named_detail(folder: Path) -> str:
    """Say what is wrong with a folder named explicitly."""
    if not folder.exists():
        return f" ({folder} does not exist)"
    if not folder.is_dir():
        return f" ({folder} is a file, not a folder: name the folder holding the files)"
    missing = [n for n in FILES if not _file_in(folder, n)]
    return f" (missing there: {', '.join(missing)})"


def _relative_env_note(root) -> str:
    # make sets it in the repository root; a notebook's kernel runs in
    # notebooks/, so a relative path names another folder there.
    value = os.environ.get(DATA_ENV)
    if root is not None or not value or Path(value).expanduser().is_absolute():
        return ""
    return (
        f"${DATA_ENV} is the relative path {value!r}, taken from this process's "
        f"working directory, {Path.cwd()} (a notebook runs in its own folder): "
        f"set it to an absolute path.\n"
    )


def _decompressed(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        raise DataError(
            f"{path} is truncated or not a valid gzip file ({err}). Delete it.\n"
            f"{_how_to_fix()}"
        ) from None


def _check(data: bytes, name: str, source: Path) -> bytes:
    expected_sha, expected_size = FILES[name]
    if len(data) != expected_size:
        raise DataError(
            f"{source} holds {len(data)} bytes once decompressed, expected "
            f"{expected_size}: the file is truncated or is not {name}. Delete it.\n"
            f"{_how_to_fix()}"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha:
        raise DataError(
            f"{source} is corrupt: the SHA-256 of its decompressed bytes is "
            f"{digest[:16]}..., expected {expected_sha[:16]}.... Delete it.\n"
            f"{_how_to_fix()}"
        )
    return data


def read_verified(path: Path) -> bytes:
    """Return the decompressed bytes of `path` after checking size and SHA-256."""
    name = path.name[: -len(".gz")] if path.name.endswith(".gz") else path.name
    if name not in FILES:
        raise DataError(f"{path} is not one of the Fashion-MNIST files {list(FILES)}")
    return _check(_decompressed(path), name, path)


def _parse_idx(data: bytes) -> onp.ndarray:
    # IDX: two zero bytes, a type code (0x08 = uint8), the rank, then the
    # big-endian dimensions and the raw values.
    _, _, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return onp.frombuffer(data, dtype=onp.uint8, offset=4 + 4 * ndim).reshape(dims)
