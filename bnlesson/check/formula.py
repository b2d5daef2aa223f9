r"""Lesson 01's batch norm in NumPy, right and with each classic mistake.

:func:`formula` is the lesson's batch norm in float64 NumPy (which agrees
with Gluon's ``nn.BatchNorm`` on the CPU, whose conventions the lesson
uses: biased variance, ``momentum`` weighting the old value; the tests hold
them equal); its keywords make the mistakes of :data:`MISTAKES`, each a
variant of

.. math::

    \mu_B = \frac1m\sum_i x_i, \quad
    \sigma_B^2 = \frac1m\sum_i (x_i - \mu_B)^2, \quad
    y_i = \gamma\frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta, \quad
    \hat\mu \leftarrow \lambda\hat\mu + (1 - \lambda)\mu_B .

The checks of lesson 01's function (:mod:`bnlesson.check.forward`) and of
lesson 02's Block (:mod:`bnlesson.check.block`) name a mistake when its
variant reproduces what the student's code returned.
"""

from __future__ import annotations

import numpy as onp

from bnlesson.check.report import Mistake, returns

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
QUANTITIES = ("Y", "moving_mean", "moving_var")
RETURNS = returns("batch_norm", QUANTITIES)
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
    RETURNS: [{"swapped": True}],
}


def _axes(ndim: int, which) -> tuple:
    if which is None:
        return (0,) if ndim == 2 else (0, 2, 3)
    per_example = (1,) if ndim == 2 else (1, 2, 3)
    return {"per position": (0,), "all": tuple(range(ndim)),
            "per example": per_example}[which]  # fmt: skip


def formula(X, gamma, beta, moving_mean, moving_var, *, training, ddof=0,
            moving_ddof=0, new_weight=False, axes=None, keepdims=True,
            eps_outside=False, eps_missing=False, update_in_prediction=False,
            batch_stats_in_prediction=False, refuse_one=False,
            swapped=False) -> tuple:  # fmt: skip
    """The lesson's batch norm in NumPy, right or with the mistakes the keywords name.

    ``ddof=1``: the unbiased variance; ``moving_ddof=1``: the unbiased one in
    the moving average only; ``new_weight``: momentum on the new value;
    ``axes``: statistics per position, over all axes or per example;
    ``keepdims=False``; eps outside the square root, or left out; moving
    statistics updated, or the batch's used, in prediction mode;
    ``refuse_one``: a ValueError for a batch of one example; ``swapped``:
    the moving statistics returned in the wrong order.
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
    return (Y, moving_var, moving_mean) if swapped else (Y, moving_mean, moving_var)
