"""bnlesson.check.batch_norm_block: it passes lesson 02's Block and names each
classic mistake of a Block when fed exactly that mistaken class."""

from __future__ import annotations

import inspect

import pytest
from mxnet import autograd

import bnlesson.lesson02
from bnlesson.check import block, formula
from bnlesson.check.block import batch_norm_block

SOURCE = inspect.getsource(bnlesson.lesson02.BatchNorm)


def mistaken(*edits: tuple[str, str]):
    """Lesson 02's BatchNorm with each (old, new) text edit made, as a class."""
    source = SOURCE
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    namespace = {**vars(bnlesson.lesson02), "autograd": autograd}
    exec(compile(source, "<mistaken BatchNorm>", "exec"), namespace)
    return namespace["BatchNorm"]


CASES = {
    "not kept": (
        [
            (
                "Y, self.moving_mean, self.moving_var = batch_norm(",
                "Y, _, _ = batch_norm(",
            )
        ],
        block.NOT_KEPT,
    ),  # fmt: skip
    "zero start": (
        [("self.moving_var = np.ones(shape)", "self.moving_var = np.zeros(shape)")],
        block.ZERO_START,
    ),  # fmt: skip
    "momentum 0.1": ([("momentum=0.9", "momentum=0.1")], block.MOMENTUM_NEW),
    "updated in prediction": (
        [
            (
                "        Y, self.moving_mean, self.moving_var = batch_norm(",
                "        with autograd.train_mode():\n"
                "            Y, self.moving_mean, self.moving_var = batch_norm(",
            ),
            ("momentum=0.9,\n        )", "momentum=0.9,\n            )"),
        ],
        formula.UPDATED_IN_PREDICTION,
    ),  # fmt: skip
    "left on the CPU": (
        [("if self.moving_mean.ctx != X.ctx:", "if False:")],
        block.OTHER_DEVICE,
    ),  # fmt: skip
    "reset on the CPU": (
        [
            (
                "np.zeros(self.gamma.shape, ctx=self.moving_mean.ctx)",
                "np.zeros(self.gamma.shape)",
            )
        ],
        block.NO_RESET,
    ),  # fmt: skip
}


def test_the_lessons_block_passes_with_one_line(capsys):
    batch_norm_block(bnlesson.lesson02.BatchNorm)
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("BatchNorm: starts at moving mean 0 and variance 1")


@pytest.mark.parametrize("case", CASES)
def test_each_mistake_is_named(case):
    edits, mistake = CASES[case]
    cls = mistaken(*edits)
    with pytest.raises(AssertionError) as failed:
        batch_norm_block(cls)
    named = [line for line in str(failed.value).splitlines() if "Looks like" in line]
    assert named == [f"* Looks like {mistake.name}: {mistake.advice}"]


def test_a_block_that_fails_to_build_says_what_it_raised():
    cls = mistaken(("super().__init__(**kwargs)", "super().__init__(**kwargs)\n"
                    "        raise NotImplementedError()"))  # fmt: skip
    with pytest.raises(
        AssertionError, match="2-D input .8, 3.: raised NotImplementedError"
    ):
        batch_norm_block(cls)
