"""Download one file so that it is never half-written and never unchecked.

Infrastructure shared by the dataset download (:mod:`bnlesson.data.mirrors`) and
the slides' reveal.js and MathJax (:mod:`bnlesson.slides.assets`). The two
kinds of failure need different advice, so they raise different errors: the
server's side (unreachable, refused, cut off) raises :class:`DownloadFailed`,
our side (no permission, no space, no folder) the ``OSError`` itself.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator


class DownloadFailed(Exception):
    """The server could not be reached or did not deliver the whole file.

    Not an ``OSError``: a caller must be able to tell it from a failure to
    write, which no other server can fix.
    """


def download_to(
    url: str, target: Path, check: Callable[[Path], None], timeout: float
) -> None:
    """Download `url` to `target`, keeping it only if ``check(path)`` returns.

    The bytes go to a temporary ``<name>.part-*`` file beside `target`, which
    `check` reads (and raises on to refuse it); only then is it renamed, with
    the permissions of any new file (the umask), so other users of a shared
    cache can read it. On any failure the part file is removed.

    Raises
    ------
    DownloadFailed
        If the server cannot be reached or the transfer breaks off.
    OSError
        If the folder of `target` cannot be written (permission, space, ...).
    """
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".part-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in _chunks(url, timeout):
                out.write(chunk)
                out.flush()  # a full disk fails here, not silently at close
        check(tmp)
        # mkstemp makes the file private (0600); give it the usual mode.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _chunks(url: str, timeout: float) -> Iterator[bytes]:
    # Only reading is guarded here: a write error in the caller's loop is
    # raised in the caller's frame and stays an OSError.
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                yield chunk
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        raise DownloadFailed(str(getattr(err, "reason", None) or err)) from err


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it
    os.umask(mask)
    return mask
