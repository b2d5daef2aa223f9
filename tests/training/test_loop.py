"""The shared training loop (sgd_steps), its record (StepLog) and endless().

References: an SGD step on a one-layer linear net computed by hand, the
order in which a watcher's hooks must run, and the first step whose loss
is not finite.
"""

import math

import mxnet as mx
import numpy as onp
import pandas as pd
import pytest
from mxnet import gluon, init, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from bnlesson import data
from bnlesson.training.divergence import TrainingDiverged
from bnlesson.training.loop import StepLog, Watcher, endless, sgd_steps

# Three examples of two features, targets 0; the net is y_hat = X @ w.
X = onp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=onp.float32)
Y = onp.zeros((3, 1), dtype=onp.float32)
W0, LR = [1.0, 2.0], 0.3


def linear(weights=W0):
    """A Dense(1) without bias, weights `weights`, and its SGD trainer."""
    net = nn.Dense(1, use_bias=False, in_units=2)
    net.initialize(init.Constant(np.array([weights])), ctx=mx.cpu())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": LR})
    return net, trainer


def half_square(y_hat, y):
    """0.5 (y_hat - y)^2 per example (Gluon's L2Loss)."""
    return gluon.loss.L2Loss()(y_hat, y)


class Spy(Watcher):
    """Logs which hook ran at which step, and the weight and gradient it saw."""

    def __init__(self, net):
        self.net, self.calls, self.seen = net, [], {}

    def weight(self):
        return self.net.weight.data().asnumpy().ravel().tolist()

    def before(self, step):
        self.calls.append(("before", step))
        self.seen[("before", step)] = self.weight()

    def before_update(self, step, loss):
        self.calls.append(("before_update", step))
        grad = self.net.weight.grad().asnumpy().ravel().tolist()
        self.seen[("before_update", step)] = (self.weight(), grad)

    def after(self, step, loss):
        self.calls.append(("after", step))
        self.seen[("after", step)] = self.weight()

    def so_far(self):
        return [call for call in self.calls if call[0] == "after"]


def batch(x=X):
    return np.array(x), np.array(Y)


@pytest.mark.parametrize("mean", [False, True])
def test_one_step_is_the_sgd_update_by_hand(mean):
    # loss sum_i 0.5 (x_i . w)^2: gradient X^T X w = [1 + 0 + 3, 0 + 2 + 3] = [4, 5]
    # w <- w - lr / b * [4, 5] = [1 - 0.1 * 4, 2 - 0.1 * 5]; the mean loss
    # gives the gradient / 3 and step(1): the same update.
    net, trainer = linear()
    spy = Spy(net)
    taken = sgd_steps(net, [batch()], 1, trainer, half_square, mx.cpu(),
                      watcher=spy, mean=mean)  # fmt: skip
    assert taken == 1
    weight, grad = spy.seen[("before_update", 1)]
    assert weight == W0, "the gradient is read before the update"
    assert_allclose(grad, [4 / 3, 5 / 3] if mean else [4.0, 5.0], rtol=1e-6)
    assert_allclose(spy.seen[("after", 1)], [0.6, 1.5], rtol=1e-6)
    assert_allclose(net.weight.data().asnumpy().ravel(), [0.6, 1.5], rtol=1e-6)


def test_hooks_run_in_order_with_the_step_numbers():
    net, trainer = linear()
    spy = Spy(net)
    sgd_steps(net, endless([batch()]), 3, trainer, half_square, mx.cpu(), watcher=spy)
    hooks = ["before", "before_update", "after"]
    assert spy.calls == [(hook, step) for step in (1, 2, 3) for hook in hooks]
    # each step starts from the weights the previous one left
    for step in (2, 3):
        assert spy.seen[("before", step)] == spy.seen[("after", step - 1)]


def test_one_pass_stops_when_the_batches_end_and_endless_goes_on():
    net, trainer = linear()
    seen = []

    def forward(x):
        seen.append(float(x[0, 0]))
        return net(x)

    two = [batch(), batch(2 * X)]
    assert sgd_steps(net, two, 5, trainer, half_square, mx.cpu(), forward=forward) == 2
    assert seen == [1.0, 2.0]
    seen.clear()
    net, trainer = linear()
    sgd_steps(net, endless(two), 5, trainer, half_square, mx.cpu(), forward=forward)
    assert seen == [1.0, 2.0, 1.0, 2.0, 1.0], "epochs follow one another"


def test_endless_iterates_the_data_again_for_every_epoch():
    assert list(zip(range(5), endless([1, 2]))) == list(enumerate([1, 2, 1, 2, 1]))
    images = onp.arange(12, dtype=onp.float32).reshape(6, 2)
    batches = data.Batches(images, onp.zeros(6), 2, shuffle=True, seed=0)
    seen = [X[:, 0].asnumpy().tolist() for _, (X, _) in zip(range(9), endless(batches))]
    assert batches.epoch == 3, "three epochs of three batches, nothing fetched ahead"
    epochs = [sum(seen[i : i + 3], []) for i in (0, 3, 6)]
    assert all(sorted(e) == [0, 2, 4, 6, 8, 10] for e in epochs), "every example once"
    assert len({tuple(e) for e in epochs}) == 3, "each epoch reshuffled"


def test_divergence_stops_at_the_first_non_finite_step():
    bad = X.copy()
    bad[0, 0] = onp.nan
    net, trainer = linear()
    spy = Spy(net)
    batches = [batch(), batch(), batch(bad), batch()]
    with pytest.raises(TrainingDiverged, match="became nan by step 3") as err:
        sgd_steps(net, batches, 4, trainer, half_square, mx.cpu(), watcher=spy)
    e = err.value
    assert (e.step, e.epoch, e.lr, e.cause, e.batch) == (3, None, LR, None, None)
    assert e.history == [("after", 1), ("after", 2)], "the watcher's record so far"
    assert ("after", 3) not in spy.calls, "nothing is recorded after the bad step"
    assert "Lower the learning rate (try 0.03) or add batch normalization" in str(e)


def test_divergence_is_checked_only_at_the_checked_steps():
    bad = X.copy()
    bad[0, 0] = onp.nan
    net, trainer = linear()
    batches = [batch(), batch(bad), batch(), batch(), batch()]
    with pytest.raises(TrainingDiverged) as err:
        sgd_steps(net, batches, 5, trainer, half_square, mx.cpu(), check_at={1, 4})
    assert err.value.step == 4 and err.value.history is None
    net, trainer = linear()
    assert sgd_steps(net, batches, 5, trainer, half_square, mx.cpu(), check_at={1}) == 5


def test_steplog_keeps_values_by_step():
    log = StepLog()
    for step in (1, 2, 3):
        log.add("every", step, [step, 10 * step])
    log.add("some", 0, [0.5])
    log.add("some", 4, [1.5])
    assert "every" in log and "other" not in log
    assert log.steps("some").tolist() == [0, 4] and log.steps("other").size == 0
    assert log.values("every", at=[3, 1]) == [[3, 30], [1, 10]]
    assert_allclose(log.array("some"), [[0.5], [1.5]])
    every = log.frame("every", ["a", "b"])
    expected = pd.DataFrame({"a": [1, 2, 3], "b": [10, 20, 30]},
                            index=pd.RangeIndex(1, 4, name="step"))  # fmt: skip
    pd.testing.assert_frame_equal(every, expected, check_index_type=True)
    some = log.frame("some", ["x"])
    assert not isinstance(some.index, pd.RangeIndex)
    assert some.index.name == "step" and some.index.tolist() == [0, 4]
    assert some["x"].tolist() == [0.5, 1.5]


def test_a_finite_run_raises_nothing():
    net, trainer = linear([0.1, -0.1])
    taken = sgd_steps(net, endless([batch()]), 20, trainer, half_square, mx.cpu())
    w = net.weight.data().asnumpy().ravel()
    assert taken == 20 and all(math.isfinite(v) for v in w)
