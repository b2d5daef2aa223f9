"""Execute every lesson in one run mode and print how long each one took.

    python tools/time_lessons.py [--mode live] [--budget 60] [notebook ...]

Each notebook (by default every ``notebooks/NN_*.ipynb``, in order) runs top
to bottom in a fresh kernel with ``BNLESSON_MODE`` set to the chosen mode, in
its own folder as Jupyter would run it. The executed copy is written to
``--output-dir`` (by default a temporary folder, deleted at the end): the
committed notebooks are never changed. The wall time counts the kernel's
start, as a lecturer's "Restart and run all" does.

Exit status: 0 when every notebook ran (and stayed within the budget, if
one is given); 1 when a notebook failed (the message names the cell) or
could not be read (the others still run); 2 for bad arguments; 3 when all
ran but some took longer than the budget.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("full", "live", "fast")
#: Live mode's promise: every lesson in at most a minute (see the README).
LIVE_BUDGET = 60.0


@dataclass
class Result:
    name: str
    seconds: float | None  # None: the notebook could not be read, not run
    error: str | None = None


class Unreadable(ValueError):
    """A notebook file that nbformat cannot read; the message says what to do."""


def read(path: Path):
    """Return the notebook at `path`, or raise :class:`Unreadable`."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except OSError as err:
        why = err.strerror or str(err)
    except UnicodeDecodeError:
        why = "it is not UTF-8 text"
    except nbformat.reader.NotJSONError:
        why = "it is not JSON"
    except Exception as err:  # nbformat's ValidationError, KeyError, ...
        text = str(err).strip()
        why = "nbformat: " + (text.splitlines()[0] if text else repr(err))
    raise Unreadable(
        f"{path} cannot be read ({why}): restore it (git checkout -- {path}) "
        "or save it again from Jupyter"
    )


def lessons(folder: Path = ROOT / "notebooks") -> list[Path]:
    """Return the lesson notebooks ``NN_*.ipynb`` of `folder`, sorted."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def _failed_cell(nb, index: int, err: Exception) -> str:
    """Say which cell failed: its ``In [n]`` as Jupyter shows it, and its start."""
    cell = nb.cells[index]
    number = cell.get("execution_count") or sum(
        c.cell_type == "code" for c in nb.cells[: index + 1]
    )
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    name = getattr(err, "ename", type(err).__name__)
    value = getattr(err, "evalue", str(err)).strip().splitlines()
    why = f"{name}: {value[0]}" if value else name
    where = f"cell In [{number}] (cell {index + 1} of the notebook)"
    return f"{where}, which starts {first!r}: {why}"


def run(path: Path, mode: str, out_dir: Path, timeout: int | None) -> Result:
    """Execute a copy of `path` in `mode`, write it to `out_dir`, time it."""
    import nbformat
    from nbclient import NotebookClient  # what nbconvert --execute runs

    try:
        nb = read(path)
    except Unreadable as err:  # reported; the other lessons still run
        return Result(path.stem, None, str(err))
    # The explicit mode wins over a BNLESSON_FAST left in the environment.
    env = {k: v for k, v in os.environ.items() if k != "BNLESSON_FAST"}
    env["BNLESSON_MODE"] = mode
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    error = None
    start = time.perf_counter()
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            try:
                client.execute_cell(cell, index)
            except Exception as err:  # CellExecutionError, a timeout, a dead kernel
                error = _failed_cell(nb, index, err)
                break
    seconds = time.perf_counter() - start
    nbformat.write(nb, out_dir / path.name)
    return Result(path.stem, seconds, error)


def _lessons(n: int) -> str:
    return f"{n} lesson" + ("" if n == 1 else "s")


def _line(result: Result, budget: float | None, width: int) -> str:
    if result.seconds is None:
        return f"{result.name:<{width}} {'-':>6}    NOT RUN: {result.error}"
    head = f"{result.name:<{width}} {result.seconds:6.1f} s"
    if result.error:
        return f"{head}  FAILED in {result.error}"
    if budget is None:
        return head
    verdict = "within" if result.seconds <= budget else "OVER"
    return f"{head}  {verdict} the {budget:g} s budget"


def summary(results: list[Result], mode: str, budget: float | None) -> int:
    """Print the closing lines and return the exit status."""
    unread = [r for r in results if r.seconds is None]
    failed = [r for r in results if r.error and r.seconds is not None]
    over = [r for r in results if not r.error and budget and r.seconds > budget]
    if unread:
        names = ", ".join(r.name for r in unread)
        print(
            f"{len(unread)} of {_lessons(len(results))} could not be read and "
            f"did not run: {names} (see NOT RUN above for what to do).",
            file=sys.stderr,
        )
    if failed:
        names = ", ".join(r.name for r in failed)
        print(
            f"{len(failed)} of {_lessons(len(results))} failed in {mode} mode: "
            f"{names}. To see the whole traceback, open the lesson in Jupyter "
            f"(make lab MODE={mode}) and run all cells.",
            file=sys.stderr,
        )
    if unread or failed:
        return 1
    if over:
        names = ", ".join(r.name for r in over)
        fix = "Shrink their live sizes (bnlesson/core/sizes.py, SMALLER) or re-time"
        print(
            f"{len(over)} of {_lessons(len(results))} took longer than "
            f"{budget:g} s in {mode} mode: {names}. "
            f"{fix if mode == 'live' else 'Re-time'} them on a quieter machine.",
            file=sys.stderr,
        )
        return 3
    total = sum(r.seconds for r in results)
    within = f", each within {budget:g} s" if budget else ""
    print(f"{_lessons(len(results))} ran in {mode} mode in {total:.0f} s{within}")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python tools/time_lessons.py",
        description="Execute lessons in one run mode (copies only) and time them.",
    )
    p.add_argument(
        "notebooks", nargs="*", type=Path,
        help="notebooks to run (default: every notebooks/NN_*.ipynb)",
    )  # fmt: skip
    p.add_argument(
        "--mode", default="live", choices=MODES,
        help="the run mode (BNLESSON_MODE) of the kernels; default live",
    )  # fmt: skip
    p.add_argument(
        "--budget", type=float, default=None,
        help=f"seconds each lesson may take (default: {LIVE_BUDGET:g} in live "
        "mode, none otherwise; 0 for none)",
    )  # fmt: skip
    p.add_argument(
        "--timeout", type=int, default=None,  # nbclient takes whole seconds
        help="whole seconds one cell may take before it counts as failed (default: "
        "no limit)",
    )  # fmt: skip
    p.add_argument(
        "--output-dir", type=Path, default=None,
        help="keep the executed copies here (default: a temporary folder, "
        "deleted at the end)",
    )  # fmt: skip
    return p


def _check(parser: argparse.ArgumentParser, args) -> list[Path]:
    """Return the notebooks to run, or stop with what to do instead."""
    paths = args.notebooks or lessons()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if not paths:
        parser.error(f"no lesson notebooks (NN_*.ipynb) in {ROOT / 'notebooks'}")
    # NaN compares False with everything: as a budget it marked every lesson
    # OVER and yet exited 0; a negative one would fail them all. nbclient
    # takes a timeout of 0 or below as none at all, the opposite of a limit.
    budget, timeout = args.budget, args.timeout
    if budget is not None and not (math.isfinite(budget) and budget >= 0):
        parser.error(
            "--budget must be a number of seconds of at least 0 (0 for no "
            f"budget), not {budget:g}"
        )
    if timeout is not None and timeout <= 0:
        parser.error(
            "--timeout must be a whole number of seconds above 0 (leave it out "
            f"for no limit), not {timeout}"
        )
    folders = {p.parent.resolve() for p in paths}
    out = args.output_dir
    if out and out.resolve() in folders:
        parser.error(
            "--output-dir is the notebooks' own folder, where the executed "
            "copies would overwrite them: name another folder"
        )
    if out and out.exists() and not out.is_dir():
        parser.error(
            f"--output-dir {out} is a file, not a folder: name a folder for the "
            "executed copies (it is created if missing)"
        )
    if out:
        try:  # here, not after the first lesson has run for minutes
            out.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".time-lessons-probe-", dir=out)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            parser.error(
                f"--output-dir {out} cannot be written ({err.strerror or err}): "
                "make it writable, or name a folder you can write"
            )
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    paths = _check(parser, args)
    budget = args.budget
    if budget is None and args.mode == "live":
        budget = LIVE_BUDGET
    budget = budget or None  # --budget 0: times only
    with tempfile.TemporaryDirectory(prefix="bnlesson-times-") as tmp:
        out_dir = args.output_dir or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        limit = f", budget {budget:g} s each" if budget else ""
        print(f"Executing {_lessons(len(paths))} in {args.mode} mode{limit}")
        width = max(len(p.stem) for p in paths)
        results = []
        for path in paths:
            results.append(run(path, args.mode, out_dir, args.timeout))
            print(_line(results[-1], budget, width), flush=True)
        return summary(results, args.mode, budget)


if __name__ == "__main__":
    sys.exit(main())
