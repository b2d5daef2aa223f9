"""The argument checks the package shares (``bnlesson.core.arguments``): what
counts as a number and as a whole number, and the message for each slip."""

import math
import re
from fractions import Fraction

import numpy as onp
import pytest

from bnlesson.core.arguments import (
    check_finite,
    check_whole,
    is_number,
    is_whole,
    not_a_number,
    shown,
)


@pytest.mark.parametrize(
    "value, number, whole",
    [(3, True, True), (onp.int64(3), True, True), (onp.uint8(3), True, True),
     (0.5, True, False), (256.0, True, False), (onp.float32(2), True, False),
     (Fraction(1, 3), True, False), (math.nan, True, False),
     (True, False, False), (False, False, False), ("3", False, False),
     (None, False, False), (1 + 0j, False, False), ([3], False, False)],
)  # fmt: skip
def test_what_counts_as_a_number_and_as_a_whole_number(value, number, whole):
    # A bool is a slip (lr=True), not the number 1; 256.0 is not a count.
    assert is_number(value) is number
    assert is_whole(value) is whole


@pytest.mark.parametrize(
    "value, says",
    [("0.1", "not the string '0.1': write the number without quotes"),
     (None, "not None: give a value"),
     (True, "not True (a bool, which Python would take as 1): give a number"),
     ([0.1], "not [0.1] (of type list): give a number")],
)  # fmt: skip
def test_a_value_that_is_not_a_number_is_named_with_its_type(value, says):
    assert (
        not_a_number("lr", value, "lr=0.1")
        == f"lr must be a number, {says}, e.g. lr=0.1"
    )


@pytest.mark.parametrize("value", [1, 7, onp.int32(256)])
def test_a_whole_number_at_the_minimum_or_above_passes(value):
    check_whole("batch_size", value, "batch_size=256")


@pytest.mark.parametrize(
    "value, minimum, message",
    [(256.0, 1, "not 256.0 (a float): write batch_size=256"),
     (onp.float32(8), 1, "not 8.0 (a float32): write batch_size=8"),
     ("256", 1, "not '256' (of type str), e.g. batch_size=256"),
     (None, 1, "not None (of type NoneType), e.g. batch_size=256"),
     (0, 1, "not 0"), (-3.0, 1, "not -3.0"), (2.5, 1, "not 2.5"),
     (True, 1, "not True (of type bool), e.g. batch_size=256"),
     (1, 2, "not 1")],
)  # fmt: skip
def test_a_value_that_is_no_count_is_refused_with_the_fix(value, minimum, message):
    with pytest.raises(ValueError) as err:
        check_whole("batch_size", value, "batch_size=256", minimum=minimum)
    assert str(err.value) == (
        f"batch_size must be a whole number of at least {minimum}, {message}"
    )


@pytest.mark.parametrize(
    "value, plain",
    [(onp.float32(8), "8.0"), (onp.int64(3), "3"), (onp.float64("nan"), "nan"),
     (8.0, "8.0"), ("8", "'8'")],
)  # fmt: skip
def test_a_numpy_scalar_is_shown_as_its_value_on_any_numpy(value, plain):
    # NumPy 2's repr is np.float32(8.0); the messages must not depend on it
    assert shown(value) == plain


def test_the_minimum_may_be_zero():
    check_whole("steps", 0, "steps=10", minimum=0)
    with pytest.raises(ValueError, match="at least 0, not -1"):
        check_whole("steps", -1, "steps=10", minimum=0)


@pytest.mark.parametrize("value", [0.1, -2, 0, onp.float32(1e-3), 3.4e38])
def test_a_finite_number_passes(value):
    check_finite("lr", value, "lr=0.1")


@pytest.mark.parametrize(
    "value, message",
    [(math.nan, "lr must be a finite number, not nan, e.g. lr=0.1"),
     (-math.inf, "lr must be a finite number, not -inf, e.g. lr=0.1"),
     (onp.float32("inf"), "lr must be a finite number, not inf, e.g. lr=0.1"),
     ("0.1", "lr must be a number, not the string '0.1'"),
     (False, "lr must be a number, not False (a bool")],
)  # fmt: skip
def test_what_is_not_finite_or_no_number_is_refused(value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_finite("lr", value, "lr=0.1")
