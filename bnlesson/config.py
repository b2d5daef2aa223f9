"""Run-time settings shared by the lessons: fast mode, seeds and versions.

Fast mode (``BNLESSON_FAST=1``, set by ``make test``) shrinks the data and the
number of epochs so that CI can execute every notebook in minutes, while the
notebooks' code stays the same in both modes.
"""

from __future__ import annotations

import os
import platform
import random

import numpy as onp

FAST_ENV = "BNLESSON_FAST"
FAST_MAX_EPOCHS = 1


def fast_mode() -> bool:
    """Return True when ``$BNLESSON_FAST`` asks for the small CI configuration."""
    value = os.environ.get(FAST_ENV, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def epochs(num_epochs: int) -> int:
    """Return `num_epochs`, or at most ``FAST_MAX_EPOCHS`` in fast mode."""
    return min(num_epochs, FAST_MAX_EPOCHS) if fast_mode() else num_epochs


def pick(full, fast):
    """Return `fast` in fast mode and `full` otherwise (for sizes and step counts)."""
    return fast if fast_mode() else full


def set_seed(seed: int = 0) -> None:
    """Seed Python's, NumPy's and MXNet's generators so CPU runs repeat exactly."""
    import mxnet as mx

    random.seed(seed)
    onp.random.seed(seed)  # noqa: NPY002 - seeds the global generator others use
    mx.random.seed(seed)


def versions() -> dict:
    """Return the versions of the stack in use and whether fast mode is on."""
    import d2l
    import mxnet as mx

    return {
        "python": platform.python_version(),
        "mxnet": mx.__version__,
        "d2l": d2l.__version__,
        "numpy": onp.__version__,
        "fast_mode": fast_mode(),
    }


def print_versions() -> None:
    """Print one line with the versions in use and the fast-mode switch."""
    v = versions()
    mode = (
        "on (BNLESSON_FAST=1: small data, at most 1 epoch)" if v["fast_mode"] else "off"
    )
    print(
        f"Python {v['python']}, MXNet {v['mxnet']}, d2l {v['d2l']}, "
        f"numpy {v['numpy']}; fast mode {mode}"
    )
