r"""What every self-check shares: the error measure, named mistakes, the verdict.

A self-check runs the student's piece on a few fixed inputs (*probes*),
compares each result (a *quantity*: an output, a moving statistic, a
gradient) with a reference, and, where one differs, asks which known mistake
would have produced exactly that result: each :class:`Mistake` comes with a
mistaken implementation (a *variant* of the reference) in the checker's
module. The verdict passes with one line or raises an ``AssertionError``
that names the mistakes found, the error measured and the range expected,
as Stanford CS231n's gradient checks state theirs.

The error is relative, over the whole array,

.. math:: \frac{\|a - b\|}{\max(10^{-300}, \|a\| + \|b\|)},

in float64, where rounding alone stays near :math:`10^{-16}` and a mistake
gives :math:`10^{-6}` or more. (CS231n's elementwise relative error,
lesson 08's ``rel_error``, nears 1 at any entry close to 0, which a small
slip in a normalized output, centred on 0, always has.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as onp

#: Above this relative error (float64) a quantity is wrong: rounding stays
#: some eight orders of magnitude below, the mildest mistake (eps outside the
#: square root, on a feature of standard deviation 1) some three above.
BOUND = 1e-8


#: At most this many differences are listed; the rest are counted.
SHOWN = 6


@dataclass(frozen=True)
class Mistake:
    """A classic mistake: what it is, and what to do instead."""

    name: str
    advice: str


@dataclass
class Finding:
    """One quantity of one probe that differs from the reference."""

    where: str
    error: float | None  # None: a shape or an exception, not a number
    detail: str
    mistakes: list[Mistake] = field(default_factory=list)


def as_numpy(value) -> onp.ndarray:
    """`value` (an MXNet or NumPy array, or a number) as a float64 NumPy array."""
    if hasattr(value, "asnumpy"):
        value = value.asnumpy()
    return onp.asarray(value, dtype="float64")


def error(got, want) -> float | None:
    """The relative error of `got` against `want`, or None if their shapes differ."""
    got, want = as_numpy(got), as_numpy(want)
    if got.shape != want.shape:
        return None
    scale = onp.linalg.norm(got) + onp.linalg.norm(want)
    return float(onp.linalg.norm(got - want) / max(scale, 1e-300))


def close(got, want, bound: float = BOUND) -> bool:
    """True if `got` has the shape of `want` and lies within `bound` of it."""
    gap = error(got, want)
    return gap is not None and gap < bound


def compare(where: str, got, want, bound: float = BOUND) -> Finding | None:
    """A :class:`Finding` if `got` is not `want` (shape or values), else None."""
    gap = error(got, want)
    if gap is None:
        return Finding(
            where, None,
            f"has shape {as_numpy(got).shape}, expected {as_numpy(want).shape}",
        )  # fmt: skip
    if gap < bound:
        return None
    return Finding(where, gap, f"relative error {gap:.1e}, expected below {bound:.0e}")


def matching(got, want, variants: list[tuple[Mistake, object]], bound=BOUND) -> list:
    """The mistakes whose variant result `got` reproduces (and `want` does not).

    `variants` pairs each mistake with what it computes; a mistake may come
    in several ways (several pairs), named once.
    """
    found = [m for m, value in variants
             if close(got, value, bound) and not close(want, value, bound)]  # fmt: skip
    return list(dict.fromkeys(found))


def raised(error: Exception) -> str:
    """``raised <type>: <last line of its message>``, the message cut at 160."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    message = lines[-1][:160] if lines else ""
    return f"raised {type(error).__name__}" + (f": {message}" if message else "")


def verdict(piece: str, findings: list[Finding], passed: str) -> None:
    """Print `passed` if there are no findings, else raise the diagnosis.

    Raises
    ------
    AssertionError
        Listing each mistake recognised (its name and advice, once) and
        then each differing quantity with its error and expected range.
    """
    if not findings:
        print(f"{piece}: {passed}")
        return
    mistakes = list(dict.fromkeys(m for f in findings for m in f.mistakes))
    lines = [f"{piece} is not right yet."]
    for mistake in mistakes:
        lines.append(f"* Looks like {mistake.name}: {mistake.advice}")
    if not mistakes and all(f.detail.startswith("raised") for f in findings):
        lines.append("* It raises: finish writing it, or mend the error below.")
    elif not mistakes:
        lines.append("* No classic mistake explains it; compare with the formula.")
    lines.append("What differs from the reference:")
    lines += [f"  - {f.where}: {f.detail}" for f in findings[:SHOWN]]
    if len(findings) > SHOWN:
        lines.append(f"  (and {len(findings) - SHOWN} more)")
    raise AssertionError("\n".join(lines))
