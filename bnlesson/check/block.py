r"""The self-check of lesson 02's ``BatchNorm`` Block.

:func:`batch_norm_block` builds the student's class for a 2-D and a 4-D
input, trains it for a few steps inside ``autograd.record()`` on a device
other than the CPU's default one (``cpu(1)`` stands in for a GPU, as in the
lesson), predicts once and resets it, and compares every output and the
moving statistics with the formula (:func:`bnlesson.check.formula.formula`,
Gluon's ``nn.BatchNorm``) in float64: after :math:`t` steps

.. math:: \hat\mu_t = \lambda\hat\mu_{t-1} + (1 - \lambda)\mu_{B_t},
          \qquad \hat\mu_0 = 0,\ \hat\sigma^2_0 = 1,\ \lambda = 0.9 .

A difference is explained, where one fits, by a mistake of the Block:
statistics not kept, ``moving_var`` starting at zeros, momentum reversed,
statistics changed in prediction mode or left on another device, a reset
that does not start afresh.
"""

from __future__ import annotations

import mxnet as mx
import numpy as onp
from mxnet import autograd, np

from bnlesson.check.formula import UPDATED_IN_PREDICTION, formula
from bnlesson.check.report import (
    Finding,
    Mistake,
    as_numpy,
    compare,
    matching,
    raised,
    verdict,
)
from bnlesson.core.config import default_device

NOT_KEPT = Mistake(
    "the moving statistics not kept",
    "batch_norm returns the updated moving_mean and moving_var: assign them to "
    "self.moving_mean and self.moving_var in forward, or the layer predicts "
    "with its starting values forever.",
)
ZERO_START = Mistake(
    "moving_var starting at zeros",
    "start it at ones, np.ones(shape), as Gluon does: a fresh layer in "
    "prediction mode divides by np.sqrt(0 + eps) and amplifies its input "
    "some 316-fold.",
)
MOMENTUM_NEW = Mistake(
    "momentum applied to the new value instead of the old",
    "lesson 01's batch_norm weights the OLD moving value with momentum: pass "
    "momentum=0.9 (0.1 is PyTorch's weight of the new value).",
)
OTHER_DEVICE = Mistake(
    "moving statistics left on another device",
    "they are made on the CPU: in forward, copy them to the input's device "
    "(self.moving_mean.copyto(X.ctx)) before calling batch_norm; on a GPU, "
    "mixing devices fails.",
)
NO_RESET = Mistake(
    "reset_running_stats not starting afresh",
    "it sets moving_mean to zeros and moving_var to ones, of gamma's shape, on "
    "the device they are on.",
)
STEPS = 3


def _device():
    """The lesson's device, or ``cpu(1)`` in place of the CPU's default ``cpu(0)``."""
    device = default_device()
    return mx.cpu(1) if device == mx.cpu(0) else device


def _inputs(shape: tuple, device) -> list:
    rng = onp.random.default_rng(len(shape))
    return [np.array(rng.normal(2, 3, shape), dtype="float64", ctx=device)
            for _ in range(STEPS + 1)]  # fmt: skip


def _moving(inputs: list, start: tuple, new_weight: bool, kept: bool = True) -> tuple:
    """The moving statistics after training on `inputs`, by the formula."""
    mean, var = start
    ones = onp.ones_like(mean)
    for X in inputs:
        if kept:
            _, mean, var = formula(as_numpy(X), ones, 0 * ones, mean, var,
                                   training=True, new_weight=new_weight)  # fmt: skip
    return mean, var


def _fresh(layer, shape: tuple, where: str) -> list[Finding]:
    stat = (1, shape[1]) if len(shape) == 2 else (1, shape[1], 1, 1)
    found = []
    for name, start in (
        ("moving_mean", onp.zeros(stat)),
        ("moving_var", onp.ones(stat)),
    ):
        got = as_numpy(getattr(layer, name))
        finding = compare(f"{where}, {name} of a new layer", got, start)
        if finding:
            zeros = name == "moving_var" and got.shape == stat and not got.any()
            finding.mistakes = [ZERO_START] if zeros else []
            found.append(finding)
    return found


def _trained(layer, inputs: list, device, where: str) -> list[Finding]:
    """Train on all but the last input, then predict on it; what differs."""
    stat = tuple(layer.gamma.shape)
    start = (onp.zeros(stat), onp.ones(stat))
    found = []
    for step, X in enumerate(inputs[:-1], 1):
        with autograd.record():
            Y = layer(X)
        want = formula(as_numpy(X), onp.ones(stat), onp.zeros(stat), *start,
                       training=True)[0]  # fmt: skip
        found += filter(
            None, [compare(f"{where}, training output, step {step}", Y, want)]
        )
    right = _moving(inputs[:-1], start, new_weight=False)
    variants = [(MOMENTUM_NEW, _moving(inputs[:-1], start, new_weight=True)),
                (NOT_KEPT, start)]  # fmt: skip
    for k, name in enumerate(("moving_mean", "moving_var")):
        got = getattr(layer, name)
        finding = compare(f"{where}, {name} after {STEPS} steps", got, right[k])
        if finding:
            finding.mistakes = matching(got, right[k], [(m, v[k]) for m, v in variants])
            found.append(finding)
        if got.ctx != device:
            found.append(Finding(f"{where}, {name}", None, f"is on {got.ctx}, the "
                                 f"input on {device}", [OTHER_DEVICE]))  # fmt: skip
    return found + _predicted(layer, inputs[-1], right, where)


def _predicted(layer, X, moving: tuple, where: str) -> list[Finding]:
    """Predict on `X`: the output by the `moving` statistics, and no update."""
    stat = tuple(layer.gamma.shape)
    before = [as_numpy(layer.moving_mean), as_numpy(layer.moving_var)]
    # Trained statistics are float64 like the input; untrained ones float32,
    # and MXNet divides no float64 array by a float32 one.
    Y = layer(X.astype(layer.moving_var.dtype))
    want = formula(as_numpy(X), onp.ones(stat), onp.zeros(stat), *moving,
                   training=False)[0]  # fmt: skip
    found = list(filter(None, [compare(f"{where}, prediction output", Y, want)]))
    for k, name in enumerate(("moving_mean", "moving_var")):
        if compare("", getattr(layer, name), before[k]):
            found.append(Finding(f"{where}, {name}", None, "changed in prediction "
                                 "mode", [UPDATED_IN_PREDICTION]))  # fmt: skip
    return found


def _reset(layer, where: str) -> list[Finding]:
    """Reset: zeros and ones, on the device the statistics were on."""
    device = layer.moving_mean.ctx
    layer.reset_running_stats()
    stat = tuple(layer.gamma.shape)
    found = []
    for name, start in (
        ("moving_mean", onp.zeros(stat)),
        ("moving_var", onp.ones(stat)),
    ):
        got = getattr(layer, name)
        finding = compare(f"{where}, {name} after reset_running_stats()", got, start)
        if not finding and got.ctx != device:
            finding = Finding(f"{where}, {name} after reset", None, f"is on {got.ctx}")
        if finding:
            finding.mistakes = [NO_RESET]
            found.append(finding)
    return found


def _findings(cls, shape: tuple) -> list[Finding]:
    device = _device()
    where = f"{len(shape)}-D input {shape}"
    try:
        layer = cls(shape[1], len(shape))
        layer.initialize(ctx=device)
        found = _fresh(layer, shape, where)
        return (
            found
            + _trained(layer, _inputs(shape, device), device, where)
            + _reset(layer, where)
        )
    except Exception as error:  # noqa: BLE001 - the student's error is the finding
        return [Finding(where, None, raised(error))]  # fmt: skip


def batch_norm_block(cls) -> None:
    """Check a student's ``BatchNorm(num_features, num_dims)`` Block.

    Prints one line when, for a 2-D and a 4-D input, a new layer starts at
    moving mean 0 and variance 1, its training outputs and moving statistics
    over three steps, its prediction output and its reset agree with the
    formula (relative error below 1e-8, float64 input), with the statistics
    on the input's device.

    Raises
    ------
    AssertionError
        Naming the mistakes that explain what differs (statistics not kept,
        moving_var starting at zeros, momentum reversed, statistics updated
        in prediction mode or left on another device, no reset), then each
        difference with its relative error and the range expected.
    """
    findings = _findings(cls, (8, 3)) + _findings(cls, (4, 3, 5, 7))
    verdict(
        "BatchNorm", findings,
        "starts at moving mean 0 and variance 1, trains, predicts and resets as "
        "the formula (and Gluon's nn.BatchNorm) does, on 2-D and 4-D input "
        "(relative error below 1e-8), and keeps its statistics on the input's "
        "device.",
    )  # fmt: skip
