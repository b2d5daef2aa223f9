"""bnlesson.data: locating, verifying, downloading and batching Fashion-MNIST."""

import errno
import gzip
import http.server
import os
import re
import shutil
import stat
import subprocess
import threading
import time
from functools import partial

import numpy as onp
import pytest
from fakes import FullDisk

from bnlesson import data
from bnlesson.core import fetch
from bnlesson.data import files as dataset
from bnlesson.data import mirrors

from nbutil import ROOT

SMALL = "t10k-labels-idx1-ubyte"  # 10 KB: cheap to copy and corrupt


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $BNLESSON_DATA, an empty cache and no Debian folder."""
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxnet_home"))
    monkeypatch.setattr(dataset, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(mirrors, "MIRRORS", ("http://127.0.0.1:9/",))  # refused
    return tmp_path


def fill(folder, names=tuple(data.FILES), gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / (name + (".gz" if gz else ""))).write_bytes(b"")
    return folder


def real_bytes(real_data_dir, name):
    return data.read_verified(data._file_in(real_data_dir, name))


# --- where the files are looked for ---------------------------------------


def test_search_order_without_overrides(isolated, monkeypatch):
    dirs = [d for d, _ in data.candidate_dirs()]
    assert dirs == [isolated / "mxnet_home/datasets/fashion-mnist", dataset.DEBIAN_DIR]


def test_cache_wins_over_debian(isolated):
    cache = fill(data.cache_dir())
    fill(dataset.DEBIAN_DIR)
    assert data.find_data() == cache


def test_debian_used_when_cache_incomplete(isolated):
    fill(data.cache_dir(), names=[SMALL])
    debian = fill(dataset.DEBIAN_DIR, gz=False)
    assert data.find_data() == debian


def test_env_var_wins_and_never_falls_through(isolated, monkeypatch):
    fill(data.cache_dir())
    chosen = fill(isolated / "mine")
    monkeypatch.setenv(data.DATA_ENV, str(chosen))
    assert data.find_data() == chosen
    monkeypatch.setenv(data.DATA_ENV, str(isolated / "empty"))
    with pytest.raises(data.DataError, match=r"\$BNLESSON_DATA"):
        data.find_data()
    with pytest.raises(data.DataError):  # named explicitly: no download either
        data.ensure_data()


def test_root_argument_wins_over_env(isolated, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(fill(isolated / "env")))
    root = fill(isolated / "root")
    assert data.find_data(root) == root


def test_missing_everywhere_says_what_to_do(isolated):
    with pytest.raises(data.DataError) as err:
        data.ensure_data()  # tries the (refused) mirror, then explains
    message = str(err.value)
    assert "no network?" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "BNLESSON_DATA" in message
    assert "python -m bnlesson.data" in message
    assert not list(data.cache_dir().glob("*")), "nothing half-written is left"


# --- verification ---------------------------------------------------------


def test_real_files_verify(real_data_dir):
    for name, (_, size) in data.FILES.items():
        assert len(data.read_verified(data._file_in(real_data_dir, name))) == size


def test_uncompressed_copy_is_accepted(real_data_dir, tmp_path):
    raw = tmp_path / SMALL
    raw.write_bytes(real_bytes(real_data_dir, SMALL))
    assert data.read_verified(raw)[:4] == b"\x00\x00\x08\x01"


def test_corrupt_copy_is_refused(real_data_dir, tmp_path):
    content = bytearray(real_bytes(real_data_dir, SMALL))
    content[5000] ^= 0xFF
    bad = tmp_path / (SMALL + ".gz")
    bad.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(data.DataError, match="corrupt: the SHA-256") as err:
        data.read_verified(bad)
    assert str(bad) in str(err.value) and "Delete it" in str(err.value)


def test_truncated_gzip_is_refused(real_data_dir, tmp_path):
    good = gzip.compress(real_bytes(real_data_dir, SMALL))
    bad = tmp_path / (SMALL + ".gz")
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(data.DataError, match="truncated or not a valid gzip"):
        data.read_verified(bad)


def test_truncated_raw_file_is_refused(real_data_dir, tmp_path):
    bad = tmp_path / SMALL
    bad.write_bytes(real_bytes(real_data_dir, SMALL)[:-8])
    with pytest.raises(data.DataError, match="expected 10008"):
        data.read_verified(bad)


def test_loading_from_a_corrupt_location_fails(real_data_dir, isolated):
    folder = isolated / "copy"
    folder.mkdir()
    for name in data.FILES:
        if name != SMALL:
            src = data._file_in(real_data_dir, name)
            os.symlink(src, folder / src.name)
    (folder / (SMALL + ".gz")).write_bytes(gzip.compress(b"not the labels"))
    with pytest.raises(data.DataError, match=SMALL):
        data.load_arrays("test", root=folder)


# --- downloading, against a local server ----------------------------------


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def _dest_with_images(real_data_dir, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    for name in data.FILES:  # images present: only the labels get downloaded
        if "images" in name:
            src = data._file_in(real_data_dir, name)
            os.symlink(src, dest / src.name)
    return dest


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


def test_offline_download_error(tmp_path):
    with pytest.raises(data.DataError) as err:
        data.download(tmp_path / "d", mirrors=["http://127.0.0.1:9/"], timeout=2)
    assert "no network?" in str(err.value)
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    assert not list((tmp_path / "d").iterdir())


# --- arrays and batches ---------------------------------------------------


def test_arrays_are_nchw_float_in_unit_range():
    X, y = data.load_arrays("test")
    assert X.shape == (10000, 1, 28, 28) and X.dtype == onp.float32
    assert y.shape == (10000,) and y.dtype == onp.int32
    assert X.min() == 0.0 and X.max() == 1.0
    assert onp.bincount(y).tolist() == [1000] * 10
    assert data.text_labels(y[:3]) == ["ankle boot", "pullover", "trouser"]


def test_split_name_is_checked():
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_arrays("validation")


def _epoch(it):
    return onp.concatenate([yb.asnumpy() for _, yb in it]).tolist()


def test_every_example_once_per_epoch_reshuffled():
    X = onp.arange(10, dtype=onp.float32).reshape(10, 1, 1, 1)
    it = data.Batches(X, onp.arange(10, dtype=onp.int32), batch_size=4, shuffle=True)
    assert len(it) == 3
    epochs = []
    for _ in range(2):
        batches = list(it)
        assert [len(yb) for _, yb in batches] == [4, 4, 2]
        seen = onp.concatenate([yb.asnumpy() for _, yb in batches])
        assert sorted(seen.tolist()) == list(range(10))
        for Xb, yb in batches:
            assert (Xb.asnumpy().ravel() == yb.asnumpy()).all(), "X and y stay paired"
            assert Xb.dtype == onp.float32 and yb.dtype == onp.int32
        epochs.append(seen.tolist())
    assert epochs[0] != epochs[1]


def test_set_seed_fixes_the_order_even_for_a_shared_iterator():
    from bnlesson.core.config import set_seed

    it = data.Batches(onp.zeros((50, 1)), onp.arange(50), batch_size=8, shuffle=True)
    set_seed(0)
    first_run = [_epoch(it), _epoch(it)]
    set_seed(0)
    assert [_epoch(it), _epoch(it)] == first_run, "a second run sees the same batches"
    assert first_run[0] != first_run[1]


def test_explicit_seed_ignores_the_global_generator():
    make = lambda: data.Batches(onp.zeros((50, 1)), onp.arange(50), 8, True, seed=3)  # noqa: E731
    a, b = make(), make()
    onp.random.seed(1)  # noqa: NPY002 - the global generator is the point
    first = _epoch(a)
    onp.random.seed(2)  # noqa: NPY002
    assert _epoch(b) == first


def test_test_batches_keep_file_order():
    _, test_iter = data.load_data_fashion_mnist(1000, verbose=False, fast=False)
    X, y = next(iter(test_iter))
    assert X.shape == (1000, 1, 28, 28)
    assert y.asnumpy().tolist() == data.load_arrays("test")[1][:1000].tolist()


def test_batches_refuse_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        data.Batches(onp.zeros((2, 1)), onp.zeros(2), batch_size=0)
    with pytest.raises(ValueError, match="examples"):
        data.Batches(onp.zeros((2, 1)), onp.zeros(3), batch_size=1)


def test_a_float_batch_size_is_refused_up_front(isolated):
    message = (
        "batch_size must be a whole number of at least 1, not 256.0 (a float): "
        "write batch_size=256"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        data.Batches(onp.zeros((2, 1)), onp.zeros(2), batch_size=256.0)
    with pytest.raises(ValueError, match="not '256' \\(of type str\\)"):
        data.Batches(onp.zeros((2, 1)), onp.zeros(2), batch_size="256")
    # before looking for the data: there is none there, which is a DataError
    with pytest.raises(ValueError, match=re.escape(message)):
        data.load_data_fashion_mnist(256.0, root=isolated / "no-data")


def test_cli_reports_and_fails_clearly(isolated, capsys):
    assert data.main(["--no-download"]) == 1
    assert "Fashion-MNIST was not found" in capsys.readouterr().err


# --- relative paths, permissions, write failures, stale parts (issue 9) -----


def test_a_relative_env_path_is_named_as_the_absolute_path_it_became(
    isolated, monkeypatch
):
    # A notebook's kernel runs in notebooks/, where `data` is another folder
    # than in the repository root where it was set.
    (isolated / "notebooks").mkdir()
    monkeypatch.chdir(isolated / "notebooks")
    monkeypatch.setenv(data.DATA_ENV, "data")
    with pytest.raises(data.DataError) as err:
        data.find_data()
    message = str(err.value)
    assert f"  - {isolated / 'notebooks' / 'data'} ($BNLESSON_DATA)" in message
    assert "$BNLESSON_DATA is the relative path 'data'" in message
    assert f"working directory, {isolated / 'notebooks'}" in message
    assert "set it to an absolute path" in message
    fill(isolated / "notebooks" / "data")
    assert data.find_data() == isolated / "notebooks" / "data"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(
    "value, expected",
    [("data", "{root}/data"), ("../x", "{root}/../x"), ("/abs/d", "/abs/d"), ("", "")],
)
@pytest.mark.parametrize("where", ["environment", "command line"])
def test_make_hands_the_notebooks_an_absolute_data_path(value, expected, where):
    show = 'show-data-path: ; @echo "[$$BNLESSON_DATA]"'
    env = {k: v for k, v in os.environ.items() if k != data.DATA_ENV}
    args = ["make", "-s", "--no-print-directory", "--eval", show, "show-data-path"]
    if where == "environment":
        env[data.DATA_ENV] = value
    else:
        args.append(f"{data.DATA_ENV}={value}")
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == f"[{expected.format(root=ROOT)}]", out.stderr


@pytest.fixture
def labels_server(real_data_dir, server):
    """A local mirror serving the two (small) label files."""
    served, url = server
    for name in data.FILES:
        if "labels" in name:
            (served / f"{name}.gz").write_bytes(
                gzip.compress(real_bytes(real_data_dir, name))
            )
    return url


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


def _fail_with(error_number):
    def fail(*args, **kwargs):
        raise OSError(error_number, os.strerror(error_number))

    return fail

    def flush(self):
        pass


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


# --- the advice fits the situation (issue 20, item 14) ----------------------


def third_fix(message: str) -> str:
    """Return the text of the third way to fix it, on one line."""
    return " ".join(message.split("  3. ")[1].split())


@pytest.mark.parametrize(
    "kind, says",
    [
        ("missing", "{path} does not exist"),
        ("file", "{path} is a file, not a folder: name the folder holding the files"),
    ],
)
def test_a_data_folder_that_is_no_folder_is_named_as_such(
    isolated, monkeypatch, kind, says
):
    path = isolated / "given"
    if kind == "file":
        path.write_bytes(b"")
    monkeypatch.setenv(data.DATA_ENV, str(path))
    with pytest.raises(data.DataError) as err:
        data.ensure_data()
    message = str(err.value)
    assert f"Fashion-MNIST was not found ({says.format(path=path)})" in message
    assert "missing there" not in message


def test_with_bnlesson_data_set_the_download_advice_says_to_unset_it(
    isolated, monkeypatch
):
    # While $BNLESSON_DATA is set no download is tried: going online and
    # running bnlesson.data alone would fail the same way.
    monkeypatch.setenv(data.DATA_ENV, str(isolated / "empty"))
    with pytest.raises(data.DataError) as err:
        data.ensure_data()
    assert third_fix(str(err.value)) == (
        "`unset BNLESSON_DATA` (no download is tried while a folder is named), go "
        "online and run `python -m bnlesson.data` (or `make data`), which downloads "
        f"them into {data.cache_dir()}"
    )
    assert f"it is now {str(isolated / 'empty')!r}" in str(err.value)
    with pytest.raises(data.DataError) as err:
        data.find_data(isolated / "other")
    assert third_fix(str(err.value)).startswith(
        "leave out --root (the `root` argument) and `unset BNLESSON_DATA` (no download"
    )


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


def test_an_unwritable_cache_is_seen_before_any_download(isolated, monkeypatch):
    (isolated / "a-file").write_bytes(b"")  # no folder can be made below it
    monkeypatch.setenv("MXNET_HOME", str(isolated / "a-file" / "home"))
    assert data.main(["--no-download"]) == 1
    with pytest.raises(data.DataError) as err:
        data.find_data()
    assert third_fix(str(err.value)).startswith(
        f"set MXNET_HOME to a folder you can write ({data.cache_dir()} cannot be"
    )
