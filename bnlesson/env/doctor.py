"""Can this Python run the lessons? ``python -m bnlesson.env.doctor [--fix]``.

One screen of checks (:mod:`bnlesson.env.checks`), each saying what it found
and, when it fails, how to fix it: the Python version, numpy, the
compatibility layer (:mod:`bnlesson.env.compat`), the system libraries MXNet's
wheel needs, MXNet, d2l, the Jupyter kernel, Fashion-MNIST, and for MXNet's
CUDA build its CUDA libraries and the GPUs. The exit status is 0 when the
lessons can run, 1 otherwise.

``--fix`` first installs what is missing: MXNet 1.9.1 and d2l 1.0.3 as the
Python version requires and the ``.pth`` file that activates the
compatibility layer (:mod:`bnlesson.env.install`), then the data (a download
into MXNet's cache). ``--fix --gpu cu117`` puts MXNet's CUDA build and its
CUDA libraries in place of the CPU build.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from bnlesson.env import checks, compat, install


@dataclass
class Check:
    """One line of the report: `status` is "ok", "warn" or "FAIL"."""

    name: str
    status: str
    found: str
    fix: str = ""


def run(name: str, check: Callable[[], tuple]) -> Check:
    """Run one check; a check that breaks is reported, not raised."""
    try:
        return Check(name, *check())
    except Exception as err:  # a broken check must not hide the others
        return Check(name, "FAIL", f"the check itself failed: {err!r}")


def report(results: Sequence[Check]) -> bool:
    """Print one line per check, and the fix under each that is not ok.

    Return True when none failed, i.e. the lessons can run.
    """
    print("bnlesson doctor: can this Python run the lessons?")
    for c in results:
        print(f"  {c.status:4s}  {c.name:15s} {c.found}")
        if c.fix and c.status != "ok":
            print("        fix: " + c.fix.replace("\n", "\n             "))
    failed = [c.name for c in results if c.status == "FAIL"]
    if failed:
        print(
            f"{len(failed)} check(s) failed ({', '.join(failed)}): fix them, "
            "then run `python -m bnlesson.env.doctor` again."
        )
    else:
        print("The lessons can run here.")
    return not failed


def fix(gpu: str | None, fetch_data: bool) -> None:
    """Install what is missing: MXNet, d2l, the layer's .pth, the data."""
    if install.main(["--gpu", gpu] if gpu else []) != 0:
        print("The install failed (above); the checks below say what is missing.")
    compat.activate()  # new processes get it from the .pth; this one now
    if fetch_data:
        from bnlesson import data

        try:
            print(f"Fashion-MNIST in {data.ensure_data()}")
        except data.DataError as err:
            print(f"Could not fetch Fashion-MNIST: {str(err).splitlines()[0]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bnlesson.env.doctor",
        description="Check that this Python can run the lessons, and say how to fix "
        "what is missing. Exit status 0 when it can.",
    )
    parser.add_argument("--fix", action="store_true", help="install what is missing")
    parser.add_argument(
        "--gpu", metavar="cu117", help="with --fix: MXNet's CUDA 11 build instead"
    )
    parser.add_argument(
        "--no-data", action="store_true", help="neither fetch nor check the dataset"
    )
    args = parser.parse_args(argv)
    if args.gpu and not args.fix:
        parser.error("--gpu goes with --fix")
    if args.fix:
        fix(args.gpu, fetch_data=not args.no_data)
    chosen = [
        (n, c) for n, c in checks.CHECKS if not (args.no_data and c is checks.dataset)
    ]
    return 0 if report([run(name, check) for name, check in chosen]) else 1


if __name__ == "__main__":
    sys.exit(main())
