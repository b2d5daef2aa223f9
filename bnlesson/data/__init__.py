"""Fashion-MNIST, found offline, verified by hash, and served from memory.

:func:`load_data_fashion_mnist` is d2l's loader without its download and
per-image transform: the files are found (:mod:`bnlesson.data.files` says
where, in which order) or, if no location has them, downloaded into MXNet's
cache (:mod:`bnlesson.data.mirrors`); each is checked by the SHA-256 of its
decompressed bytes; the images are served as :class:`Batches` of one
in-memory array.

Run ``python -m bnlesson.data`` to locate (and if needed download) the data.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as onp

from bnlesson.core import config
from bnlesson.core.arguments import check_whole
from bnlesson.core.sizes import FAST_TEST_PER_CLASS, FAST_TRAIN_PER_CLASS
from bnlesson.data.files import (  # noqa: F401  (re-exported: the public names stay here)
    DATA_ENV,
    DEBIAN_DIR,
    FILES,
    SPLITS,
    DataError,
    _file_in,
    _parse_idx,
    cache_dir,
    candidate_dirs,
    find_data,
    read_verified,
)  # fmt: skip
from bnlesson.data.mirrors import MIRRORS, CacheWriteError, download  # noqa: F401

CLASS_NAMES = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip


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


def _live_sizes(
    live_per_class, y_train, y_test, name="live_per_class"
) -> tuple[int, int]:
    """Check `live_per_class` against the data: never a silently smaller subset."""
    sizes = tuple(live_per_class)
    if len(sizes) != 2:
        raise ValueError(
            f"{name} takes two numbers, (training, test) images per "
            f"class, not {live_per_class!r}"
        )
    for n, split, y in zip(sizes, ("training", "test"), (y_train, y_test)):
        if not isinstance(n, (int, onp.integer)):
            raise ValueError(f"{name} takes whole numbers, not {n!r}")
        have = int(onp.bincount(y, minlength=len(CLASS_NAMES)).min())
        if not 1 <= n <= have:
            raise ValueError(
                f"{name} asks for {n} {split} images of each class, but "
                f"Fashion-MNIST has {have} {split} images of each class: ask for "
                f"at least 1 and at most {have}"
            )
    return sizes


@dataclass
class Batches:
    """Mini-batches of an in-memory dataset, reshuffled every epoch.

    Iterating yields ``(X, y)`` pairs of ``mxnet.np`` arrays on the CPU, the
    same interface as a Gluon ``DataLoader``, so d2l helpers accept it. Each
    batch is one fancy-indexing copy of the whole array, with no per-example
    Python transform (10x cheaper than a ``DataLoader`` with ``ToTensor``).
    The last batch may be smaller.

    Shuffling draws from NumPy's global generator, so
    :func:`bnlesson.core.config.set_seed` before a training run fixes its batch
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
        check_whole("batch_size", self.batch_size, "batch_size=256")
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
    live_per_class: tuple[int, int] = (1000, 300),
    per_class: tuple[int, int] | None | str = "mode",
) -> tuple[Batches, Batches]:
    """Return ``(train_iter, test_iter)`` over Fashion-MNIST, like d2l's loader.

    The training batches are reshuffled every epoch (from NumPy's global
    generator unless `seed` is given, see :class:`Batches`); the test batches
    are in file order. In fast mode (``BNLESSON_FAST=1``, or ``fast=True``) and
    in live mode (``BNLESSON_MODE=live``) both are a fixed, class-balanced
    subset: `live_per_class` gives live mode's (training, test) images per
    class. One printed line says which data is used.

    A lesson passes `per_class` from :func:`bnlesson.core.sizes.sizes` instead:
    ``None`` for all images, or (training, test) images per class of a
    class-balanced subset; the run mode is then not consulted.

    Raises
    ------
    ValueError
        If `batch_size` is not a whole number of at least 1 (``256.0`` too),
        or `live_per_class` is not two whole numbers from 1 to the images per
        class of each split (6,000 training, 1,000 test), in any mode.
    """
    check_whole("batch_size", batch_size, "batch_size=256")  # before reading files
    if per_class != "mode":
        return _load_sized(batch_size, root, seed, verbose, per_class)
    mode = ("fast" if fast else "full") if fast is not None else config.mode()
    X_train, y_train = load_arrays("train", root)
    X_test, y_test = load_arrays("test", root)
    # Checked in every mode: a lesson's live sizes fail in full mode too.
    live = _live_sizes(live_per_class, y_train, y_test)
    per_class = {"fast": (FAST_TRAIN_PER_CLASS, FAST_TEST_PER_CLASS),
                 "live": live}.get(mode)  # fmt: skip
    what = {
        "fast": f"fast mode: a class-balanced subset, at most "
        f"{config.FAST_MAX_EPOCHS} epoch",
        "live": "live mode: a class-balanced subset",
    }.get(mode, "full data")
    splits = (X_train, y_train, X_test, y_test)
    return _batched(splits, per_class, what, batch_size, seed, verbose)


def _load_sized(batch_size, root, seed, verbose, per_class):
    """The loader for an explicit `per_class` (None: every image)."""
    X_train, y_train = load_arrays("train", root)
    X_test, y_test = load_arrays("test", root)
    what = "all images"
    if per_class is not None:
        per_class = _live_sizes(per_class, y_train, y_test, "per_class")
        what = f"a class-balanced subset, {per_class[0]} and {per_class[1]} per class"
    splits = (X_train, y_train, X_test, y_test)
    return _batched(splits, per_class, what, batch_size, seed, verbose)


def _batched(splits, per_class, what, batch_size, seed, verbose):
    """Batches of the two splits, or of their class-balanced subset, said once."""
    X_train, y_train, X_test, y_test = splits
    if per_class is not None:
        tr = balanced_subset(y_train, per_class[0])
        te = balanced_subset(y_test, per_class[1])
        X_train, y_train = X_train[tr], y_train[tr]
        X_test, y_test = X_test[te], y_test[te]
    if verbose:
        print(
            f"Fashion-MNIST: {len(X_train)} training and {len(X_test)} test "
            f"images ({what})"
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
