"""Divergence (``bnlesson.training.divergence``): what went non-finite first
(the :class:`Trace` of a few real SGD steps), the message each case gets, and
:func:`check`, the one place that decides a run diverged.

Training through ``lesson03.train`` (a huge rate, an overflowing loss, a NaN
input) is tested in tests/lessons/test_lesson03_train.py."""

import math

import mxnet as mx
import numpy as onp
import pytest
import trainsets
from mxnet import autograd, gluon, np
from mxnet.gluon import nn

from bnlesson.training.divergence import (
    CAUSES,
    Trace,
    TrainingDiverged,
    check,
    diverged,
    message,
)

DEVICE = mx.cpu()


@pytest.fixture(scope="module")
def batches():
    """Three batches of 8 real test images, flattened, and their labels."""
    return trainsets.flat_test_batches()


def traced_steps(batches, lr, nan_in=None):
    """Softmax regression trained by SGD on `batches`, each step traced.

    The inputs of batch `nan_in` (from 1) get one NaN pixel.
    """
    mx.random.seed(0)
    net = nn.Dense(10)
    net.initialize(ctx=DEVICE)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trace = Trace(net, DEVICE)
    for number, (X, y) in enumerate(batches, 1):
        X = X.copy()
        if number == nan_in:
            X[3, 100] = onp.nan
        X, y = np.array(X), np.array(y)
        with autograd.record():
            l = loss(net(X), y)  # noqa: E741 - d2l's name for the losses
        l.backward()
        trainer.step(X.shape[0])
        trace.add(X, l.sum())
    return trace


def test_finite_steps_are_healthy(batches):
    trace = traced_steps(batches, lr=0.1)
    assert len(trace.steps) == 3
    assert math.isfinite(float(trace.health()))
    # Every step finite: only the epoch's sum can have overflowed.
    assert trace.first_non_finite() == ("loss", None)


def test_an_update_that_blows_the_weights_up_is_found_at_its_batch(batches):
    # lr = 1e36: the first loss is that of random weights (finite); the update
    # multiplies gradients of about 0.1 by 1e36/8, whose squares overflow.
    trace = traced_steps(batches, lr=1e36)
    assert not math.isfinite(float(trace.health()))
    assert trace.first_non_finite() == ("parameters", 1)


def test_a_nan_input_is_named_before_the_loss_and_weights_it_spoils(batches):
    # Batch 2's NaN makes its loss and then the weights NaN too: the cause is
    # the first in CAUSES's order, the inputs.
    trace = traced_steps(batches, lr=0.1, nan_in=2)
    assert CAUSES == ("inputs", "loss", "parameters")
    assert trace.first_non_finite() == ("inputs", 2)


def test_a_loss_given_as_non_finite_with_finite_inputs_is_the_loss(batches):
    net = nn.Dense(2)
    net.initialize(ctx=DEVICE)  # never called: its weights' shape is deferred
    trace = Trace(net, DEVICE)
    X = np.array(batches[0][0])
    trace.add(X, np.array(1.5))
    trace.add(X, np.array(onp.inf))
    # The bias (shape known) is traced; the weight, never used, cannot go
    # non-finite and is skipped.
    assert [a.shape for a in trace.params] == [(2,)]
    assert trace.first_non_finite() == ("loss", 2)
    assert float(trace.health()) == 0.0  # the bias: zeros


def test_an_empty_trace_is_healthy():
    assert float(Trace(nn.Dense(2), DEVICE).health()) == 0.0


# --- the message -----------------------------------------------------------------


def test_the_error_carries_the_message_and_what_the_run_knew():
    history = object()
    err = diverged(
        math.nan, 0.5, epoch=2, history=history, cause="parameters", batch=7,
        has_batch_norm=False,
    )  # fmt: skip
    assert isinstance(err, TrainingDiverged) and isinstance(err, FloatingPointError)
    assert (err.epoch, err.step, err.lr, err.cause, err.batch) == (
        2, None, 0.5, "parameters", 7,
    )  # fmt: skip
    assert err.history is history
    assert str(err) == message(
        math.nan, 0.5, epoch=2, cause="parameters", batch=7, has_batch_norm=False
    )


def test_the_advice_divides_the_rate_by_ten_and_fits_the_network():
    def advice(has_bn):
        return message(math.inf, 2.0, step=40, has_batch_norm=has_bn)

    head = "the training loss became inf by step 40 at learning rate 2.0: "
    assert advice(None) == head + "Lower the learning rate (try 0.2)."
    assert advice(False) == head + (
        "Lower the learning rate (try 0.2) or add batch normalization, which "
        "keeps each layer's inputs in a range where a large rate still works."
    )
    assert advice(True).endswith(
        "(try 0.2); this network already has batch normalization, so the rate "
        "itself is too large."
    )


@pytest.mark.parametrize(
    "cause, batch, says",
    [("loss", 3, "the loss went non-finite first, in batch 3, while the inputs "
                 "and the parameters were finite"),
     ("loss", None, "every batch's loss was finite, but their sum overflowed "
                    "float32. "),
     ("parameters", 1, "the parameters went non-finite first, in the update "
                       "after batch 1")],
)  # fmt: skip
def test_each_cause_is_explained_before_the_advice(cause, batch, says):
    text = message(math.nan, 0.1, epoch=1, cause=cause, batch=batch)
    assert text.startswith(
        "the training loss became nan in epoch 1 at learning rate 0.1: " + says
    )
    assert text.endswith("Lower the learning rate (try 0.01).")


def test_bad_inputs_get_no_learning_rate_advice():
    text = message(math.nan, 0.1, epoch=3, cause="inputs", batch=5, has_batch_norm=True)
    assert "batch 5 of epoch 3 holds NaN or infinite values" in text
    assert "No learning rate fixes that" in text
    assert "Lower the learning rate" not in text


def test_weights_that_blow_up_under_a_finite_loss_are_told_apart():
    text = message(1.25, 0.1, step=9, cause="parameters", batch=9)
    assert text.startswith(
        "the parameters became NaN or infinite by step 9 at learning rate 0.1, "
        "while the loss was still finite: "
    )


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
