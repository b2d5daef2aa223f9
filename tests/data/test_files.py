"""Where Fashion-MNIST is looked for, and how each file is verified
(``bnlesson.data.files``): the search order, the SHA-256 of the real files,
and the advice when the data is not found."""

import gzip
import os
import shutil
import subprocess

import pytest
from datafiles import SMALL, fill, real_bytes, third_fix

from bnlesson import data
from bnlesson.data import files as dataset

from nbutil import ROOT

# --- where the files are looked for --------------------------------------------


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


# --- verification --------------------------------------------------------------


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


# --- relative paths (issue 9) --------------------------------------------------


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


# --- the advice fits the situation (issue 20, item 14) -------------------------


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


def test_an_unwritable_cache_is_seen_before_any_download(isolated, monkeypatch):
    (isolated / "a-file").write_bytes(b"")  # no folder can be made below it
    monkeypatch.setenv("MXNET_HOME", str(isolated / "a-file" / "home"))
    assert data.main(["--no-download"]) == 1
    with pytest.raises(data.DataError) as err:
        data.find_data()
    assert third_fix(str(err.value)).startswith(
        f"set MXNET_HOME to a folder you can write ({data.cache_dir()} cannot be"
    )
