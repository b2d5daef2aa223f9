"""The run builder, ``bnlesson.experiments.runplan.runs``: every combination
of a grid's values, and the grids it refuses. (:func:`prepare`, the checks of
every run before the first trains, is tested through ``run_grid`` in
test_grid.py.)"""

import pytest

from bnlesson.experiments.runplan import label, runs


def test_runs_are_the_product_last_setting_fastest():
    plan = runs({"lr": [0.1, 1.0], "bn": [False, True]})
    assert [tuple(r) for r in plan] == [
        (0.1, False), (0.1, True), (1.0, False), (1.0, True),
    ]  # fmt: skip
    assert plan[1].lr == 0.1 and plan[1].bn is True
    assert plan[1]._fields == ("lr", "bn")
    assert label(plan[1]) == "lr=0.1, bn=True"


def test_runs_accept_any_iterable_of_values():
    plan = runs({"lr": (lr for lr in [0.1, 1.0]), "seed": range(2)})
    assert [tuple(r) for r in plan] == [(0.1, 0), (0.1, 1), (1.0, 0), (1.0, 1)]


@pytest.mark.parametrize(
    "grid, match",
    [({}, "non-empty dict"), ({"lr": []}, "is empty"), ({"act": "relu"}, r"\['relu'\]"),
     ({"learning rate": [1]}, "identifiers"), ({"lr": 0.1}, "list of values")],
)  # fmt: skip
def test_bad_grids_are_explained(grid, match):
    with pytest.raises(ValueError, match=match):
        runs(grid)
