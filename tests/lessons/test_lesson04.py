"""Lesson 04: compare against nn.BatchNorm, the profiler helper, notebook = package."""

import mxnet as mx
import numpy as onp
import pytest
from mxnet import autograd, np
from mxnet.gluon import nn

from bnlesson import lesson02, lesson04
from bnlesson.lesson04 import compare, one_pass, profile

from nbutil import shown

SHAPES = [(16, 5), (8, 3, 4, 4)]


@pytest.fixture(scope="module")
def lesson():
    return shown("04")


# --- compare: our Block against Gluon's layer -------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("device", [mx.cpu(0), mx.cpu(1)], ids=str)
def test_our_block_matches_gluon(shape, device):
    # cpu(1) is a context of its own: an array left on cpu(0) would fail here
    assert compare(shape, device) < 1e-5


@pytest.mark.parametrize("device", [mx.cpu(0), mx.cpu(1)], ids=str)
def test_the_cpu_kernel_moves_running_statistics_in_backward(device):
    # What lesson 04's text says of MXNet's CPU kernel (cuDNN differs).
    X = np.random.normal(3, 2, size=(8, 3, 4, 4), ctx=device)
    layer = nn.BatchNorm(in_channels=3)
    layer.initialize(ctx=device)
    with autograd.record():
        Y = layer(X)
    assert float(np.abs(layer.running_mean.data()).max()) == 0
    Y.backward()
    expected = 0.1 * X.mean(axis=(0, 2, 3))
    assert float(np.abs(layer.running_mean.data() - expected).max()) < 1e-6
    biased = X.var(axis=(0, 2, 3))
    assert float(np.abs(layer.running_var.data() - (0.9 + 0.1 * biased)).max()) < 1e-5


def test_printing_gluons_layer_shows_its_settings():
    # Lesson 04 reads momentum and eps from the layer's repr: Gluon keeps
    # them in a private dictionary and has no public attribute for them.
    layer = nn.BatchNorm(momentum=0.8, epsilon=1e-3, in_channels=7)
    assert not hasattr(layer, "momentum") and not hasattr(layer, "eps")
    shown = repr(layer)
    assert "momentum=0.8" in shown and "eps=0.001" in shown, shown
    assert "in_channels=7" in shown, shown


class _WrongMomentum(lesson02.BatchNorm):
    """Moves its running statistics twice as far as Gluon's layer."""

    def forward(self, X):
        before = self.moving_mean
        Y = super().forward(X)
        self.moving_mean = before + 2 * (self.moving_mean - before)
        return Y


@pytest.mark.parametrize("shape", SHAPES)
def test_compare_sees_a_wrong_running_statistic(monkeypatch, shape):
    monkeypatch.setattr(lesson04, "BatchNorm", _WrongMomentum)
    assert compare(shape, mx.cpu()) > 0.1  # batches have mean 3: 0.3 apart


def test_compare_refuses_a_3d_shape():
    with pytest.raises(ValueError):
        compare((4, 3, 5), mx.cpu())


@pytest.mark.parametrize("shape", SHAPES)
def test_same_compare(lesson, shape):
    gaps = []
    for fn in (compare, lesson["compare"]):
        mx.random.seed(1)
        gaps.append(fn(shape, mx.cpu(), steps=2))
    assert gaps[0] == gaps[1]


# --- profile: MXNet's profiler around a computation -------------------------


def _layer_and_input():
    X = np.random.normal(size=(8, 3, 4, 4))
    layer = nn.BatchNorm(in_channels=3)
    layer.initialize()
    return layer, X


def test_profile_reports_operators_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    layer, X = _layer_and_input()
    ms, ops = profile(lambda: layer(X), np.ones(X.shape), repeat=2)
    assert ms > 0 and {"BatchNorm", "_backward_BatchNorm"} <= set(ops)
    assert not set(ops) & {"WaitForVar", "DeleteVariable"}  # engine bookkeeping
    _, forward_only = profile(lambda: layer(X), repeat=2)
    assert "BatchNorm" in forward_only
    assert not any(op.startswith("_backward") for op in forward_only)
    assert list(tmp_path.iterdir()) == []


def test_profile_refuses_no_repeat():
    with pytest.raises(ValueError, match="repeat must be at least 1"):
        profile(lambda: np.ones(3), repeat=0)


def test_profile_stops_the_profiler_when_forward_fails():
    def broken():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        profile(broken, repeat=1)
    layer, X = _layer_and_input()
    _, ops = profile(lambda: layer(X), repeat=1)  # a fresh, clean run
    assert "BatchNorm" in ops


def test_one_pass_gives_autograds_gradient():
    X = np.array([[1.0, 2.0], [3.0, 5.0]])
    X.attach_grad()
    one_pass(lambda: X * X, np.ones((2, 2)))
    onp.testing.assert_allclose(X.grad.asnumpy(), 2 * X.asnumpy())


def test_same_profile(lesson):
    layer, X = _layer_and_input()
    results = []
    for fn in (profile, lesson["profile"]):
        ms, ops = fn(lambda: layer(X), np.ones(X.shape), repeat=2)
        results.append((ms > 0, sorted(ops)))  # times differ, operators not
    assert results[0] == results[1]
    messages = []
    for fn in (profile, lesson["profile"]):
        with pytest.raises(ValueError) as err:
            fn(lambda: X, repeat=0)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_same_one_pass(lesson):
    grads = []
    for fn in (one_pass, lesson["one_pass"]):
        X = np.array([[1.0, -2.0], [0.5, 4.0]])
        X.attach_grad()
        with autograd.pause():
            fn(lambda X=X: (X * X).sum(axis=1), np.array([1.0, 3.0]))
        grads.append(X.grad.asnumpy())
    onp.testing.assert_array_equal(*grads)
