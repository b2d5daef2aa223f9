r"""The self-check of lesson 08's backward pass.

:func:`bn_backward` takes a student's ``bn_backward(dY, cache)`` (or
``bn_backward_graph``), with the cache of lesson 08's
:func:`~bnlesson.lesson08.bn_forward`, and compares its three gradients
with centred finite differences of :math:`\ell = \sum_i y_i g_i` in float64
(:func:`~bnlesson.lesson08.numerical_gradients`), on a 2-D and a 4-D batch,
as Stanford CS231n checks its batch-norm layer, stating the range: a
relative error (:func:`bnlesson.check.report.error`) below :math:`10^{-7}`,
lesson 08's bound (the differences themselves reach about :math:`10^{-10}`).
A wrong gradient is matched against the classic slips, each a variant of
the compact form

.. math:: \partial x_i = \gamma s\,(g_i - \bar g - \hat x_i\,\overline{g\hat x}),
          \quad \partial\gamma = m\,\overline{g\hat x},
          \quad \partial\beta = m\,\bar g .
"""

from __future__ import annotations

from functools import cache

import numpy as onp
from mxnet import np

from bnlesson.check.formula import KEEPDIMS
from bnlesson.check.report import (
    Finding,
    Mistake,
    as_numpy,
    compare,
    matching,
    raised,
    returned,
    returns,
    verdict,
)
from bnlesson.lesson08 import bn_forward, numerical_gradients

#: Finite differences in float64 reach about 1e-10; lesson 08's bound.
BOUND = 1e-7

NO_VARIANCE_PATH = Mistake(
    "the path through the variance dropped (node 4)",
    "v depends on every x_i, so d_i also receives 2 d_i / m times dv: in the "
    "compact form, the term - x_hat * mean(dY * x_hat).",
)
NO_MEAN_PATH = Mistake(
    "the path through the mean dropped (node 6)",
    "mu depends on every x_i, so each x_i also receives dmu / m: in the "
    "compact form, the term - mean(dY).",
)
NO_GAMMA = Mistake(
    "the factor gamma left out of dX",
    "y = gamma * x_hat + beta, so dx_hat = gamma * dY: dX = gamma * s * (...).",
)
MEANS_NOT_SUMS = Mistake(
    "means where dgamma and dbeta need sums",
    "gamma and beta are shared by the m values of a feature, so their "
    "gradients add up over them: dbeta = dY.sum(...) = m * mean(dY).",
)
M_IS_BATCH = Mistake(
    "m taken as the batch size on a 4-D input",
    "a channel's statistics pool the batch and the pixels: m = N * H * W "
    "values per channel, dY.size // dY.shape[1].",
)
AXES = Mistake(
    "sums over the wrong axes",
    "sum over the axes the forward pass averaged over: axis 0 for a 2-D input, "
    "axes (0, 2, 3) for a 4-D one.",
)
KINDS = {
    NO_VARIANCE_PATH: {"variance_path": False},
    NO_MEAN_PATH: {"mean_path": False},
    NO_GAMMA: {"gamma": False},
    MEANS_NOT_SUMS: {"sums": False},
    M_IS_BATCH: {"m_is_batch": True},
    AXES: {"axes": (0,)},
    KEEPDIMS: {"keepdims": False},
}
NAMES = ("dX", "dgamma", "dbeta")
RETURNS = returns("The backward pass", NAMES)


@cache
def case(ndim: int) -> tuple:
    """A float64 batch ``(X, gamma, beta, dY)``: 5 x 3, or 2 x 3 x 3 x 3."""
    rng = onp.random.default_rng(ndim)
    shape, stat = ((5, 3), (1, 3)) if ndim == 2 else ((2, 3, 3, 3), (1, 3, 1, 1))
    return tuple(np.array(a, dtype="float64") for a in (
        rng.normal(3, 2, shape), rng.uniform(0.5, 2, stat),
        rng.normal(0, 1, stat), rng.normal(0, 1, shape)))  # fmt: skip


@cache
def numeric(ndim: int) -> tuple:
    """Finite-difference gradients of the batch of :func:`case`, computed once."""
    return tuple(numerical_gradients(*case(ndim)))


def compact(dY, cache, *, variance_path=True, mean_path=True, gamma=True, sums=True,
            m_is_batch=False, axes=None, keepdims=True) -> tuple | None:  # fmt: skip
    """``(dX, dgamma, dbeta)`` by the compact form in NumPy, or with one slip.

    None where the slip raises (statistics without keepdims that do not
    broadcast).
    """
    X_hat, d, s, g = (as_numpy(a) for a in cache)
    dY = as_numpy(dY)
    over = axes or ((0,) if dY.ndim == 2 else (0, 2, 3))
    m = dY.size // dY.shape[1]
    m_used = dY.shape[0] if m_is_batch else m
    try:
        mean_dY = dY.mean(axis=over, keepdims=keepdims)
        mean_dY_X_hat = (dY * X_hat).mean(axis=over, keepdims=keepdims)
        inner = dY - mean_dY * mean_path - X_hat * mean_dY_X_hat * variance_path
        if m_is_batch:  # node 4 and node 6 divide by the wrong m
            inner = dY - mean_dY * m / m_used - X_hat * mean_dY_X_hat * m / m_used
        dX = (g if gamma else 1) * s * inner
    except ValueError:
        return None
    weight = m_used if sums else 1
    return dX, weight * mean_dY_X_hat, weight * mean_dY


def _findings(function, ndim: int) -> list[Finding]:
    X, gamma, beta, dY = case(ndim)
    where = f"{ndim}-D batch {tuple(X.shape)}"
    cache_ = bn_forward(X, gamma, beta, 1e-5)[1]
    try:
        result = function(dY, cache_)
        if wrong := returned(result, len(NAMES)):
            return [Finding(where, None, f"returned {wrong.what}", [RETURNS])]
        got = [as_numpy(a) for a in result]
    except Exception as error:  # noqa: BLE001 - the student's error is the finding
        raising = [m for m, kw in KINDS.items() if compact(dY, cache_, **kw) is None]
        return [Finding(where, None, raised(error), raising)]  # fmt: skip
    variants = [(m, compact(dY, cache_, **kw)) for m, kw in KINDS.items()]
    found = []
    for k, (name, want) in enumerate(zip(NAMES, numeric(ndim))):
        want = want.reshape(as_numpy(cache_[3]).shape) if k else want
        finding = compare(f"{where}, {name}", got[k], want, BOUND)
        if finding:
            finding.mistakes = matching(
                got[k], want, [(m, v[k]) for m, v in variants if v is not None], BOUND
            )
            found.append(finding)
    return found


def bn_backward(function) -> None:
    """Check a student's ``bn_backward(dY, cache) -> (dX, dgamma, dbeta)``.

    `cache` is what :func:`~bnlesson.lesson08.bn_forward` returns; the
    gradients must agree with finite differences (relative error below
    1e-7, in float64) on a 2-D and a 4-D batch, with `dgamma` and `dbeta`
    shaped like `gamma`. Works for ``bn_backward_graph`` as well.

    Raises
    ------
    AssertionError
        Naming the slips that explain the differences (a path dropped,
        gamma left out, means for sums, the wrong m, axes or keepdims), then
        each gradient with its relative error and the range expected.
    """
    findings = _findings(function, 2) + _findings(function, 4)
    if all(f.error is None and f.detail.startswith("raised") for f in findings):
        for finding in findings:  # it raised on both batches: not written yet?
            finding.mistakes = []
    verdict(
        getattr(function, "__name__", "bn_backward"), findings,
        "dX, dgamma and dbeta agree with finite differences on a 2-D and a 4-D "
        "batch (relative error below 1e-7).",
    )  # fmt: skip
