"""Fakes the tests share."""

import errno
import os


class FullDisk:
    """Stands in for ``os.fdopen``: the file opens, but every write fails ENOSPC."""

    def __init__(self, fd, mode):
        self.file = open(fd, mode)  # noqa: SIM115 - closed in __exit__

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()

    def write(self, chunk):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
