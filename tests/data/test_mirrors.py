"""Downloading Fashion-MNIST into MXNet's cache (``bnlesson.data.mirrors``),
against a local server: verified and renamed, nothing half-written left, the
usual permissions, stale parts cleaned, and each write failure explained."""

import errno
import gzip
import os
import stat
import time

import numpy as onp
import pytest
from datafiles import SMALL, real_bytes, third_fix
from fakes import FullDisk

from bnlesson import data
from bnlesson.core import fetch
from bnlesson.data import mirrors


def _dest_with_images(real_data_dir, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    for name in data.FILES:  # images present: only the labels get downloaded
        if "images" in name:
            src = data._file_in(real_data_dir, name)
            os.symlink(src, dest / src.name)
    return dest


def _fail_with(error_number):
    def fail(*args, **kwargs):
        raise OSError(error_number, os.strerror(error_number))

    return fail


def test_missing_everywhere_says_what_to_do(isolated):
    with pytest.raises(data.DataError) as err:
        data.ensure_data()  # tries the (refused) mirror, then explains
    message = str(err.value)
    assert "no network?" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "BNLESSON_DATA" in message
    assert "python -m bnlesson.data" in message
    assert not list(data.cache_dir().glob("*")), "nothing half-written is left"


def test_offline_download_error(tmp_path):
    with pytest.raises(data.DataError) as err:
        data.download(tmp_path / "d", mirrors=["http://127.0.0.1:9/"], timeout=2)
    assert "no network?" in str(err.value)
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    assert not list((tmp_path / "d").iterdir())


def test_download_verifies_and_renames(real_data_dir, tmp_path, server):
    served, url = server
    for name in data.FILES:
        if "labels" in name:
            (served / f"{name}.gz").write_bytes(
                gzip.compress(real_bytes(real_data_dir, name))
            )
    dest = _dest_with_images(real_data_dir, tmp_path)
    assert data.download(dest, mirrors=["http://127.0.0.1:9/", url]) == dest
    assert data.find_data(dest) == dest
    assert not list(dest.glob("*.part-*"))
    _, y = data.load_arrays("test", root=dest)
    assert onp.bincount(y).tolist() == [1000] * 10


def test_corrupt_download_leaves_nothing(real_data_dir, tmp_path, server):
    served, url = server
    for name in data.FILES:
        if "labels" in name:
            (served / f"{name}.gz").write_bytes(gzip.compress(b"\x00" * 60008))
    dest = _dest_with_images(real_data_dir, tmp_path)
    with pytest.raises(data.DataError, match="Could not download"):
        data.download(dest, mirrors=[url])
    assert all("images" in p.name for p in dest.iterdir()), "no label file, no .part"


# --- permissions, stale parts, write failures (issue 9) ------------------------


def test_downloaded_files_get_the_usual_permissions(
    real_data_dir, tmp_path, labels_server
):
    # mkstemp creates 0600 files: other users of a shared MXNET_HOME could
    # not read them. Downloads get what any new file gets (the umask).
    dest = _dest_with_images(real_data_dir, tmp_path)
    old = os.umask(0o022)
    try:
        data.download(dest, mirrors=[labels_server])
    finally:
        os.umask(old)
    for name in data.FILES:
        if "labels" in name:
            assert stat.S_IMODE((dest / f"{name}.gz").stat().st_mode) == 0o644


def test_stale_part_files_are_cleaned_on_the_next_download(
    real_data_dir, tmp_path, labels_server
):
    dest = _dest_with_images(real_data_dir, tmp_path)
    stale = dest / f"{SMALL}.gz.part-killed"  # left by a `kill -9`
    fresh = dest / f"{SMALL}.gz.part-running"  # another download, now
    for part in (stale, fresh):
        part.write_bytes(b"half a file")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    data.download(dest, mirrors=[labels_server])
    assert not stale.exists(), "a part file untouched for hours is garbage"
    assert fresh.exists(), "a recent one may belong to a running download"


@pytest.mark.parametrize(
    "where, error_number, says",
    [
        ("cache", errno.EACCES, "permission denied"),
        ("cache", errno.EROFS, "read-only file system"),
        ("parent", errno.EACCES, "permission denied"),
        ("disk", errno.ENOSPC, "no space left on the device"),
    ],
)
def test_cache_write_failures_say_what_failed_and_where(
    real_data_dir, tmp_path, labels_server, monkeypatch, where, error_number, says
):
    dest = _dest_with_images(real_data_dir, tmp_path)
    if where == "cache":  # the cache folder exists but takes no new file
        monkeypatch.setattr(fetch.tempfile, "mkstemp", _fail_with(error_number))
    elif where == "parent":  # MXNET_HOME's parent takes no new folder
        dest = tmp_path / "home" / "datasets" / "fashion-mnist"
        monkeypatch.setattr(mirrors.Path, "mkdir", _fail_with(error_number))
    else:
        monkeypatch.setattr(fetch.os, "fdopen", FullDisk)
    with pytest.raises(data.DataError) as err:
        data.download(dest, mirrors=[labels_server])
    message = str(err.value)
    assert says in message and str(dest) in message
    assert "no network?" not in message
    assert "MXNET_HOME" in message
    if where == "disk":
        assert "Free about 31 MB there" in message
    assert not list(dest.glob("*.part-*")) if dest.exists() else True


def test_a_cache_that_cannot_be_written_is_not_offered_for_the_download(
    isolated, monkeypatch
):
    # A read-only $MXNET_HOME: the download fails there, and the advice must
    # not be to download into it again.
    monkeypatch.setattr(mirrors.Path, "mkdir", _fail_with(errno.EROFS))
    with pytest.raises(mirrors.CacheWriteError) as err:
        data.ensure_data()
    fix = third_fix(str(err.value))
    assert fix.startswith(
        f"set MXNET_HOME to a folder you can write ({data.cache_dir()} cannot be "
        "written), go online and run `python -m bnlesson.data`"
    )
    assert fix.endswith("downloads them into $MXNET_HOME/datasets/fashion-mnist")
