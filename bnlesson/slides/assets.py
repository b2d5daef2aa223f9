"""Local copies of reveal.js and MathJax, so that the decks work offline.

Infrastructure for :mod:`bnlesson.slides`. The npm registry's tarballs are
downloaded once into :func:`cache_dir`, checked against the SHA-512 pinned in
:data:`PACKAGES` before anything is extracted, and only the files a deck
loads are copied next to the decks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import NamedTuple

from bnlesson.core.fetch import DownloadFailed, download_to


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
            "config/Safe.js",  # the decks' MathJax URL asks for it
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

    A package already installed there, complete and of the pinned release, is
    left as it is. Several builds may install into one `out` at once: each
    extracts into a folder of its own and renames it into place, and a build
    that finds another's complete copy there keeps that one.

    Raises
    ------
    AssetError
        If a download fails, a tarball does not match its pinned hash, or a
        package's folder in `out` cannot be written or replaced.
    """
    for package in PACKAGES:
        if _installed(package, out / package.folder):
            continue
        tarball = fetch(package, cache or cache_dir())
        try:
            _extract(tarball, package, out / package.folder)
        except OSError as err:
            raise AssetError(
                f"Cannot write {out / package.folder} ({err}): make {out} "
                "writable, or build the decks into another folder (--out DIR)."
            ) from None


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


#: Written into each package's folder last: the release and every file's size.
MANIFEST = ".bnlesson-assets.json"
#: How often a build retries putting its copy in place while others do too.
ATTEMPTS = 20


def _extract(tarball: Path, package: Package, dest: Path) -> None:
    """Copy the package's listed files into `dest`, via a temporary folder.

    The folder gets its manifest before it is renamed to `dest`, so a
    `dest` with a matching manifest is complete (see :func:`_installed`).
    """
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and _wanted(m, package)]
        tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".part-", dir=dest.parent))
        try:
            sizes = {}
            for member in members:
                name = member.name.split("/", 1)[1]
                path = tmp / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(tar.extractfile(member).read())
                sizes[name] = member.size
            manifest = {
                "integrity": package.integrity,
                "wanted": list(package.files),  # a longer list installs anew
                "files": sizes,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            tmp.chmod(0o755)  # mkdtemp's folder is private; the decks are not
            _put_in_place(tmp, package, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _put_in_place(tmp: Path, package: Package, dest: Path) -> None:
    """Rename `tmp` to `dest`, unless another build got a complete copy there.

    Renaming a folder onto a non-empty one fails (``Directory not empty``), so
    an old or incomplete `dest` is first renamed aside. Other builds may do
    the same at the same moment: whoever's rename fails looks again, and
    keeps the other's copy once it is complete.
    """
    for _ in range(ATTEMPTS):
        if _installed(package, dest):
            return  # another build's complete copy: ours is removed
        try:
            os.replace(tmp, dest)
            return
        except FileNotFoundError:
            raise  # our own copy is gone: not a race, a real failure
        except OSError:  # `dest` exists: move it aside, then try again
            aside = Path(tempfile.mkdtemp(prefix=dest.name + ".old-", dir=dest.parent))
            try:
                os.replace(dest, aside / dest.name)
            except FileNotFoundError:
                pass  # another build moved it aside first
            finally:
                shutil.rmtree(aside, ignore_errors=True)
    raise AssetError(
        f"Could not put {package.folder} into {dest.parent}: {ATTEMPTS} attempts "
        "failed while other builds replaced it. Let the other builds finish, "
        "then run `make slides` again."
    )


def _installed(package: Package, dest: Path) -> bool:
    """True if `dest` holds the pinned release's listed files, complete."""
    try:
        manifest = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
        return (
            manifest["integrity"] == package.integrity
            and manifest.get("wanted") == list(package.files)
        ) and all(
            (dest / name).stat().st_size == size
            for name, size in manifest["files"].items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False  # missing, half-removed or not ours: install afresh


def _wanted(member: tarfile.TarInfo, package: Package) -> bool:
    name = member.name.split("/", 1)[1]  # inside the tarball's top folder
    return any(name == f or name.startswith(f + "/") for f in package.files)
