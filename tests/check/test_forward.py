"""bnlesson.check.batch_norm: it passes lesson 01's function and names each
classic mistake when fed exactly that mistaken implementation."""

from __future__ import annotations

import inspect

import mxnet as mx
import numpy as onp
import pytest
from mxnet import autograd, np
from mxnet.gluon import nn

import bnlesson.lesson01
from bnlesson.check import formula, forward
from bnlesson.check.forward import batch_norm as check_batch_norm
from bnlesson.check.report import BOUND, error

SOURCE = inspect.getsource(bnlesson.lesson01.batch_norm)


def mistaken(*edits: tuple[str, str]):
    """Lesson 01's batch_norm with each (old, new) text edit made, as a function."""
    source = SOURCE
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    namespace = dict(vars(bnlesson.lesson01))
    exec(compile(source, "<mistaken batch_norm>", "exec"), namespace)
    return namespace["batch_norm"]


VAR = "var = ((X - mean) ** 2).mean(axis=axes, keepdims=True)"
MOVING_MEAN = "moving_mean = momentum * moving_mean + (1.0 - momentum) * mean"
MOVING_VAR = "moving_var = momentum * moving_var + (1.0 - momentum) * var"
UNBIASED = (VAR, "var = ((X - mean) ** 2).sum(axis=axes, keepdims=True) "
                 "/ (X.size // X.shape[1] - 1)")  # fmt: skip
REVERSED = [
    (MOVING_MEAN, "moving_mean = (1.0 - momentum) * moving_mean + momentum * mean"),
    (MOVING_VAR, "moving_var = (1.0 - momentum) * moving_var + momentum * var"),
]
CASES = {
    "unbiased variance": ([UNBIASED], formula.UNBIASED),
    "unbiased moving variance": (
        [
            (
                MOVING_VAR,
                MOVING_VAR.replace(
                    "* var",
                    "* var * (X.size // X.shape[1]) / (X.size // X.shape[1] - 1)",
                ),
            )
        ],
        formula.UNBIASED_MOVING,
    ),  # fmt: skip
    "momentum on the new value": (REVERSED, formula.MOMENTUM_NEW),
    "axis 0 only": (
        [("axes = (0,) if X.ndim == 2 else (0, 2, 3)", "axes = (0,)")],
        formula.AXES,
    ),  # fmt: skip
    "all axes": (
        [("axes = (0,) if X.ndim == 2 else (0, 2, 3)", "axes = tuple(range(X.ndim))")],
        formula.AXES,
    ),  # fmt: skip
    "no keepdims": (
        [
            ("X.mean(axis=axes, keepdims=True)", "X.mean(axis=axes)"),
            (VAR, "var = ((X - mean) ** 2).mean(axis=axes)"),
        ],
        formula.KEEPDIMS,
    ),  # fmt: skip
    "eps outside the root": (
        [
            ("np.sqrt(moving_var + eps)", "(np.sqrt(moving_var) + eps)"),
            ("np.sqrt(var + eps)", "(np.sqrt(var) + eps)"),
        ],
        formula.EPS_OUTSIDE,
    ),  # fmt: skip
    "eps left out": (
        [
            ("np.sqrt(moving_var + eps)", "np.sqrt(moving_var)"),
            ("np.sqrt(var + eps)", "np.sqrt(var)"),
        ],
        formula.EPS_MISSING,
    ),
    "batch statistics in prediction": (
        [
            (
                "X_hat = (X - moving_mean) / np.sqrt(moving_var + eps)",
                "over = (0,) if X.ndim == 2 else (0, 2, 3)\n"
                "        X_hat = (X - X.mean(axis=over, keepdims=True)) / np.sqrt(\n"
                "            X.var(axis=over, keepdims=True) + eps)",
            )
        ],
        formula.BATCH_STATS_IN_PREDICTION,
    ),
    "updated in prediction": (
        [
            (
                "X_hat = (X - moving_mean) / np.sqrt(moving_var + eps)",
                "X_hat = (X - moving_mean) / np.sqrt(moving_var + eps)\n"
                "        mean = X.mean(axis=(0,) if X.ndim == 2 else (0, 2, 3), "
                "keepdims=True)\n"
                "        var = ((X - mean) ** 2).mean(axis=(0,) if X.ndim == 2 "
                "else (0, 2, 3), keepdims=True)\n"
                f"        {MOVING_MEAN}\n        {MOVING_VAR}",
            )
        ],
        formula.UPDATED_IN_PREDICTION,
    ),  # fmt: skip
    "batch of one accepted": ([("check_batch(X)  #", "#")], formula.ONE_ACCEPTED),
    "only the output returned": (
        [("return Y, moving_mean, moving_var", "return Y")],
        formula.RETURNS,
    ),  # fmt: skip
    "moving statistics swapped": (
        [("return Y, moving_mean, moving_var", "return Y, moving_var, moving_mean")],
        formula.RETURNS,
    ),  # fmt: skip
    "batch of one refused": (
        [
            (
                "    if not autograd.is_training():",
                "    if X.shape[0] < 2:\n        raise ValueError('one example')\n"
                "    if not autograd.is_training():",
            )
        ],
        formula.ONE_REFUSED,
    ),  # fmt: skip
}


def test_the_lessons_function_passes_with_one_line(capsys):
    check_batch_norm(bnlesson.lesson01.batch_norm)
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("batch_norm: agrees with the formula")


@pytest.mark.parametrize("case", CASES)
def test_each_mistake_is_named(case):
    edits, mistake = CASES[case]
    with pytest.raises(AssertionError) as failed:
        check_batch_norm(mistaken(*edits))
    message = str(failed.value)
    named = [line for line in message.splitlines() if "Looks like" in line]
    assert named == [f"* Looks like {mistake.name}: {mistake.advice}"]
    assert (
        "expected below 1e-08" in message
        or "raised" in message
        or "returned" in message
    )


def test_two_mistakes_at_once_are_both_named():
    with pytest.raises(AssertionError) as failed:
        check_batch_norm(mistaken(UNBIASED, *REVERSED))
    named = [line for line in str(failed.value).splitlines() if "Looks like" in line]
    assert len(named) == 2
    assert formula.UNBIASED.name in named[0] and formula.MOMENTUM_NEW.name in named[1]


def test_an_unknown_mistake_still_fails_with_the_error_and_its_range():
    beta_twice = mistaken(("Y = gamma * X_hat + beta", "Y = gamma * X_hat + 2 * beta"))
    with pytest.raises(AssertionError) as failed:
        check_batch_norm(beta_twice)
    message = str(failed.value)
    assert "No classic mistake explains it" in message
    assert "training, 2-D input (8, 3), Y: relative error" in message


@pytest.mark.parametrize("probe", forward.PROBES, ids=lambda p: p.name)
def test_the_formula_is_gluons_layer(probe):
    """The reference is Gluon's nn.BatchNorm on the CPU (its running statistics
    are updated in the backward pass; its momentum is a float32, hence 1e-6)."""
    X, gamma, beta, mean, var = probe.arrays()
    layer = nn.BatchNorm(in_channels=X.shape[1], momentum=0.9, epsilon=1e-5)
    layer.initialize(ctx=mx.cpu())
    layer.cast("float64")
    for param, value in zip(
        (layer.gamma, layer.beta, layer.running_mean, layer.running_var),
        (gamma, beta, mean, var),
    ):
        param.set_data(np.array(value.reshape(-1), dtype="float64"))
    X = np.array(X, dtype="float64")
    with autograd.record(train_mode=probe.training):
        Y = layer(X)
    Y.backward()
    ours = forward.reference(probe)
    assert error(Y, ours[0]) < BOUND
    for got, want in zip((layer.running_mean, layer.running_var), ours[1:]):
        assert error(got.data().reshape(want.shape), want) < 1e-6
    assert onp.isclose(error(ours[1], mean), 0) != probe.training


def test_a_function_not_written_yet_is_told_what_it_raised():
    def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
        raise NotImplementedError()

    with pytest.raises(AssertionError) as failed:
        check_batch_norm(batch_norm)
    message = str(failed.value)
    assert message.splitlines()[1:] == [
        "* It raises: finish writing it, or mend the error below.",
        "What differs from the reference:",
        "  - every input: raised NotImplementedError",
    ]


def test_a_long_list_of_differences_is_cut_and_counted():
    with pytest.raises(AssertionError) as failed:
        check_batch_norm(mistaken(UNBIASED, *REVERSED))
    listed = [line for line in str(failed.value).splitlines() if line.startswith("  -")]
    assert len(listed) == 6
    assert str(failed.value).endswith("(and 3 more)")


def test_no_prediction_branch_is_three_mistakes_named():
    """Training's code in prediction mode: batch statistics, updated moving
    statistics, and a refused batch of one."""
    with pytest.raises(AssertionError) as failed:
        check_batch_norm(mistaken(("if not autograd.is_training():", "if False:")))
    named = {line for line in str(failed.value).splitlines() if "Looks like" in line}
    assert named == {
        f"* Looks like {m.name}: {m.advice}"
        for m in (formula.BATCH_STATS_IN_PREDICTION, formula.UPDATED_IN_PREDICTION,
                  formula.ONE_REFUSED)
    }  # fmt: skip
