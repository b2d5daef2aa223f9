"""The one download routine behind the dataset and the slides' assets."""

import errno
import os
import stat

import pytest
from fakes import FullDisk

from bnlesson.core import fetch


def _served(tmp_path, content=b"payload"):
    source = tmp_path / "served.bin"
    source.write_bytes(content)
    dest = tmp_path / "dest"
    dest.mkdir()
    return source.as_uri(), dest


def test_a_checked_download_gets_its_name_and_the_usual_permissions(tmp_path):
    url, dest = _served(tmp_path)
    seen = []
    fetch.download_to(
        url, dest / "f.bin", lambda part: seen.append(part.read_bytes()), 5
    )
    assert seen == [b"payload"]  # the check read the whole file, before the rename
    assert (dest / "f.bin").read_bytes() == b"payload"
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE((dest / "f.bin").stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in dest.iterdir()] == ["f.bin"]


def test_a_refused_download_leaves_nothing(tmp_path):
    url, dest = _served(tmp_path)

    def refuse(part):
        raise ValueError("wrong hash")

    with pytest.raises(ValueError, match="wrong hash"):
        fetch.download_to(url, dest / "f.bin", refuse, 5)
    assert list(dest.iterdir()) == []


def test_an_unreachable_server_is_not_an_oserror(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(fetch.DownloadFailed) as err:
        fetch.download_to((tmp_path / "missing").as_uri(), dest / "f", print, 5)
    assert not isinstance(err.value, OSError)  # callers tell it from a write error
    assert list(dest.iterdir()) == []


def test_a_full_disk_stays_an_oserror(tmp_path, monkeypatch):
    url, dest = _served(tmp_path)
    monkeypatch.setattr(fetch.os, "fdopen", FullDisk)
    with pytest.raises(OSError) as err:
        fetch.download_to(url, dest / "f.bin", print, 5)
    assert err.value.errno == errno.ENOSPC
    assert list(dest.iterdir()) == []
