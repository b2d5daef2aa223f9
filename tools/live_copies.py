"""The folder ``make lab`` serves: the committed notebooks, or copies of them.

    python tools/live_copies.py --copies live notebooks/01_x.ipynb ...

Prints the folder Jupyter Lab should serve. In full mode (the run mode of
this process's environment, as the kernels will see it: ``BNLESSON_MODE``,
``BNLESSON_FAST``) that is the committed notebooks' folder: running them
reproduces the committed outputs. In live or fast mode, a kernel's outputs
are not the committed ones and Lab's autosave would write them over the
lessons; so the notebooks are copied into ``--copies`` (git-ignored, the
same layout: ``live/03_x.ipynb``, ``live/solutions/...``) and that folder is
served.

A copy is made once and then kept, with whatever the student typed and ran
in it. Only when the committed notebook changed since its copy was made
(say, after ``git pull``; the copy records the SHA-256 of the notebook it
came from in ``metadata.bnlesson.copied_from``) is the copy replaced by a
fresh one, and the old copy is kept as ``<copies>/earlier/<name>-<time>.ipynb``.
Deleting a copy gives a fresh one at the next ``make lab``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Where a copy records the notebook it was made from.
KEY = "bnlesson"


def sha256(path: Path) -> str:
    """The SHA-256 of the file at `path`, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copied_from(path: Path) -> str | None:
    """The source hash recorded in the copy at `path` (None if unreadable)."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # a broken copy is replaced, and kept in earlier/
        return None
    return nb.metadata.get(KEY, {}).get("copied_from")


def _write_copy(source: Path, target: Path) -> None:
    import nbformat
    from nbformat.sign import NotebookNotary

    nb = nbformat.read(source, as_version=4)
    nb.metadata[KEY] = {"copied_from": sha256(source)}
    # Signed as `jupyter trust` signs the lessons: the copy shows its figures.
    NotebookNotary().sign(nb)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def refresh(source: Path, target: Path) -> str:
    """Make `target` a copy of `source` unless it already is one of this version.

    Returns what was done: ``"new"``, ``"kept"`` or ``"refreshed"`` (the
    earlier copy moved to ``earlier/`` beside the top folder of copies).
    """
    if not target.exists():
        _write_copy(source, target)
        return "new"
    if _copied_from(target) == sha256(source):
        return "kept"
    return "refreshed"


def make_copies(notebooks: list[Path], base: Path, copies: Path) -> dict[Path, str]:
    """Copy each notebook (a path under `base`, absolute) to the same place
    under `copies`.

    Returns each copy's path and what :func:`refresh` did with it.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    done = {}
    for source in notebooks:
        target = copies / source.resolve().relative_to(base)
        what = refresh(source, target)
        if what == "refreshed":
            earlier = copies / "earlier" / f"{target.stem}-{stamp}{target.suffix}"
            earlier.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(target, earlier)
            _write_copy(source, target)
        done[target] = what
    return done


def lab_root(notebooks: list[Path], copies: Path, run_mode: str) -> Path:
    """The folder to serve in `run_mode`; makes the copies unless it is full.

    `notebooks` are the lessons and solutions; their common folder is
    served in full mode.
    """
    base = Path(os.path.commonpath([p.resolve().parent for p in notebooks]))
    if run_mode == "full":
        return base
    done = make_copies(notebooks, base, copies)
    for what in ("new", "refreshed"):
        names = [t.name for t, w in done.items() if w == what]
        if names:
            print(f"{len(names)} {what} copies: {', '.join(names)}", file=sys.stderr)
    if "refreshed" in done.values():
        print(f"(the earlier copies are in {copies / 'earlier'}/)", file=sys.stderr)
    return copies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=Path, default=ROOT / "live")
    parser.add_argument("notebooks", type=Path, nargs="+")
    args = parser.parse_args(argv)
    # The run mode as the kernels will read it, from this checkout's package.
    sys.path.insert(0, str(ROOT))
    from bnlesson.core.config import mode

    run_mode = mode()
    root = lab_root(args.notebooks, args.copies, run_mode)
    if root == args.copies:
        print(
            f"{run_mode} mode: Lab serves copies of the lessons in {root}/ (the "
            "committed notebooks keep their full-mode outputs)",
            file=sys.stderr,
        )
    print(os.fspath(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
