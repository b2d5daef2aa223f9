"""Local copies of reveal.js and MathJax, so that the decks work offline.

Infrastructure for :mod:`bnlesson.slides`. The npm registry's tarballs are
downloaded once into :func:`cache_dir`, checked against the SHA-512 pinned in
:data:`PACKAGES` before anything is extracted, and only the files a deck
loads are copied next to the decks.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import NamedTuple

from .fetch import DownloadFailed, download_to


class Package(NamedTuple):
    """An npm tarball, its pinned hash, and the files a deck needs from it."""

    url: str
    integrity: str  # the registry's "sha512-<base64>"
    folder: str  # where the files go, next to the decks
    files: tuple  # paths (or folders) inside the tarball's ``package/``


PACKAGES = (
    Package(
        "https://registry.npmjs.org/reveal.js/-/reveal.js-4.6.1.tgz",
        "sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/LKWDO"
        "GjMbaDwKQiGmfqcoGQ74HUHCMw==",
        "reveal.js",
        (
            "dist/reveal.css",
            "dist/reveal.js",
            "dist/theme/white.css",
            "dist/theme/fonts/source-sans-pro",
            "plugin/notes/notes.js",
        ),
    ),
    # 2.7.x: the version nbconvert's templates configure.
    Package(
        "https://registry.npmjs.org/mathjax/-/mathjax-2.7.9.tgz",
        "sha512-NOGEDTIM9+MrsqnjPEjVGNx4q0GQxqm61yQwSK+/5S59i26wId5IC5gNu9/b"
        "u8+CCVl5p9G2IHcAl/wJa+5+BQ==",
        "mathjax",
        (
            "MathJax.js",
            "config/TeX-AMS_CHTML-full.js",
            "extensions",
            "jax/input/TeX",
            "jax/element",
            "jax/output/CommonHTML",
            "jax/output/PreviewHTML",
            "fonts/HTML-CSS/TeX/woff",
            "localization/en",
        ),
    ),
)


class AssetError(RuntimeError):
    """reveal.js or MathJax could not be downloaded or failed its hash check."""


def cache_dir() -> Path:
    """Return where the tarballs are kept: ``$XDG_CACHE_HOME/bnlesson``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bnlesson"


def install(out: Path, cache: Path | None = None) -> None:
    """Copy every package's files into `out` (``out/reveal.js``, ``out/mathjax``).

    Raises
    ------
    AssetError
        If a download fails or a tarball does not match its pinned hash.
    """
    for package in PACKAGES:
        tarball = fetch(package, cache or cache_dir())
        _extract(tarball, package, out / package.folder)


def fetch(package: Package, cache: Path) -> Path:
    """Return the verified tarball of `package` in `cache`, downloading it once.

    The download goes to a temporary file that is renamed only after its
    SHA-512 matches, so no half-written or wrong tarball is ever kept.
    """
    target = cache / package.url.rsplit("/", 1)[1]
    if target.exists() and _digest(target.read_bytes()) == package.integrity:
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        download_to(package.url, target, lambda part: _verify(part, package), 60)
    except DownloadFailed as err:
        raise AssetError(
            f"Could not download {package.url} ({err}). The slides need it once "
            f"(later builds use the copy in {cache}): connect to the network and "
            f"run `make slides` again, or put that file into {cache} yourself."
        ) from None
    except OSError as err:
        raise AssetError(
            f"Cannot write the download cache {cache} ({err}): make it writable "
            "and give it 25 MB, or point XDG_CACHE_HOME to a folder that is."
        ) from None
    return target


def _digest(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _verify(path: Path, package: Package) -> None:
    got = _digest(path.read_bytes())
    if got != package.integrity:
        raise AssetError(
            f"{package.url} does not match its pinned hash (got {got}, "
            f"expected {package.integrity}): the download is corrupt or not "
            "the pinned release. Nothing was kept; run `make slides` again, "
            "and if it persists, check the network's proxy."
        )


def _extract(tarball: Path, package: Package, dest: Path) -> None:
    """Copy the package's listed files into `dest`, via a temporary folder."""
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and _wanted(m, package)]
        tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".part-", dir=dest.parent))
        try:
            for member in members:
                path = tmp / member.name.split("/", 1)[1]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(tar.extractfile(member).read())
            tmp.chmod(0o755)  # mkdtemp's folder is private; the decks are not
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _wanted(member: tarfile.TarInfo, package: Package) -> bool:
    name = member.name.split("/", 1)[1]  # inside the tarball's top folder
    return any(name == f or name.startswith(f + "/") for f in package.files)
