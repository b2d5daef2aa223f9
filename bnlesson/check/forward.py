r"""The self-check of lesson 01's ``batch_norm`` function.

:func:`batch_norm` runs the student's function on fixed float64 probes, in
training mode (inside ``autograd.record()``) and in prediction mode, on
2-D and 4-D input, compares the output and both moving statistics with
:func:`reference`, the lesson's formula
(:func:`bnlesson.check.formula.formula`), and names the mistake when one of
:data:`~bnlesson.check.formula.MISTAKES`, each a variant of the formula,
reproduces what it returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as onp
from mxnet import autograd, np

from bnlesson.check.formula import (
    EPS,
    MISTAKES,
    MOMENTUM,
    ONE_ACCEPTED,
    QUANTITIES,
    RETURNS,
    formula,
)
from bnlesson.check.report import (
    Finding,
    Mistake,
    Returned,
    as_numpy,
    close,
    compare,
    matching,
    raised,
    returned,
    verdict,
)
from bnlesson.core.config import default_device


@dataclass(frozen=True)
class Probe:
    """An input and the statistics handed to the function with it."""

    name: str
    shape: tuple
    training: bool
    seed: int

    def arrays(self) -> list[onp.ndarray]:
        """X, gamma, beta, moving_mean, moving_var (float64 NumPy), from `seed`.

        The features lie on different scales; one has a standard deviation
        of 0.01, where eps inside or outside the square root differs clearly.
        """
        rng = onp.random.default_rng(self.seed)
        C = self.shape[1]
        stat = (1, C) if len(self.shape) == 2 else (1, C, 1, 1)
        scale = onp.array([1.0, 5.0, 0.01][:C]).reshape(stat)
        X = rng.normal(0, 1, self.shape) * scale + onp.arange(C).reshape(stat)
        return [X, rng.uniform(0.5, 2, stat), rng.normal(0, 1, stat),
                rng.normal(0, 1, stat), rng.uniform(0.5, 2, stat)]  # fmt: skip


PROBES = [
    Probe("training, 2-D input (8, 3)", (8, 3), True, 1),
    Probe("training, 4-D input (4, 3, 5, 7)", (4, 3, 5, 7), True, 2),
    Probe("training, one 4-D image (1, 3, 5, 7)", (1, 3, 5, 7), True, 3),
    Probe("prediction, 2-D input (8, 3)", (8, 3), False, 4),
    Probe("prediction, 4-D input (4, 3, 5, 7)", (4, 3, 5, 7), False, 5),
    Probe("prediction, one example (1, 3)", (1, 3), False, 6),
]
#: Training on one example must be refused (a ValueError).
ONE_EXAMPLE = Probe("training, one example (1, 3)", (1, 3), True, 7)


def reference(probe: Probe, **mistake) -> tuple | None:
    """``(Y, moving_mean, moving_var)`` on `probe` by the formula, or with a mistake.

    `mistake` holds the keywords of :func:`formula` that make one of
    :data:`MISTAKES`; the result is None where the mistaken code raises (a
    broadcast of misshaped statistics, a refused batch of one).
    """
    with onp.errstate(divide="ignore", invalid="ignore"):  # m - 1 = 0 for one value
        try:
            return formula(*probe.arrays(), training=probe.training, **mistake)
        except ValueError:  # NumPy's broadcast error, or a refusal
            return None


def run(function, probe: Probe):
    """What `function` returns on `probe` (NumPy arrays), or the exception it
    raises, or a :class:`Returned` if it returns other than three values."""
    device = default_device()
    arrays = [np.array(a, dtype="float64", ctx=device) for a in probe.arrays()]
    try:
        if probe.training:
            with autograd.record():
                result = function(*arrays, EPS, MOMENTUM)
        else:
            result = function(*arrays, EPS, MOMENTUM)
        return returned(result, len(QUANTITIES)) or [as_numpy(r) for r in result]
    except Exception as error:  # noqa: BLE001 - the student's error is the finding
        return error


def raises_on(mistake: Mistake) -> set[str]:
    """The probes on which `mistake` makes the function raise."""
    return {p.name for p in PROBES
            if any(reference(p, **kw) is None for kw in MISTAKES[mistake])}  # fmt: skip


def findings_on(probe: Probe, got, failed: set[str]) -> list[Finding]:
    """What the function got wrong on `probe` (`got`: :func:`run`'s result),
    each finding with the mistakes that explain it; `failed` names the
    probes on which the function raised."""
    variants = [(m, reference(probe, **kw)) for m, ways in MISTAKES.items()
                for kw in ways]  # fmt: skip
    if isinstance(got, Returned):
        return [Finding(probe.name, None, f"returned {got.what}", [RETURNS])]
    if isinstance(got, Exception):
        raising = list(dict.fromkeys(m for m, v in variants if v is None))
        exact = [m for m in raising if raises_on(m) == failed]
        return [Finding(probe.name, None, raised(got), exact or raising)]
    right = reference(probe)
    found = [f for k, name in enumerate(QUANTITIES)
             if (f := compare(f"{probe.name}, {name}", got[k], right[k]))]  # fmt: skip
    # A mistake that gives all of `got` explains every difference; else
    # (two mistakes at once) each difference gets the mistakes that give it.
    whole = [m for m, v in variants
             if v is not None and all(close(g, w) for g, w in zip(got, v))]  # fmt: skip
    for finding in found:
        k = QUANTITIES.index(finding.where.rsplit(", ", 1)[1])
        finding.mistakes = list(dict.fromkeys(whole)) or matching(
            got[k], right[k], [(m, v[k]) for m, v in variants if v is not None]
        )
    return found


def one_example(got) -> list[Finding]:
    """[] if training on one example raised a ValueError (`got`), else the finding."""
    if not isinstance(got, Exception):
        return [Finding(ONE_EXAMPLE.name, None, "returned instead of raising a "
                        "ValueError", [ONE_ACCEPTED])]  # fmt: skip
    if not isinstance(got, ValueError):
        return [Finding(ONE_EXAMPLE.name, None, raised(got) + " (expected a "
                        "ValueError that says what to do)")]  # fmt: skip
    return []


def batch_norm(function) -> None:
    """Check a student's lesson 01 ``batch_norm``, in the lesson's signature.

    ``function(X, gamma, beta, moving_mean, moving_var, eps, momentum)``
    returns ``(Y, moving_mean, moving_var)``.

    Prints one line when it agrees with :func:`reference` on every probe
    (relative error below 1e-8 in float64) and refuses a training
    batch of one example with a ``ValueError``.

    Raises
    ------
    AssertionError
        Naming each classic mistake that explains the differences (unbiased
        variance, momentum on the new value, wrong axes, no keepdims, eps
        outside the square root, statistics updated in prediction mode, a
        batch of one accepted or wrongly refused), then each differing
        output with its relative error and the range expected.
    """
    results = [run(function, probe) for probe in PROBES]
    if all(isinstance(got, Exception) for got in results):  # not written yet?
        findings = [Finding("every input", None, raised(results[0]))]
    else:
        failed = {
            p.name for p, got in zip(PROBES, results) if isinstance(got, Exception)
        }
        findings = [
            f for p, got in zip(PROBES, results) for f in findings_on(p, got, failed)
        ]
        findings += one_example(run(function, ONE_EXAMPLE))
    verdict(
        "batch_norm", findings,
        "agrees with the formula (and Gluon's nn.BatchNorm) in training and "
        "prediction mode, on 2-D and 4-D input, moving statistics included "
        "(relative error below 1e-8), and refuses to train on a batch of one.",
    )  # fmt: skip
