"""Lesson 01's batch_norm and the package's bnlesson.lesson01.batch_norm agree."""

import textwrap

import numpy as onp
import pytest
from mxnet import autograd, np

import bnlesson

from nbutil import run_apart, shown


@pytest.fixture(scope="module")
def lesson():
    return shown("01")


def arrays(shape, seed):
    rng = onp.random.default_rng(seed)
    stat = (1, shape[1]) if len(shape) == 2 else (1, shape[1], 1, 1)
    X = rng.normal(2, 3, shape)
    gamma, beta = rng.uniform(0.5, 2, stat), rng.normal(0, 1, stat)
    mean, var = rng.normal(0, 1, stat), rng.uniform(0.5, 2, stat)
    return [np.array(a, dtype="float32") for a in (X, gamma, beta, mean, var)]


@pytest.mark.parametrize("shape", [(16, 5), (8, 3, 6, 6)])
@pytest.mark.parametrize("training", [True, False])
def test_same_outputs_and_statistics(lesson, shape, training):
    args = arrays(shape, seed=len(shape))
    with autograd.record(train_mode=training):
        ours = lesson["batch_norm"](*args, eps=1e-5, momentum=0.9)
        theirs = bnlesson.lesson01.batch_norm(*args, eps=1e-5, momentum=0.9)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert onp.array_equal(a.asnumpy(), b.asnumpy())


@pytest.mark.parametrize(
    "X_shape, stat_shape", [((2, 3, 4), (1, 3)), ((2, 3, 4, 4), (1, 3)), ((2, 3), (3,))]
)
def test_same_errors(lesson, X_shape, stat_shape):
    X, s = np.ones(X_shape), np.ones(stat_shape)
    messages = []
    for fn in (lesson["batch_norm"], bnlesson.lesson01.batch_norm):
        with pytest.raises(ValueError) as err:
            fn(X, s, s, s, s, 1e-5, 0.9)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1), (0, 3)])
def test_same_refusal_of_one_value_per_channel(lesson, shape):
    s = np.ones((1, 3) if len(shape) == 2 else (1, 3, 1, 1))
    messages = []
    for fn in (lesson["batch_norm"], bnlesson.lesson01.batch_norm):
        with autograd.record(), pytest.raises(ValueError) as err:
            fn(np.ones(shape), s, s, s, s, 1e-5, 0.9)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "at least 2 values per" in messages[0]


def refusals(lesson, *args, training=True):
    """The ValueError messages of the notebook's and the package's batch_norm."""
    messages = []
    for fn in (lesson["batch_norm"], bnlesson.lesson01.batch_norm):
        with autograd.record(train_mode=training), pytest.raises(ValueError) as err:
            fn(*args)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    return messages[0]


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
@pytest.mark.parametrize("which", ["moving_mean", "moving_var", "gamma"])
def test_integer_statistics_are_refused_not_truncated(lesson, dtype, which):
    # 0.9 * an int32 array stays int32: the moving variance would become
    # int(0.9 * 1) + 0.1 * var, 1.125 instead of 0.9 + 0.1 * 11.25 = 2.025
    X = np.array([[0.0], [3.0], [6.0], [9.0]])  # biased variance 11.25
    one = np.ones((1, 1))
    stats = {"gamma": one, "beta": 0 * one, "moving_mean": 0 * one, "moving_var": one}
    stats[which] = stats[which].astype(dtype)
    message = refusals(lesson, X, *stats.values(), 1e-5, 0.9)
    assert f"{which} has dtype {dtype}" in message
    assert ".astype('float32')" in message


def test_float_statistics_average_as_the_formula_says(lesson):
    X = np.array([[0.0], [3.0], [6.0], [9.0]])
    one = np.ones((1, 1))
    for fn in (lesson["batch_norm"], bnlesson.lesson01.batch_norm):
        with autograd.record():
            _, mean, var = fn(X, one, 0 * one, 0 * one, one, 1e-5, 0.9)
        assert float(mean) == pytest.approx(0.1 * 4.5)
        assert float(var) == pytest.approx(0.9 + 0.1 * 11.25)  # 2.025


@pytest.mark.parametrize(
    "eps", [0, 0.0, -1e-5, float("nan"), float("inf"), "1e-5", None]
)
@pytest.mark.parametrize("training", [True, False])
def test_eps_must_be_a_positive_number(lesson, eps, training):
    # a constant feature has variance 0: with eps <= 0 its output is NaN
    X, one = np.ones((4, 2)), np.ones((1, 2))
    message = refusals(lesson, X, one, 0 * one, 0 * one, one, eps, 0.9,
                       training=training)  # fmt: skip
    assert f"eps must be a finite number > 0, not {eps!r}" in message
    assert "Use 1e-5" in message


@pytest.mark.parametrize("momentum", [1.5, -0.1, float("nan"), "0.9", None, [0.9]])
@pytest.mark.parametrize("training", [True, False])
def test_momentum_must_be_a_number_in_0_1(lesson, momentum, training):
    X, one = np.array([[1.0], [3.0]]), np.ones((1, 1))
    message = refusals(lesson, X, one, 0 * one, 0 * one, one, 1e-5, momentum,
                       training=training)  # fmt: skip
    assert "momentum must be a number in [0, 1]" in message
    assert f"not {momentum!r}" in message and "Use 0.9" in message


@pytest.mark.parametrize(
    "momentum, expected_mean", [(0, 2.0), (1, 5.0), (onp.float32(0.5), 3.5)]
)
def test_momentum_at_the_ends_of_0_1_is_accepted(lesson, momentum, expected_mean):
    X, one = np.array([[1.0], [3.0]]), np.ones((1, 1))  # batch mean 2
    for fn in (lesson["batch_norm"], bnlesson.lesson01.batch_norm):
        with autograd.record():
            _, mean, _ = fn(X, one, 0 * one, 5 * one, one, 1e-5, momentum)
        assert float(mean) == pytest.approx(expected_mean)


@pytest.mark.parametrize("shape", [(4, 0), (4, 0, 3, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_a_batch_without_features_is_refused(lesson, shape, training):
    s = np.ones((1, 0) if len(shape) == 2 else (1, 0, 1, 1))
    message = refusals(lesson, np.ones(shape), s, s, s, s, 1e-5, 0.9,
                       training=training)  # fmt: skip
    unit = "features" if len(shape) == 2 else "channels"
    assert f"the input of shape {shape} has no {unit}" in message


def test_a_batch_without_features_leaves_mxnet_working():
    """Accepted, a (4, 0) training batch made MXNet's next, unrelated operation
    fail ("Shape size mismatch 0 v.s. 4"); run apart, so that cannot happen here."""
    code = textwrap.dedent(
        """
        from mxnet import autograd, np, npx
        from bnlesson.lesson01 import batch_norm
        npx.set_np()
        s = np.ones((1, 0))
        try:
            with autograd.record():
                batch_norm(np.ones((4, 0)), s, s, s, s, 1e-5, 0.9)
        except ValueError as err:
            print("refused:", err)
        print("next:", float((np.ones(3) * 2).sum()))
        """
    )
    out = run_apart(code, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused: batch_norm: the input of shape (4, 0)" in out.stdout
    assert "next: 6.0" in out.stdout
