"""Run-time settings shared by the lessons: the run mode, seeds and versions.

Three modes run the same notebook code at three sizes (``BNLESSON_MODE``):
full gives the committed outputs; live fits each lesson in about a minute
on a 2-core CPU, for a lecture; fast (also ``BNLESSON_FAST=1``, set by
``make test``) is the smallest run that executes every cell, for CI.
"""

from __future__ import annotations

import os
import platform
import random
import re

import numpy as onp

FAST_ENV = "BNLESSON_FAST"
MODE_ENV = "BNLESSON_MODE"
#: full: the committed outputs (all data, every epoch); live: about a minute
#: per lesson on a 2-core CPU, for a lecture; fast: the smallest run that
#: executes every cell, for CI.
MODES = ("full", "live", "fast")
FAST_MAX_EPOCHS = 1
_DESCRIPTIONS = {
    "full": "all data and every epoch, as committed",
    "live": "a lecture's minute per lesson: data subsets, fewer epochs",
    "fast": "small data, at most 1 epoch, for CI",
}


#: The values ``$BNLESSON_FAST`` may take (any case): on, and off (or unset).
FAST_ON = ("1", "true", "yes", "on")
FAST_OFF = ("0", "false", "no", "off")


def _flag(value: str) -> bool:
    """Return whether `value` of ``$BNLESSON_FAST`` asks for fast mode.

    Only the values of :data:`FAST_ON` and :data:`FAST_OFF` are accepted: a
    typo such as ``n`` or ``fasle`` must not silently mean fast.
    """
    word = value.strip().lower()
    if word in FAST_ON:
        return True
    if not word or word in FAST_OFF:
        return False
    raise ValueError(
        f"{FAST_ENV}={value!r} is neither on nor off: set {FAST_ENV}=1 for fast "
        f"mode (or {', '.join(FAST_ON[1:])}), {FAST_ENV}=0 for not fast (or "
        f"{', '.join(FAST_OFF[1:])}), or unset it"
    )


def mode() -> str:
    """Return the run mode: ``"full"``, ``"live"`` or ``"fast"``.

    ``$BNLESSON_MODE`` names it, in any case; without it ``BNLESSON_FAST=1``
    (or true, yes, on) still means fast, and 0 (false, no, off) or unset full.

    Raises
    ------
    ValueError
        If ``$BNLESSON_MODE`` is not a mode, ``$BNLESSON_FAST`` is not one of
        the values above, or ``$BNLESSON_FAST`` asks for fast beside another
        mode: refused rather than guessed.
    """
    name = os.environ.get(MODE_ENV, "").strip().lower()
    fast_value = os.environ.get(FAST_ENV, "").strip()
    fast = _flag(fast_value)
    if not name:
        return "fast" if fast else "full"
    if name not in MODES:
        raise ValueError(
            f"{MODE_ENV}={name!r} is not a run mode: set it to one of "
            f"{', '.join(MODES)}, or unset it for full"
        )
    if fast and name != "fast":
        raise ValueError(
            f"{MODE_ENV}={name} and {FAST_ENV}={fast_value} ask for two run modes: "
            f"unset {FAST_ENV} (or set {MODE_ENV}=fast)"
        )
    return name


def fast_mode() -> bool:
    """Return True in fast mode (``BNLESSON_MODE=fast`` or ``BNLESSON_FAST=1``)."""
    return mode() == "fast"


def live_mode() -> bool:
    """Return True in live mode (``BNLESSON_MODE=live``)."""
    return mode() == "live"


def set_seed(seed: int = 0) -> None:
    """Seed Python's, NumPy's and MXNet's generators so CPU runs repeat exactly."""
    import mxnet as mx

    random.seed(seed)
    onp.random.seed(seed)  # noqa: NPY002 - seeds the global generator others use
    mx.random.seed(seed)


def versions() -> dict:
    """Return the versions of the stack in use and the run mode."""
    import d2l
    import mxnet as mx

    return {
        "python": platform.python_version(),
        "mxnet": mx.__version__,
        "d2l": d2l.__version__,
        "numpy": onp.__version__,
        "mode": mode(),
    }


def print_versions() -> None:
    """Print one line with the versions in use.

    The run mode is not printed: a lesson's sizes say themselves when they
    are smaller than full (:func:`bnlesson.core.sizes.sizes`).
    """
    v = versions()
    print(
        f"Python {v['python']}, MXNet {v['mxnet']}, d2l {v['d2l']}, numpy {v['numpy']}"
    )


DEVICE_ENV = "BNLESSON_DEVICE"
_DEVICE = re.compile(r"^(cpu|gpu)(?:(?::|\()(\d+)\)?)?$")


def default_device():
    """Return the device the lessons train on: ``d2l.try_gpu()`` unless told.

    ``$BNLESSON_DEVICE`` names another: ``cpu``, ``cpu:1`` (or ``cpu(1)``),
    ``gpu``, ``gpu:0``, in any case. MXNet keeps ``cpu(1)`` apart from
    ``cpu(0)``, the default device of new arrays, so on ``cpu:1`` an array a
    lesson forgets to move fails as it would on a GPU.

    Raises
    ------
    ValueError
        If ``$BNLESSON_DEVICE`` is not such a name, or names a GPU that
        MXNet does not see.
    """
    import mxnet as mx
    from d2l import mxnet as d2l

    value = os.environ.get(DEVICE_ENV, "").strip()
    if not value:
        return d2l.try_gpu()
    match = _DEVICE.match(value.lower())
    if not match:
        raise ValueError(
            f"{DEVICE_ENV}={value!r} is not a device: use cpu, cpu:1, gpu or "
            f"gpu:0 (or unset it for the first GPU, else the CPU)"
        )
    kind, index = match.group(1), int(match.group(2) or 0)
    if kind == "gpu" and index >= mx.context.num_gpus():
        raise ValueError(
            f"{DEVICE_ENV}={value} names gpu({index}), but MXNet sees "
            f"{mx.context.num_gpus()} GPU(s): unset {DEVICE_ENV}, or install the "
            "CUDA build (README, 'On a GPU')"
        )
    return mx.Context(kind, index)


def device_or_default(device=None):
    """`device`, or :func:`default_device` when it is None (a function's default)."""
    return default_device() if device is None else device
