"""Fashion-MNIST, found offline, verified by hash, and served from memory.

Where the files are looked for, in order:

1. an explicit ``root`` argument;
2. ``$BNLESSON_DATA``;
3. MXNet's dataset cache, ``$MXNET_HOME/datasets/fashion-mnist``
   (``~/.mxnet/datasets/fashion-mnist`` by default);
4. ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``).

A location named explicitly (1 or 2) is used or fails: it never falls
through to other data. If no location has the files, :func:`ensure_data`
downloads them into the cache (3). Each file may be gzipped or not; it is
checked by the SHA-256 of its *decompressed* bytes, so recompressed copies
(Debian's) are accepted and corrupt ones are not.

Run ``python -m bnlesson.data`` to locate (and if needed download) the data.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gzip
import hashlib
import os
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as onp

from . import config

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
#: The dataset's public mirrors, tried in order; each serves ``<name>.gz``.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/"
    "gluon/dataset/fashion-mnist/",
)
CLASS_NAMES = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip
#: Size of the four .gz files the mirrors serve, in MB (what a download needs).
DOWNLOAD_MB = 31
#: A ``.part-*`` file untouched this long belongs to no running download (one
#: writes every megabyte, and gives up after a 30 s silence): delete it.
STALE_PART_SECONDS = 3600
#: Fast mode keeps the first N examples of every class (a fixed, balanced subset).
FAST_TRAIN_PER_CLASS = 256
FAST_TEST_PER_CLASS = 100


class DataError(RuntimeError):
    """Fashion-MNIST is missing, corrupt or could not be downloaded."""


class CacheWriteError(DataError):
    """The download could not be written: no permission, no space, no folder."""


def _how_to_fix() -> str:
    return (
        "Fix it one of three ways:\n"
        "  1. Debian/Ubuntu: apt-get update && apt-get install dataset-fashion-mnist\n"
        f"     (puts the four files in {DEBIAN_DIR})\n"
        f"  2. export {DATA_ENV}=/a/folder/with/the/four/files (gzipped or not)\n"
        "  3. go online and run `python -m bnlesson.data` (or `make data`), which\n"
        f"     downloads them into {cache_dir()}"
    )


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
    missing = [n for n in FILES if not _file_in(candidates[0][0], n)]
    detail = f" (missing there: {', '.join(missing)})" if len(candidates) == 1 else ""
    raise DataError(
        f"Fashion-MNIST was not found{detail}. Searched:\n{searched}\n"
        f"{_relative_env_note(root)}{_how_to_fix()}"
    )


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


def download(
    dest: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the missing files into `dest` (the cache by default), verified.

    Each file is written to a temporary ``.part-*`` file in `dest` and
    renamed only after its hash checks out, so an interrupted or corrupt
    download leaves no data file behind; part files that a killed download
    left are deleted by the next one (:data:`STALE_PART_SECONDS`). The files
    get the permissions of any new file (the umask), so that the other users
    of a shared ``$MXNET_HOME`` can read them. `mirrors` defaults to
    :data:`MIRRORS`.

    Raises
    ------
    CacheWriteError
        If `dest` cannot be created or written (permission, read-only file
        system, no space left), saying which and where.
    DataError
        If no mirror delivers a valid file.
    """
    folder = Path(dest).expanduser() if dest is not None else cache_dir()
    mirrors = MIRRORS if mirrors is None else mirrors
    with _writing(folder, "create the folder"):
        folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(folder)
    for name in FILES:
        if _file_in(folder, name):
            continue
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{name}.gz"
            try:
                _download_one(url, folder / f"{name}.gz", name, timeout)
                break
            except CacheWriteError:
                raise  # our side: no other mirror can fix it
            except (OSError, DataError) as err:
                errors.append(f"  - {url}: {str(err).splitlines()[0]}")
        else:
            raise DataError(
                f"Could not download {name}.gz from any mirror (no network?):\n"
                + "\n".join(errors)
                + "\n"
                + _how_to_fix()
            )
    return folder


def _download_one(url: str, target: Path, name: str, timeout: float) -> None:
    with _writing(target.parent, "create a file in"):
        fd, tmp_name = tempfile.mkstemp(
            prefix=target.name + ".part-", dir=target.parent
        )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(
            url, timeout=timeout
        ) as r:
            # Network errors are the mirror's; write errors are ours.
            while chunk := r.read(1 << 20):
                with _writing(target.parent, "write to"):
                    out.write(chunk)
                    out.flush()
        try:
            data = gzip.decompress(tmp.read_bytes())
        except (EOFError, OSError, zlib.error) as err:
            raise DataError(f"the download is not a valid gzip file ({err})") from None
        _check(data, name, Path(url))
        with _writing(target.parent, "write to"):
            # mkstemp makes the file private (0600); give it the usual mode.
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def _remove_stale_parts(folder: Path) -> None:
    cutoff = time.time() - STALE_PART_SECONDS
    for part in folder.glob("*.part-*"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
        except OSError:
            continue  # gone meanwhile, or another user's we may not delete


#: What an errno from writing the cache means, in words.
_WRITE_ERRORS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a part of the path is a file, not a folder",
}


@contextlib.contextmanager
def _writing(folder: Path, what: str) -> Iterator[None]:
    """Turn an OSError of the block into a CacheWriteError saying what failed."""
    try:
        yield
    except OSError as err:
        reason = _WRITE_ERRORS.get(err.errno, err.strerror or str(err))
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            fix = (
                f"Free about {DOWNLOAD_MB} MB there, or set MXNET_HOME to another disk"
            )
        elif err.errno in (errno.ENOTDIR, errno.EEXIST):
            fix = "Move that file away, or set MXNET_HOME to another folder"
        else:
            fix = "Make it writable, or set MXNET_HOME to a folder you can write"
        raise CacheWriteError(
            f"Cannot {what} {folder}: {reason} ({err}). {fix} (the files go "
            f"to $MXNET_HOME/datasets/fashion-mnist).\n{_how_to_fix()}"
        ) from err


def ensure_data(
    root: str | os.PathLike | None = None, allow_download: bool = True
) -> Path:
    """Return a folder with all four files, downloading them if none has them.

    Downloading happens only when no location was named explicitly (an
    explicit `root` or ``$BNLESSON_DATA`` must hold the files itself).
    """
    try:
        return find_data(root)
    except DataError:
        if not allow_download or root is not None or os.environ.get(DATA_ENV):
            raise
    return download()


_CACHE: dict = {}


def load_arrays(
    split: str = "train", root: str | os.PathLike | None = None
) -> tuple[onp.ndarray, onp.ndarray]:
    """Return ``(images, labels)`` of one split as NumPy arrays, verified.

    Images are float32 in [0, 1] with shape ``(n, 1, 28, 28)`` (NCHW);
    labels are int32 with shape ``(n,)``. Results are cached per process, so
    re-running a notebook cell does not read the files again.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, not {split!r}")
    folder = ensure_data(root)
    paths = [_file_in(folder, name) for name in SPLITS[split]]
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    if key not in _CACHE:
        images = _parse_idx(read_verified(paths[0]))
        labels = _parse_idx(read_verified(paths[1]))
        X = (images.astype(onp.float32) / 255.0)[:, None, :, :]
        _CACHE[key] = (X, labels.astype(onp.int32))
    return _CACHE[key]


def balanced_subset(labels: onp.ndarray, per_class: int) -> onp.ndarray:
    """Return the indices of the first `per_class` examples of every class, sorted."""
    picks = [onp.flatnonzero(labels == c)[:per_class] for c in range(len(CLASS_NAMES))]
    return onp.sort(onp.concatenate(picks))


@dataclass
class Batches:
    """Mini-batches of an in-memory dataset, reshuffled every epoch.

    Iterating yields ``(X, y)`` pairs of ``mxnet.np`` arrays on the CPU, the
    same interface as a Gluon ``DataLoader``, so d2l helpers accept it. Each
    batch is one fancy-indexing copy of the whole array, with no per-example
    Python transform (10x cheaper than a ``DataLoader`` with ``ToTensor``).
    The last batch may be smaller.

    Shuffling draws from NumPy's global generator, so
    :func:`bnlesson.config.set_seed` before a training run fixes its batch
    order: two runs that start from the same seed see the same batches, even
    when they share this iterator. With an explicit `seed`, epoch ``e`` is
    always the same order instead, whatever the global state.
    """

    X: onp.ndarray
    y: onp.ndarray
    batch_size: int
    shuffle: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        if len(self.X) != len(self.y):
            raise ValueError(f"X has {len(self.X)} examples but y has {len(self.y)}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        self.epoch = 0

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    @property
    def num_examples(self) -> int:
        return len(self.X)

    def __iter__(self) -> Iterator:
        from mxnet import np

        n = len(self.X)
        if self.shuffle and self.seed is None:
            order = onp.random.permutation(n)  # noqa: NPY002 - seeded by set_seed
        elif self.shuffle:
            order = onp.random.default_rng((self.seed, self.epoch)).permutation(n)
        else:
            order = onp.arange(n)
        self.epoch += 1
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield np.array(self.X[idx]), np.array(self.y[idx], dtype="int32")


def load_data_fashion_mnist(
    batch_size: int,
    root: str | os.PathLike | None = None,
    fast: bool | None = None,
    seed: int | None = None,
    verbose: bool = True,
) -> tuple[Batches, Batches]:
    """Return ``(train_iter, test_iter)`` over Fashion-MNIST, like d2l's loader.

    The training batches are reshuffled every epoch (from NumPy's global
    generator unless `seed` is given, see :class:`Batches`); the test batches
    are in file order. In fast mode (``BNLESSON_FAST=1``, or ``fast=True``) both are
    a fixed, class-balanced subset. One printed line says which data is used.
    """
    fast = config.fast_mode() if fast is None else fast
    X_train, y_train = load_arrays("train", root)
    X_test, y_test = load_arrays("test", root)
    if fast:
        tr = balanced_subset(y_train, FAST_TRAIN_PER_CLASS)
        te = balanced_subset(y_test, FAST_TEST_PER_CLASS)
        X_train, y_train, X_test, y_test = (
            X_train[tr],
            y_train[tr],
            X_test[te],
            y_test[te],
        )
    if verbose:
        mode = (
            f"fast mode: a class-balanced subset, at most "
            f"{config.FAST_MAX_EPOCHS} epoch"
            if fast
            else "full data"
        )
        print(
            f"Fashion-MNIST: {len(X_train)} training and {len(X_test)} test "
            f"images ({mode})"
        )
    return (
        Batches(X_train, y_train, batch_size, shuffle=True, seed=seed),
        Batches(X_test, y_test, batch_size, shuffle=False),
    )


def text_labels(labels) -> list[str]:
    """Return the class names of integer labels."""
    return [CLASS_NAMES[int(i)] for i in labels]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bnlesson.data",
        description="Locate Fashion-MNIST (downloading it if no location has it) "
        "and verify its four files.",
    )
    parser.add_argument("--root", help="a folder holding the four files")
    parser.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading"
    )
    args = parser.parse_args(argv)
    try:
        folder = ensure_data(args.root, allow_download=not args.no_download)
        for name in FILES:
            read_verified(_file_in(folder, name))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Fashion-MNIST verified in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
