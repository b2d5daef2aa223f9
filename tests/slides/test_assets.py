"""bnlesson.slides.assets: the reveal.js and MathJax downloads, verified by
SHA-512 (a tarball made here), and each failure explained."""

import base64
import errno
import hashlib
import io
import os
import tarfile
import threading

import pytest

from bnlesson.slides import assets as slide_assets


def _tarball(tmp_path, files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "pkg-1.0.tgz"
    path.write_bytes(buffer.getvalue())
    digest = base64.b64encode(hashlib.sha512(buffer.getvalue()).digest()).decode()
    return path, "sha512-" + digest


def test_verified_tarball_gives_only_the_listed_files(tmp_path):
    files = {"dist/a.js": b"a", "dist/b.js": b"b", "docs/c.md": b"c"}
    path, integrity = _tarball(tmp_path, files)
    package = slide_assets.Package(path.as_uri(), integrity, "pkg", ("dist/a.js",))
    tarball = slide_assets.fetch(package, tmp_path / "cache")
    slide_assets._extract(tarball, package, tmp_path / "pkg")
    got = [p.name for p in (tmp_path / "pkg").rglob("*") if p.is_file()]
    assert sorted(got) == sorted(["a.js", slide_assets.MANIFEST])  # + what it holds


def test_a_hash_mismatch_keeps_nothing(tmp_path):
    path, _ = _tarball(tmp_path, {"a.js": b"a"})
    wrong = "sha512-" + base64.b64encode(hashlib.sha512(b"x").digest()).decode()
    package = slide_assets.Package(path.as_uri(), wrong, "pkg", ("a.js",))
    with pytest.raises(slide_assets.AssetError, match="pinned hash"):
        slide_assets.fetch(package, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_failed_download_says_what_to_do(tmp_path):
    url = (tmp_path / "missing.tgz").as_uri()
    package = slide_assets.Package(url, "sha512-x", "pkg", ("a.js",))
    with pytest.raises(slide_assets.AssetError, match="connect to the network"):
        slide_assets.fetch(package, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_an_unwritable_cache_says_what_to_do(tmp_path):
    path, integrity = _tarball(tmp_path, {"a.js": b"a"})
    (tmp_path / "file").write_text("not a folder")
    package = slide_assets.Package(path.as_uri(), integrity, "pkg", ("a.js",))
    with pytest.raises(slide_assets.AssetError, match="XDG_CACHE_HOME"):
        slide_assets.fetch(package, tmp_path / "file" / "cache")


def test_a_full_disk_is_not_blamed_on_the_network(tmp_path, monkeypatch):
    path, integrity = _tarball(tmp_path, {"a.js": b"a"})
    package = slide_assets.Package(path.as_uri(), integrity, "pkg", ("a.js",))

    def full_disk(fd, mode):
        os.close(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", full_disk)
    with pytest.raises(slide_assets.AssetError) as err:
        slide_assets.fetch(package, tmp_path / "cache")
    assert "Cannot write the download cache" in str(err.value)
    assert "connect to the network" not in str(err.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_builds_installing_into_one_folder_at_once_all_succeed(tmp_path, monkeypatch):
    # Three parallel `make slides` into one folder died 1 time in 3 with
    # "Directory not empty" when swapping in reveal.js; here 4 builds x 5.
    files = {f"dist/{i // 20}/f{i}.js": bytes([i % 256]) * 3000 for i in range(300)}
    path, integrity = _tarball(tmp_path, files)
    package = slide_assets.Package(path.as_uri(), integrity, "pkg", ("dist",))
    monkeypatch.setattr(slide_assets, "PACKAGES", (package,))
    slide_assets.fetch(package, tmp_path / "cache")

    def build(out, start, errors):
        start.wait()
        try:
            slide_assets.install(out, tmp_path / "cache")
        except Exception as err:  # collected for the assert below
            errors.append(err)

    for round_ in range(5):
        out = tmp_path / f"decks{round_}"
        out.mkdir()
        (out / "pkg").mkdir()  # an old, incomplete copy to be replaced
        (out / "pkg" / "stale.js").write_bytes(b"old")
        start, errors = threading.Barrier(4), []
        threads = [
            threading.Thread(target=build, args=(out, start, errors)) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        got = {
            str(p.relative_to(out / "pkg")): p.read_bytes()
            for p in (out / "pkg").rglob("*.js")
        }
        assert got == files, "the installed copy is incomplete or mixed"
        assert sorted(p.name for p in out.iterdir()) == ["pkg"], "leftovers"
