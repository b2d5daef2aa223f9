"""Refuse an unsupported Python before pip fails with a wall of compiler output.

Runs on any Python 3 with the standard library only, so it can check the
interpreter that is about to create `.venv`. Python 3.8-3.11 get the pinned
stack (numpy 1.23.5), 3.12 and 3.13 current releases with bnlesson.env.compat;
a newer Python is tried, with a warning.
"""

import sys

SUPPORTED = ((3, 8), (3, 13))  # oldest and newest tested


def problem(version=None):
    """Return a message saying what to do, or None if `version` can be tried."""
    major, minor = tuple(version or sys.version_info[:2])[:2]
    if (major, minor) >= SUPPORTED[0]:
        return None
    return (
        "bnlesson needs Python {}.{} or newer, but this is Python {}.{}.\n"
        "Install Python 3.11 (the pinned stack of the lessons' outputs) or 3.13\n"
        "and run: make PY=3.11 ... (or make PYTHON=/path/to/python3.11 ...)\n"
        "  e.g. `pyenv install 3.11`, `uv python install 3.11`, or apt's python3.11;\n"
        "or use conda: `conda env create -f environment.yml && "
        "conda activate bnlesson`,\n"
        "  then `make VENV=$CONDA_PREFIX ...`".format(
            SUPPORTED[0][0], SUPPORTED[0][1], major, minor
        )
    )


def warning(version=None):
    """Return a warning for a Python newer than any tested, or None."""
    major, minor = tuple(version or sys.version_info[:2])[:2]
    if (major, minor) <= SUPPORTED[1]:
        return None
    return (
        "warning: Python {}.{} is newer than any bnlesson was tested on ({}.{}); "
        "trying anyway. If something fails, run `python -m bnlesson.env.doctor`, "
        "or use Python 3.13: make PY=3.13 ...".format(
            major, minor, SUPPORTED[1][0], SUPPORTED[1][1]
        )
    )


if __name__ == "__main__":
    message = problem()
    if message:
        sys.stderr.write(message + "\n")
        sys.exit(1)
    if warning():
        sys.stderr.write(warning() + "\n")
