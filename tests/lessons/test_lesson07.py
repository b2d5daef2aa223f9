"""bnlesson.lesson07: the recording loop and the paper's sigmoid MLP.

Most tests run a tiny network (hidden layers of 6, 5 and 4 units, 3 classes)
on tiny generated data; the notebook's loop is checked against the package's
on a slice of the real Fashion-MNIST with the paper's network. The whole
module takes seconds. The record the loop fills (Recording, drift,
steps_to_reach) is tested in tests/training/test_recording.py.
"""

import numpy as onp
import pytest
from mxnet import autograd, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose, assert_array_equal

from bnlesson import data, lesson02
from bnlesson.core.config import set_seed
from bnlesson.lesson07 import record_steps, train_recording
from bnlesson.lesson07.network import mlp, sigmoid_input
from bnlesson.training.divergence import TrainingDiverged
from bnlesson.training.recording import PERCENTILES

import tinymlp
from nbutil import shown

HIDDEN, CLASSES, FEATURES = tinymlp.HIDDEN, tinymlp.CLASSES, tinymlp.FEATURES


def layer_names(net):
    return [type(block).__name__ for block in net]


@pytest.fixture(scope="module")
def tiny():
    return tinymlp.data()


def run(tiny, norm="none", num_steps=7, every=3, lr=0.5, **kwargs):
    X, y, Xt, yt = tiny
    set_seed(0)
    net = mlp(norm, hidden=HIDDEN, num_outputs=CLASSES)
    rec = train_recording(
        net, data.Batches(X, y, 10, shuffle=True), data.Batches(Xt, yt, 16),
        Xt, num_steps=num_steps, lr=lr, every=every, **kwargs,
    )  # fmt: skip
    return net, rec


# --- the notebook's loop and the package's ---------------------------------


@pytest.fixture(scope="module")
def lesson():
    return shown("07")


@pytest.fixture(scope="module")
def real_slice(real_data_dir):
    """300 training and 100 test images of the real Fashion-MNIST."""
    X, y = data.load_arrays("train", real_data_dir)
    Xt, yt = data.load_arrays("test", real_data_dir)
    return X[:300], y[:300], Xt[:100], yt[:100]


@pytest.mark.parametrize("norm", ["none", "gluon"])
def test_notebook_and_package_loops_record_the_same(lesson, real_slice, norm):
    X, y, Xt, yt = real_slice
    recordings = []
    for loop in (lesson["train_recording"], train_recording):
        set_seed(0)
        batches = data.Batches(X, y, 60, shuffle=True, seed=0)  # 5 per epoch
        recordings.append(loop(
            mlp(norm), batches, data.Batches(Xt, yt, 50), Xt, num_steps=12,
            lr=0.5, every=5, name=norm,
        ))  # fmt: skip
    shown, package = recordings
    assert list(shown.steps) == list(package.steps) == [5, 10, 12]
    for field in ("test_acc", "loss", "percentiles"):
        assert_array_equal(getattr(shown, field), getattr(package, field))
    assert shown.percentiles.shape == (3, 100, 3)
    assert (shown.units, shown.name, shown.lr, shown.num_steps) == (
        package.units, norm, 0.5, 12,
    )  # fmt: skip


# --- bnlesson.lesson07.network: mlp ---------------------------------------


def test_plain_mlp_is_three_sigmoid_layers_with_biases():
    net = mlp("none")
    assert isinstance(net, nn.HybridSequential)
    assert layer_names(net) == ["Dense", "Activation"] * 3 + ["Dense"]
    assert all(block.bias is not None for block in net if isinstance(block, nn.Dense))
    net.initialize()
    assert net(np.zeros((2, 1, 28, 28))).shape == (2, 10)
    assert [block.weight.shape for block in net[::2]] == [
        (100, 784), (100, 100), (100, 100), (10, 100),
    ]  # fmt: skip


def test_bn_mlp_drops_the_bias_before_each_batch_norm():
    net = mlp("gluon")
    assert layer_names(net) == ["Dense", "BatchNorm", "Activation"] * 3 + ["Dense"]
    hidden = [block for block in list(net)[:-1] if isinstance(block, nn.Dense)]
    assert len(hidden) == 3 and all(block.bias is None for block in hidden)
    assert net[-1].bias is not None, "the output layer keeps its bias"
    net.initialize()
    biases = [name for name in net.collect_params() if name.endswith("_bias")]
    assert biases == [net[-1].bias.name], "BN's beta is not named bias"


def test_scratch_bn_mlp_uses_the_lesson_layer():
    net = mlp("scratch", hidden=(5, 4), num_outputs=3)
    assert isinstance(net, nn.Sequential) and not isinstance(net, nn.HybridSequential)
    assert [type(b) for b in net][1] is lesson02.BatchNorm
    net.initialize()
    assert net(np.zeros((2, 7))).shape == (2, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"norm": "batch"}, "norm must be one of"), ({"hidden": ()}, "at least one"),
     ({"hidden": (100, 0)}, "positive integers"), ({"num_outputs": 2.5}, "positive")],
)  # fmt: skip
def test_mlp_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mlp(**kwargs)


# --- record_steps ----------------------------------------------------------


@pytest.mark.parametrize(
    "num_steps, every, steps",
    [(10, 4, [4, 8, 10]), (12, 4, [4, 8, 12]), (3, 5, [3]), (5, 1, [1, 2, 3, 4, 5])],
)  # fmt: skip
def test_record_steps(num_steps, every, steps):
    assert record_steps(num_steps, every) == steps


@pytest.mark.parametrize(
    "num_steps, every", [(0, 1), (5, 0), (5, 1.5), (True, 1), (5, None)]
)
def test_record_steps_refuses_bad_counts(num_steps, every):
    with pytest.raises(ValueError, match="whole number of at least 1"):
        record_steps(num_steps, every)


# --- train_recording, and network.sigmoid_input, which it records ----------


@pytest.mark.parametrize("norm", ["none", "gluon"])
def test_records_at_the_right_steps(tiny, norm):
    # 9 batches per epoch: 20 steps run into a third epoch.
    _, rec = run(tiny, norm, num_steps=20, every=8)
    assert list(rec.steps) == [8, 16, 20] and rec.num_steps == 20
    assert rec.test_acc.shape == rec.loss.shape == (3,)
    assert rec.percentiles.shape == (3, HIDDEN[-1], 3)
    assert rec.units == (0, 1, 2, 3) and rec.lr == 0.5
    assert onp.all((rec.test_acc >= 0) & (rec.test_acc <= 1))
    assert onp.all(onp.isfinite(rec.loss)) and onp.all(rec.loss > 0)
    assert onp.all(onp.diff(rec.percentiles, axis=2) >= 0), "15th <= 50th <= 85th"
    assert 0 < rec.record_seconds < rec.seconds


def test_recording_the_same_scratch_net_again_repeats_the_first_run(tiny):
    # The scratch layer's moving statistics are plain arrays: re-initializing
    # the Parameters alone would leave the first run's statistics in place.
    X, y, Xt, yt = tiny
    net, recordings = mlp("scratch", hidden=HIDDEN, num_outputs=CLASSES), []
    for _ in range(2):
        set_seed(0)
        rec = train_recording(
            net, data.Batches(X, y, 10, shuffle=True), data.Batches(Xt, yt, 16),
            Xt, num_steps=9, lr=0.5, every=3,
        )  # fmt: skip
        recordings.append((rec.test_acc.tolist(), rec.percentiles.tolist()))
    assert recordings[1] == recordings[0]


def sigmoid(z):
    return 1 / (1 + onp.exp(-z))


def by_hand(net, X, upto):
    """The pre-activation of hidden layer `upto`, in NumPy, from the net's weights."""
    h = X.reshape(len(X), -1).astype(onp.float64)
    blocks, z = list(net), None
    for i, block in enumerate(blocks):
        if isinstance(block, nn.Dense):
            z = h @ block.weight.data().asnumpy().T
            if block.bias is not None:
                z = z + block.bias.data().asnumpy()
        elif isinstance(block, nn.BatchNorm):
            mean = block.running_mean.data().asnumpy()
            std = onp.sqrt(block.running_var.data().asnumpy() + 1e-5)
            gamma, beta = block.gamma.data().asnumpy(), block.beta.data().asnumpy()
            z = gamma * (z - mean) / std + beta
        elif i == upto:
            return z
        else:
            h = sigmoid(z)
    raise AssertionError("no such layer")


@pytest.mark.parametrize("norm", ["none", "gluon"])
def test_percentiles_are_those_of_the_sigmoid_input_on_the_probe(tiny, norm):
    net, rec = run(tiny, norm, num_steps=12, every=5)
    probe = tiny[2]
    last_sigmoid = [i for i, b in enumerate(net) if isinstance(b, nn.Activation)][-1]
    z = by_hand(net, probe, last_sigmoid)
    if norm == "gluon":  # training moved the moving statistics away from (0, 1)
        assert not onp.allclose(net[1].running_mean.data().asnumpy(), 0)
    got = sigmoid_input(net, np.array(probe)).asnumpy()
    assert_allclose(got, z, rtol=1e-4, atol=1e-5)
    expected = onp.percentile(z, PERCENTILES, axis=0).T
    # the last recording is taken after the last step: the net as it is now
    assert_allclose(rec.percentiles[-1], expected, rtol=1e-4, atol=1e-5)
    assert_allclose(rec.unit_percentiles(2)[-1], expected[2], rtol=1e-4, atol=1e-5)


def test_sigmoid_input_of_another_layer_and_in_training(tiny):
    net, _ = run(tiny, "gluon", num_steps=3, every=3)
    probe = np.array(tiny[2])
    first = [i for i, b in enumerate(net) if isinstance(b, nn.Activation)][0]
    with autograd.record():  # still prediction mode: moving statistics
        z = sigmoid_input(net, probe, layer=0)
    assert z.shape == (30, HIDDEN[0])
    assert_allclose(z.asnumpy(), by_hand(net, tiny[2], first), rtol=1e-4, atol=1e-5)


def test_the_recordings_are_timed_apart_from_the_training(tiny):
    _, rec = run(tiny, num_steps=6, every=2)
    assert 0 < rec.record_seconds < rec.seconds
    assert rec.overhead > 1 and rec.ms_per_step > 0


def test_a_diverging_run_names_the_step_and_keeps_the_recordings(tiny):
    X, y, Xt, yt = tiny
    broken = X.copy()
    broken[40:] = onp.nan  # batches of 10: the 5th batch is the first bad one
    set_seed(0)
    net = mlp("none", hidden=HIDDEN, num_outputs=CLASSES)
    with pytest.raises(TrainingDiverged) as err:
        train_recording(net, data.Batches(broken, y, 10), data.Batches(Xt, yt, 16),
                        Xt, num_steps=12, lr=0.5, every=2)  # fmt: skip
    diverged = err.value
    # recorded after steps 2 and 4; the mean loss of steps 5-6 is NaN
    assert (diverged.step, diverged.epoch, diverged.lr) == (6, None, 0.5)
    assert str(diverged).startswith(
        "the training loss became nan by step 6 at learning rate 0.5: Lower the "
        "learning rate (try 0.05)."
    )
    assert list(diverged.history.steps) == [2, 4]
    assert onp.isfinite(diverged.history.loss).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"num_steps": 0}, "num_steps must be a whole number of at least 1"),
     ({"every": 0}, "every must be a whole number of at least 1"),
     ({"lr": 0.0}, "lr must be a positive"), ({"lr": -1.0}, "lr must be a positive"),
     ({"probe": onp.zeros((0, FEATURES), onp.float32)}, "at least one input")],
)  # fmt: skip
def test_train_recording_refuses_bad_arguments(tiny, kwargs, match):
    X, y, Xt, yt = tiny
    args = {"num_steps": 3, "lr": 0.5, "every": 1, "probe": Xt, **kwargs}
    net = mlp(hidden=HIDDEN, num_outputs=CLASSES)
    with pytest.raises(ValueError, match=match):
        train_recording(net, data.Batches(X, y, 10), data.Batches(Xt, yt, 16), **args)


def test_train_recording_refuses_an_empty_training_set(tiny):
    X, y, Xt, yt = tiny
    with pytest.raises(ValueError, match="train_iter is empty"):
        train_recording(mlp(hidden=HIDDEN, num_outputs=CLASSES), [],
                        data.Batches(Xt, yt, 16), Xt, num_steps=3, lr=0.5,
                        every=1)  # fmt: skip


def test_a_net_without_sigmoids_is_refused(tiny):
    net = nn.HybridSequential()
    net.add(nn.Dense(3))
    with pytest.raises(ValueError, match="no sigmoid"):
        sigmoid_input(net, np.zeros((2, 4)))
    X, y, Xt, yt = tiny
    with pytest.raises(ValueError, match="no sigmoid"):
        train_recording(net, data.Batches(X, y, 10), data.Batches(Xt, yt, 16), Xt,
                        num_steps=3, lr=0.5, every=1)  # fmt: skip


def test_recording_changes_nothing_it_measures(tiny):
    """Recording after every step or only at the end trains the same weights:
    the probe and the test pass learn nothing and leave batch norm's moving
    statistics alone."""
    finals = []
    for every in (1, 9):
        net, rec = run(tiny, "gluon", num_steps=9, every=every)
        finals.append([p.data().asnumpy() for p in net.collect_params().values()])
    often, once = finals
    assert len(often) == len(once) == 17  # 4 Dense, 3 BN with 4 each, 1 bias
    for a, b in zip(often, once):
        assert_array_equal(a, b)
