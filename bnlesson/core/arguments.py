"""Checks of plain arguments (numbers, sizes), shared by the package.

Without MXNet, so that :mod:`bnlesson.data` can use them and still run
(``python -m bnlesson.data``) where MXNet does not import. Each message says
what was wrong, with the value and its type, and what to write instead.
"""

from __future__ import annotations

import math
import numbers


def shown(value) -> str:
    """`value` as a message shows it: a NumPy scalar as its plain Python value.

    NumPy 2 writes ``np.float32(8.0)`` where NumPy 1 wrote ``8.0``; the
    message names the type apart, so it reads the same on either.
    """
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    return repr(value)


def is_number(value) -> bool:
    """True for a real number (int, float, NumPy scalar); False for a bool, a string...

    A bool is refused although Python treats it as 0 or 1: ``lr=True`` is a
    slip, not a learning rate of 1.
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def not_a_number(name: str, value, example: str) -> str:
    """The message for a `value` of `name` that is not a number, with the fix.

    `example` is a valid assignment, e.g. ``"lr=0.1"``. The type is named,
    because ``'0.1'`` prints like ``0.1`` in most places (a run label, a
    table).
    """
    if isinstance(value, str):
        got = f"the string {value!r}: write the number without quotes"
    elif value is None:
        got = "None: give a value"
    elif isinstance(value, bool):
        got = (
            f"{value} (a bool, which Python would take as {int(value)}): give a number"
        )
    else:
        got = f"{shown(value)} (of type {type(value).__name__}): give a number"
    return f"{name} must be a number, not {got}, e.g. {example}"


def is_whole(value) -> bool:
    """True for an integer (int, NumPy integer); False for a bool, ``256.0``..."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_whole(name: str, value, example: str, minimum: int = 1) -> None:
    """Refuse a `value` of `name` that is not a whole number of at least `minimum`.

    A float such as ``256.0`` is refused too: ``range`` and array indexing
    take integers only, and would fail later with a raw ``TypeError``.
    """
    if not is_whole(value) or value < minimum:
        hint = ""
        if is_number(value) and float(value).is_integer() and value >= minimum:
            hint = f" (a {type(value).__name__}): write {name}={int(value)}"
        elif not is_number(value):
            hint = f" (of type {type(value).__name__}), e.g. {example}"
        raise ValueError(
            f"{name} must be a whole number of at least {minimum}, "
            f"not {shown(value)}{hint}"
        )


def check_finite(name: str, value, example: str) -> None:
    """Refuse a `value` of `name` that is not a finite number (a string, nan, inf)."""
    if not is_number(value):
        raise ValueError(not_a_number(name, value, example))
    if not math.isfinite(value):
        raise ValueError(
            f"{name} must be a finite number, not {shown(value)}, e.g. {example}"
        )
