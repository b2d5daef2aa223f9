"""divergence.check, the one place that decides a run diverged."""

import math

import pytest
from mxnet.gluon import nn

from bnlesson.training.divergence import TrainingDiverged, check


def test_a_finite_loss_passes_and_the_history_is_not_built():
    def history():
        raise AssertionError("built only when training diverged")

    assert check(0.25, 0.5, step=3, history=history) == 0.25


@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_raises_with_the_fields(loss):
    with pytest.raises(TrainingDiverged, match=f"became {loss} by step 7") as err:
        check(loss, 0.5, step=7, history=lambda: "so far")
    e = err.value
    assert (e.step, e.epoch, e.lr, e.history, e.cause, e.batch) == (
        7, None, 0.5, "so far", None, None,
    )  # fmt: skip


def test_finite_loss_with_bad_weights_is_divergence_too():
    with pytest.raises(TrainingDiverged, match="parameters became NaN") as err:
        check(1.5, 0.1, params_finite=False, epoch=2, history=None)
    assert (err.value.epoch, err.value.step) == (2, None)


def test_the_advice_follows_the_net():
    plain, with_bn = nn.Sequential(), nn.Sequential()
    plain.add(nn.Dense(3))
    with_bn.add(nn.Dense(3), nn.BatchNorm())
    with pytest.raises(TrainingDiverged, match="or add batch normalization"):
        check(math.nan, 1.0, step=1, net=plain)
    with pytest.raises(TrainingDiverged, match="already has batch normalization"):
        check(math.nan, 1.0, step=1, net=with_bn)
    with pytest.raises(TrainingDiverged, match=r"\(try 0.1\)\.$"):
        check(math.nan, 1.0, step=1)  # nothing known about the net: no advice
