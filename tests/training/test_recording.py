"""The run record of the loops that watch a layer (``bnlesson.training.recording``):
``Recording`` built from rows, its table and its typical unit, ``check_loss``,
``steps_to_reach``, and the drift measure, each against a hand-computed value.

The loop that fills a Recording, lesson 07's ``train_recording``, is tested in
tests/lessons/test_lesson07.py."""

import math

import numpy as onp
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from bnlesson.training.divergence import TrainingDiverged
from bnlesson.training.recording import (
    Recording,
    check_loss,
    drift,
    steps_to_reach,
)

# --- Recording: its table, steps_to_reach ------------------------------------


def test_to_frame_and_steps_to_reach():
    rec = Recording(
        steps=onp.array([10, 20, 30]), test_acc=onp.array([0.5, 0.8, 0.7]),
        loss=onp.array([1.0, 0.6, 0.5]), units=(4, 7),
        percentiles=onp.arange(18, dtype=float).reshape(3, 2, 3),
    )  # fmt: skip
    frame = rec.to_frame(unit=7)
    assert isinstance(frame, pd.DataFrame) and frame.index.name == "step"
    assert list(frame.columns) == ["test_acc", "loss", "p15", "p50", "p85"]
    assert list(frame.loc[20]) == [0.8, 0.6, 9.0, 10.0, 11.0]
    assert list(rec.to_frame().columns) == ["test_acc", "loss"]
    assert steps_to_reach(rec, 0.75) == 20 and steps_to_reach(rec, 0.5) == 10
    assert steps_to_reach(rec, 0.9) is None
    with pytest.raises(ValueError, match="was not recorded"):
        rec.unit_percentiles(5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        steps_to_reach(rec, 80)


# --- Recording: rows, the typical unit, a diverged loss ----------------------


def test_from_rows_stacks_the_rows_unit_by_unit():
    p1 = onp.array([[-1.0, 0.0, 1.0], [2.0, 3.0, 4.0]])  # two units
    rec = Recording.from_rows([(5, 0.5, 2.0, p1), (10, 0.7, 1.0, p1 + 1)], lr=0.1)
    assert list(rec.steps) == [5, 10] and rec.units == (0, 1) and rec.lr == 0.1
    assert list(rec.unit_percentiles(1)[:, 1]) == [3.0, 4.0]
    assert list(rec.test_acc) == [0.5, 0.7] and list(rec.loss) == [2.0, 1.0]
    with pytest.raises(ValueError, match="at least one recorded row"):
        Recording.from_rows([])


def test_the_typical_unit_has_the_median_drift_of_its_own_run():
    # first width 2 for every unit; the medians move by 0, 4, 1, 3, 2 widths
    first = onp.tile([-1.0, 0.0, 1.0], (5, 1))
    moves = onp.array([0.0, 4.0, 1.0, 3.0, 2.0]) * 2
    last = first + moves[:, None]
    rec = Recording.from_rows([(1, 0.5, 1.0, first), (2, 0.6, 1.0, last)])
    assert_allclose(rec.drift(), [0, 4, 1, 3, 2])
    assert rec.typical_unit() == 4  # drift 2, the middle of 0..4


def test_check_loss_passes_a_finite_loss_and_stops_a_nan():
    assert check_loss(0.25, lr=0.5, step=3, rows=[]) == 0.25
    row = (2, 0.4, 1.5, onp.array([[-1.0, 0.0, 1.0]]))
    with pytest.raises(TrainingDiverged, match="by step 4") as err:
        check_loss(math.inf, lr=0.5, step=4, rows=[row])
    assert list(err.value.history.steps) == [2] and err.value.step == 4


# --- drift -----------------------------------------------------------------


def test_drift_of_a_still_distribution_is_zero():
    still = onp.tile([-1.0, 0.0, 1.0], (5, 1))
    assert drift(still) == 0.0


def test_drift_adds_median_shift_and_width_change_relative_to_first_width():
    # width 2 throughout, median moves by 1: half a width
    assert math.isclose(drift([[-1, 0, 1], [0, 1, 2]]), 0.5)
    # median still, width 2 -> 6: twice the first width
    assert math.isclose(drift([[-1, 0, 1], [-3, 0, 3]]), 2.0)
    # shrinking counts as much as stretching; both parts add up
    assert math.isclose(drift([[-2, 0, 2], [0, 1, 2]]), (1 + 2) / 4)


def test_drift_parts_add_up_to_the_total():
    p = [[-2, 0, 2], [-2, 3, 10]]  # first width 4: median +3, width +8
    assert drift(p, "median") == 0.75 and drift(p, "width") == 2.0
    assert drift(p, "total") == drift(p) == 2.75


def test_drift_compares_only_the_first_and_last_recording():
    wandering = [[-1, 0, 1], [5, 9, 20], [-1, 0, 1]]
    assert drift(wandering) == 0.0


def test_drift_per_unit():
    # (recordings, units, percentiles): unit 0 shifts by half its width and
    # keeps it; unit 1 keeps its median and grows from width 2 to 7
    p = onp.array([[[-1, 0, 1], [-1, 0, 1]], [[0, 1, 2], [-1, 0, 6]]], dtype=float)
    assert_allclose(drift(p), [0.5, 5 / 2])


@pytest.mark.parametrize(
    "p, match",
    [([[-1, 0, 1]], "at least two"), ([[0, 1], [0, 1]], r"shape \(R, 3\)"),
     ([[0, 0, 0], [0, 1, 2]], "must exceed the 15th")],
)  # fmt: skip
def test_drift_refuses_bad_input(p, match):
    with pytest.raises(ValueError, match=match):
        drift(p)


def test_drift_refuses_an_unknown_part():
    with pytest.raises(ValueError, match="part must be one of"):
        drift([[-1, 0, 1], [0, 1, 2]], part="mean")
