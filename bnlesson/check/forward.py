r"""The self-check of lesson 01's ``batch_norm`` function.

:func:`batch_norm` runs the student's function on fixed float64 probes, in
training mode (inside ``autograd.record()``) and in prediction mode, on
2-D and 4-D input, compares the output and both moving statistics with
:func:`reference`, the lesson's formula in float64 NumPy (which agrees with
Gluon's ``nn.BatchNorm`` on the CPU, whose conventions the lesson uses:
biased variance, ``momentum`` weighting the old value; the tests hold them
equal), and names the mistake when one of :data:`MISTAKES`, each a variant
of the formula, reproduces what it returned:

.. math::

    \mu_B = \frac1m\sum_i x_i, \quad
    \sigma_B^2 = \frac1m\sum_i (x_i - \mu_B)^2, \quad
    y_i = \gamma\frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta, \quad
    \hat\mu \leftarrow \lambda\hat\mu + (1 - \lambda)\mu_B .
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as onp
from mxnet import autograd, np

from bnlesson.check.report import (
    Finding,
    Mistake,
    as_numpy,
    close,
    compare,
    matching,
    raised,
    verdict,
)
from bnlesson.core.config import default_device

EPS, MOMENTUM = 1e-5, 0.9

UNBIASED = Mistake(
    "the unbiased variance (a sum divided by m - 1)",
    "batch norm divides by m, the number of values of the feature: "
    "((X - mean) ** 2).mean(...), not ddof=1 or a division by m - 1.",
)
UNBIASED_MOVING = Mistake(
    "the unbiased variance in the moving average (PyTorch's convention)",
    "average the biased batch variance, the one that normalized the batch, as "
    "Gluon does on the CPU.",
)
MOMENTUM_NEW = Mistake(
    "momentum applied to the new value instead of the old",
    "momentum weights the OLD moving value: moving_mean = momentum * "
    "moving_mean + (1 - momentum) * mean (0.9 keeps 90% of the old).",
)
AXES = Mistake(
    "statistics over the wrong axes",
    "one mean and variance per feature: over axis 0 of a 2-D input (batch, "
    "features), over axes (0, 2, 3) of a 4-D input (batch, channels, height, "
    "width), the batch and every pixel of a channel.",
)
KEEPDIMS = Mistake(
    "statistics without keepdims=True",
    "X.mean(axis=axes) drops the reduced axes, and a (C,) mean lines up with "
    "the last axis of a 4-D input (its width), not the channels: pass "
    "keepdims=True, for shape (1, C, 1, 1).",
)
EPS_OUTSIDE = Mistake(
    "eps outside the square root",
    "divide by np.sqrt(var + eps), not np.sqrt(var) + eps: eps is added to the "
    "variance.",
)
EPS_MISSING = Mistake(
    "eps left out",
    "divide by np.sqrt(var + eps): without eps a constant feature gives 0 / 0.",
)
UPDATED_IN_PREDICTION = Mistake(
    "running statistics updated in prediction mode",
    "outside autograd.record() return moving_mean and moving_var unchanged: "
    "only training updates them.",
)
BATCH_STATS_IN_PREDICTION = Mistake(
    "the batch's statistics in prediction mode",
    "outside autograd.record() (autograd.is_training() is False) normalize with "
    "moving_mean and moving_var.",
)
ONE_ACCEPTED = Mistake(
    "a batch of one accepted in training mode",
    "one value per feature equals its mean, so the output is beta whatever "
    "the input: refuse it with check_batch(X) before computing the statistics.",
)
ONE_REFUSED = Mistake(
    "a batch of one refused where it is fine",
    "prediction mode uses no batch statistics, and one 4-D image has H * W "
    "values per channel: call check_batch(X) in training mode only.",
)
#: Each mistake as the keywords of :func:`formula` that make it (one or more ways).
MISTAKES = {
    UNBIASED: [{"ddof": 1, "moving_ddof": 1}],
    UNBIASED_MOVING: [{"moving_ddof": 1}],
    MOMENTUM_NEW: [{"new_weight": True}],
    AXES: [{"axes": "per position"}, {"axes": "all"}, {"axes": "per example"}],
    KEEPDIMS: [{"keepdims": False}],
    EPS_OUTSIDE: [{"eps_outside": True}],
    EPS_MISSING: [{"eps_missing": True}],
    UPDATED_IN_PREDICTION: [{"update_in_prediction": True}],
    BATCH_STATS_IN_PREDICTION: [{"batch_stats_in_prediction": True}],
    ONE_REFUSED: [{"refuse_one": True}],
}


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
QUANTITIES = ("Y", "moving_mean", "moving_var")


def _axes(ndim: int, which) -> tuple:
    if which is None:
        return (0,) if ndim == 2 else (0, 2, 3)
    per_example = (1,) if ndim == 2 else (1, 2, 3)
    return {"per position": (0,), "all": tuple(range(ndim)),
            "per example": per_example}[which]  # fmt: skip


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


def formula(X, gamma, beta, moving_mean, moving_var, *, training, ddof=0,
            moving_ddof=0, new_weight=False, axes=None, keepdims=True,
            eps_outside=False, eps_missing=False, update_in_prediction=False,
            batch_stats_in_prediction=False, refuse_one=False) -> tuple:  # fmt: skip
    """The lesson's batch norm in NumPy, right or with the mistakes the keywords name.

    ``ddof=1``: the unbiased variance; ``moving_ddof=1``: the unbiased one in
    the moving average only; ``new_weight``: momentum on the new value;
    ``axes``: statistics per position, over all axes or per example;
    ``keepdims=False``; eps outside the square root, or left out; moving
    statistics updated, or the batch's used, in prediction mode;
    ``refuse_one``: a ValueError for a batch of one example.
    """
    if refuse_one and X.shape[0] == 1:
        raise ValueError("a batch of one")
    batch = training or batch_stats_in_prediction  # normalize with the batch's
    update = training or update_in_prediction
    if batch or update:
        over = _axes(X.ndim, axes)
        m = X.size // X.mean(axis=over, keepdims=True).size  # values per statistic
        mean = X.mean(axis=over, keepdims=keepdims)
        var = ((X - mean) ** 2).sum(axis=over, keepdims=keepdims) / (m - ddof)
    centred, spread = (X - mean, var) if batch else (X - moving_mean, moving_var)
    eps = 0.0 if eps_missing else EPS
    root = onp.sqrt(spread) + eps if eps_outside else onp.sqrt(spread + eps)
    Y = gamma * centred / root + beta
    if update:
        moving = var * (m - ddof) / (m - moving_ddof)
        old, new = (1 - MOMENTUM, MOMENTUM) if new_weight else (MOMENTUM, 1 - MOMENTUM)
        moving_mean = old * moving_mean + new * mean
        moving_var = old * moving_var + new * moving
    return Y, moving_mean, moving_var


def run(function, probe: Probe):
    """What `function` returns on `probe` (NumPy arrays), or the exception it raises."""
    device = default_device()
    arrays = [np.array(a, dtype="float64", ctx=device) for a in probe.arrays()]
    try:
        if probe.training:
            with autograd.record():
                result = function(*arrays, EPS, MOMENTUM)
        else:
            result = function(*arrays, EPS, MOMENTUM)
        return [as_numpy(r) for r in result]
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
