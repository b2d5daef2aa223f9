"""bnlesson.check.bn_backward: it passes lesson 08's two backward passes and
names each classic slip when fed exactly that mistaken backward pass."""

from __future__ import annotations

import inspect

import pytest

import bnlesson.lesson08
from bnlesson.check import backward, formula
from bnlesson.check.backward import bn_backward


def mistaken(name: str, *edits: tuple[str, str]):
    """Lesson 08's function `name` with each (old, new) text edit made."""
    source = inspect.getsource(getattr(bnlesson.lesson08, name))
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    namespace = dict(vars(bnlesson.lesson08))
    exec(compile(source, f"<mistaken {name}>", "exec"), namespace)
    return namespace[name]


DX = "dX = gamma * s * (dY - mean_dY - X_hat * mean_dY_X_hat)"
AXES = "axes = (0,) if dY.ndim == 2 else (0, 2, 3)"
CASES = {
    "no variance path": (
        "bn_backward",
        [(DX, "dX = gamma * s * (dY - mean_dY)")],
        backward.NO_VARIANCE_PATH,
    ),  # fmt: skip
    "no variance path, graph": (
        "bn_backward_graph",
        [("dd = dd + dv * 2 * d / m", "dd = dd")],
        backward.NO_VARIANCE_PATH,
    ),  # fmt: skip
    "no mean path": (
        "bn_backward",
        [(DX, DX.replace(" - mean_dY -", " -"))],
        backward.NO_MEAN_PATH,
    ),  # fmt: skip
    "no mean path, graph": (
        "bn_backward_graph",
        [("dX = dd + dmu / m", "dX = dd")],
        backward.NO_MEAN_PATH,
    ),  # fmt: skip
    "no gamma": ("bn_backward", [(DX, DX.replace("gamma * ", ""))], backward.NO_GAMMA),
    "means": (
        "bn_backward",
        [
            (
                "return dX, m * mean_dY_X_hat, m * mean_dY",
                "return dX, mean_dY_X_hat, mean_dY",
            )
        ],
        backward.MEANS_NOT_SUMS,
    ),  # fmt: skip
    "m as the batch, graph": (
        "bn_backward_graph",
        [("m = dY.size // dY.shape[1]", "m = dY.shape[0]")],
        backward.M_IS_BATCH,
    ),
    "axis 0": ("bn_backward", [(AXES, "axes = (0,)")], backward.AXES),
    "only dX returned": (
        "bn_backward",
        [("return dX, m * mean_dY_X_hat, m * mean_dY", "return dX")],
        backward.RETURNS,
    ),  # fmt: skip
    "no keepdims": (
        "bn_backward",
        [("keepdims=True", "keepdims=False")],
        formula.KEEPDIMS,
    ),  # fmt: skip
}


def test_both_of_the_lessons_backward_passes_pass(capsys):
    bn_backward(bnlesson.lesson08.bn_backward)
    bn_backward(bnlesson.lesson08.bn_backward_graph)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "bn_backward",
        "bn_backward_graph",
    ]
    assert all("agree with finite differences" in line for line in lines)


@pytest.mark.parametrize("case", CASES)
def test_each_slip_is_named(case):
    name, edits, mistake = CASES[case]
    with pytest.raises(AssertionError) as failed:
        bn_backward(mistaken(name, *edits))
    named = [line for line in str(failed.value).splitlines() if "Looks like" in line]
    assert named == [f"* Looks like {mistake.name}: {mistake.advice}"]


def test_a_function_not_written_yet_is_told_what_it_raised():
    def bn_backward_graph(dY, cache):
        raise NotImplementedError()

    with pytest.raises(AssertionError) as failed:
        bn_backward(bn_backward_graph)
    message = str(failed.value)
    assert message.startswith("bn_backward_graph is not right yet.")
    assert "4-D batch (2, 3, 3, 3): raised NotImplementedError" in message
    assert "* It raises: finish writing it" in message
    assert "Looks like" not in message
