"""Downloading Fashion-MNIST into MXNet's cache, verified, never half-written.

:func:`bnlesson.data.ensure_data` calls :func:`download` when no location
(:func:`bnlesson.data.files.candidate_dirs`) holds the four files.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import time
import zlib
from pathlib import Path
from typing import Iterator, Sequence

from bnlesson.core.fetch import DownloadFailed, download_to
from bnlesson.data.files import (
    FILES,
    DataError,
    _check,
    _file_in,
    _how_to_fix,
    cache_dir,
)

#: The dataset's public mirrors, tried in order; each serves ``<name>.gz``.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/"
    "gluon/dataset/fashion-mnist/",
)
#: Size of the four .gz files the mirrors serve, in MB (what a download needs).
DOWNLOAD_MB = 31
#: A ``.part-*`` file untouched this long belongs to no running download (one
#: writes every megabyte, and gives up after a 30 s silence): delete it.
STALE_PART_SECONDS = 3600


class CacheWriteError(DataError):
    """The download could not be written: no permission, no space, no folder."""


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
            except (DownloadFailed, DataError) as err:
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
    def check(part: Path) -> None:
        try:
            data = gzip.decompress(part.read_bytes())
        except (EOFError, OSError, zlib.error) as err:
            raise DataError(f"the download is not a valid gzip file ({err})") from None
        _check(data, name, Path(url))

    with _writing(target.parent, "write to"):
        download_to(url, target, check, timeout)


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
            f"to $MXNET_HOME/datasets/fashion-mnist).\n{_how_to_fix(unwritable=folder)}"
        ) from err
