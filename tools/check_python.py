"""Refuse an unsupported Python before pip fails with a wall of compiler output.

Runs on any Python 3 with the standard library only, so it can check the
interpreter that is about to create `.venv`.
"""

import sys

SUPPORTED = ((3, 8), (3, 11))  # numpy 1.23.5 ships wheels for these only


def problem(version=None):
    """Return a message saying what to do, or None if `version` is supported."""
    major, minor = tuple(version or sys.version_info[:2])[:2]
    low, high = SUPPORTED
    if low <= (major, minor) <= high:
        return None
    return (
        "bnlesson needs Python {}.{} to {}.{}, but this is Python {}.{}.\n"
        "MXNet 1.9.1 needs numpy 1.23.5, which has no wheels for newer Pythons.\n"
        "Fix it one of two ways:\n"
        "  1. install a Python 3.11 interpreter and run: make PYTHON=python3.11 ...\n"
        "     (e.g. `pyenv install 3.11`, `uv python install 3.11`, "
        "or apt's python3.11)\n"
        "  2. use conda: `conda env create -f environment.yml && "
        "conda activate bnlesson`,\n"
        "     then `make VENV=$CONDA_PREFIX ...`".format(
            low[0], low[1], high[0], high[1], major, minor
        )
    )


if __name__ == "__main__":
    message = problem()
    if message:
        sys.stderr.write(message + "\n")
        sys.exit(1)
