"""Lesson 03's train, on slices of Fashion-MNIST: its record, its printed lines,
its devices, its divergence reports, an interrupted run, the data it refuses.

What train is built on is tested in tests/training/: evaluate_accuracy and
check_data in test_metrics.py, History in test_history.py, the live plot in
test_live.py."""

import math
import re
import warnings

import mxnet as mx
import numpy as onp
import pytest
from mxnet import npx
from mxnet.gluon import nn
from trainsets import BATCH, N_TEST, N_TRAIN, as_loader, as_mx_batches

from bnlesson import data
from bnlesson.core.config import default_device, set_seed
from bnlesson.lesson03 import batchnorm_layers, lenet, train
from bnlesson.lesson08 import FastBatchNorm
from bnlesson.training.divergence import TrainingDiverged
from bnlesson.training.history import UnfinishedTraining, progress_of
from bnlesson.training.metrics import evaluate_accuracy

from nbutil import shown

LINE = re.compile(
    r"epoch (\d+), loss (\d+\.\d{4}), train acc ([01]\.\d{3}), "
    r"test acc ([01]\.\d{3}), time (\d+\.\d) sec"
)


@pytest.fixture(scope="module")
def gluon_run(arrays):
    """One 2-epoch run of the Gluon-BN LeNet, with its printed output."""
    import contextlib
    import io

    X, y, Xt, yt = arrays
    set_seed(0)
    net = lenet("gluon")
    test_iter = data.Batches(Xt, yt, BATCH)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = train(
            net, data.Batches(X, y, BATCH, shuffle=True), test_iter, 2, 1.0,
            name="gluon", plot=False,
        )  # fmt: skip
    return net, test_iter, history, out.getvalue()


# --- a run's History and printed lines -------------------------------------


def test_history_after_two_epochs(gluon_run):
    _, _, h, _ = gluon_run
    for values in (h.loss, h.train_acc, h.test_acc, h.seconds):
        assert len(values) == 2 and all(type(v) is float for v in values)
    assert all(0 <= a <= 1 for a in h.train_acc + h.test_acc)
    assert all(v > 0 for v in h.loss + h.seconds)
    # Accuracies are counts over the examples, not means of batch means.
    counts = [a * N_TRAIN for a in h.train_acc] + [a * N_TEST for a in h.test_acc]
    assert counts == pytest.approx([round(c) for c in counts], abs=1e-6)
    assert h.examples_per_sec == pytest.approx(2 * N_TRAIN / sum(h.seconds))
    # trained on the lessons' device: cpu(0) here, cpu(1) in CI's DEVICE run
    assert (h.device, h.lr, h.name) == (str(default_device()), 1.0, "gluon")


def test_gluon_bn_learns_something_in_two_epochs(gluon_run):
    _, _, h, _ = gluon_run
    # Chance is 0.1 and a loss of log(10); the test accuracy may still lag
    # after 8 steps, while the moving statistics catch up.
    assert max(h.train_acc) > 0.25
    assert min(h.loss) < math.log(10)


def test_reported_test_acc_is_prediction_mode_accuracy(gluon_run):
    net, test_iter, h, _ = gluon_run
    assert evaluate_accuracy(net, test_iter) == h.test_acc[-1]


def test_one_line_per_epoch_in_the_lecture_format(gluon_run):
    _, _, h, out = gluon_run
    lines = out.splitlines()
    assert len(lines) == 2
    for epoch, line in enumerate(lines):
        match = LINE.fullmatch(line)
        assert match, line
        assert int(match[1]) == epoch + 1
        assert float(match[2]) == round(h.loss[epoch], 4)
        assert float(match[3]) == round(h.train_acc[epoch], 3)
        assert float(match[4]) == round(h.test_acc[epoch], 3)
        assert float(match[5]) == round(h.seconds[epoch], 1)


def test_quiet_run_prints_nothing(iters, capsys):
    train(lenet("none"), *iters, 1, 0.9, verbose=False, plot=False)
    assert capsys.readouterr().out == ""


# --- devices and synchronisation -------------------------------------------


def test_trains_on_another_device(arrays):
    # cpu(1) is a different context from cpu(0), where the batches are made:
    # anything not moved with as_in_ctx fails.
    X, y, Xt, yt = arrays
    net = lenet("scratch")
    h = train(
        net, data.Batches(X[:256], y[:256], BATCH), data.Batches(Xt, yt, BATCH),
        1, 1.0, device=mx.cpu(1), verbose=False, plot=False,
    )  # fmt: skip
    assert h.device == "cpu(1)"
    assert all(p.list_ctx() == [mx.cpu(1)] for p in net.collect_params().values())
    assert all(bn.moving_mean.ctx == mx.cpu(1) for bn in batchnorm_layers(net))


def test_no_synchronisation_inside_an_epoch(iters, monkeypatch):
    syncs = []
    real = mx.nd.NDArray.asnumpy

    def counting(self):
        syncs.append(self.shape)
        return real(self)

    monkeypatch.setattr(mx.nd.NDArray, "asnumpy", counting)
    train_iter, test_iter = iters
    train_iter.batch_size = 32  # 16 batches per epoch
    train(lenet("none"), train_iter, test_iter, 2, 0.9, verbose=False, plot=False)
    # Per epoch: one read of the training totals, one of the test count.
    assert len(syncs) == 2 * 2


# --- divergence -------------------------------------------------------------


def test_huge_learning_rate_stops_with_advice(iters):
    with pytest.raises(TrainingDiverged) as err:
        train(lenet("none"), *iters, 3, 1e36, verbose=False, plot=False)
    message = str(err.value)
    assert message.startswith(
        "the training loss became nan in epoch 1 at learning rate 1e+36:"
    )
    # The first step's loss is that of random weights; its update blows them up.
    assert "the parameters went non-finite first, in the update after batch 1 " in (
        message
    )
    assert "Lower the learning rate (try 1e+35)" in message
    assert "or add batch normalization" in message
    assert isinstance(err.value, FloatingPointError)
    assert (err.value.epoch, err.value.lr, err.value.history.loss) == (1, 1e36, [])
    assert (err.value.cause, err.value.batch) == ("parameters", 1)


def test_a_net_with_batch_norm_is_not_told_to_add_it(iters):
    with pytest.raises(TrainingDiverged) as err:
        train(lenet("gluon"), *iters, 1, 1e36, verbose=False, plot=False)
    message = str(err.value)
    assert err.value.cause == "parameters"
    assert "add batch normalization" not in message
    assert "already has batch normalization" in message


class Overflow(nn.HybridBlock):
    """Scores that overflow float32 for one marked batch, finite weights."""

    def hybrid_forward(self, F, X):
        return X.reshape(X.shape[0], -1)[:, :10] * 1e30 * 1e30


def test_a_loss_that_overflows_first_is_named(iters):
    net = nn.HybridSequential()
    net.add(Overflow(), nn.Dense(10))
    with pytest.raises(TrainingDiverged) as err:
        train(net, *iters, 1, 0.1, verbose=False, plot=False)
    assert (err.value.cause, err.value.batch) == ("loss", 1)
    assert (
        "the loss went non-finite first, in batch 1, while the inputs and "
        "the parameters were finite" in str(err.value)
    )


class NanInSecondEpoch:
    """Clean batches in epoch 1, then a batch with a NaN pixel."""

    def __init__(self, batches):
        self.batches, self.epoch = batches, 0

    def __iter__(self):
        self.epoch += 1
        for i, (X, y) in enumerate(self.batches):
            if self.epoch == 2 and i == 1:
                X = X.copy()
                X[0, 0, 0, 0] = onp.nan
            yield X, y


@pytest.mark.parametrize("norm", ["none", "gluon"])
def test_nan_input_stops_after_the_epoch_that_saw_it(iters, capsys, norm):
    # Not LeNet: MXNet's max pooling turns NaN into -3.4e38 and hides it.
    net = nn.HybridSequential()
    if norm == "gluon":
        net.add(nn.BatchNorm())
    net.add(nn.Dense(10))
    train_iter, test_iter = iters
    with pytest.raises(
        TrainingDiverged, match="nan in epoch 2 at learning rate 0.1"
    ) as err:
        train(net, NanInSecondEpoch(train_iter), test_iter, 3, 0.1, plot=False)
    assert len(capsys.readouterr().out.splitlines()) == 1, "epoch 1 was reported"
    message = str(err.value)
    assert (
        "the inputs went non-finite first: batch 2 of epoch 2 holds NaN or "
        "infinite values" in message
    )
    assert "learning rate (try" not in message and "add batch norm" not in message
    assert (err.value.cause, err.value.batch, err.value.epoch) == ("inputs", 2, 2)


# --- a run stopped before its end ----------------------------------------------


class InterruptedAt:
    """Batches that raise KeyboardInterrupt, as Ctrl-C does, instead of giving
    batch `batch` (from 1) of epoch `epoch`."""

    def __init__(self, batches, epoch, batch):
        self.batches, self.at, self.epoch = batches, (epoch, batch), 0

    def __iter__(self):
        self.epoch += 1
        for i, b in enumerate(self.batches, start=1):
            if (self.epoch, i) == self.at:
                raise KeyboardInterrupt
            yield b


@pytest.fixture(params=["package", "notebook"])
def train_fn(request):
    """lesson03.train and the notebook's own, shown copy of it."""
    if request.param == "package":
        return train
    return shown("03")["train"]


@pytest.mark.parametrize("norm", ["scratch", "gluon"])
@pytest.mark.parametrize(
    "epoch, batch, where",
    [(1, 3, "it stopped after 2 batches of epoch 1 ("),
     (2, 2, "it stopped after 1 batch of epoch 2 of 2 (")],
    ids=["epoch 1", "epoch 2"],
)  # fmt: skip
def test_an_interrupted_run_leaves_a_net_that_says_so(
    iters, train_fn, norm, epoch, batch, where
):
    train_iter, test_iter = iters
    net = lenet(norm)
    with pytest.raises(KeyboardInterrupt):
        train_fn(net, InterruptedAt(train_iter, epoch, batch), test_iter, 2, 1.0,
                 verbose=False, plot=False)  # fmt: skip
    # What lesson 03's next cell does: read the first batch-norm layer.
    with pytest.warns(UnfinishedTraining) as caught:
        batchnorm_layers(net)[0]
    message = str(caught[0].message)
    assert message.startswith(
        "batchnorm_layers: this net's last training run did not finish: " + where
    )
    assert "gamma and beta are those of a half-trained network" in message
    assert "Run the training cell again, to its end" in message
    done = progress_of(net).history
    if epoch == 1:
        assert done is None and "finished are in" not in message
    else:  # the finished epoch's record, labelled by where the run stopped
        assert (len(done.loss), len(done.test_acc)) == (1, 1)
        assert message.endswith(
            "the 1 epoch(s) it finished are in "
            "bnlesson.training.history.progress_of(net).history."
        )


def test_a_run_interrupted_between_epochs_says_after_which(iters):
    train_iter, test_iter = iters
    net = lenet("scratch")
    with pytest.raises(KeyboardInterrupt):  # while measuring epoch 1's test acc
        train(net, train_iter, InterruptedAt(test_iter, 1, 1), 2, 1.0,
              verbose=False, plot=False)  # fmt: skip
    with pytest.warns(UnfinishedTraining, match=r"it stopped after epoch 1 of 2 \("):
        batchnorm_layers(net)


def test_the_net_warns_each_time_it_is_read(iters):
    train_iter, test_iter = iters
    net = lenet("scratch")
    with pytest.raises(KeyboardInterrupt):
        train(net, InterruptedAt(train_iter, 1, 2), test_iter, 1, 1.0,
              verbose=False, plot=False)  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        for _ in range(2):  # one line, as a cell run twice
            batchnorm_layers(net)
    assert [w.category for w in caught] == [UnfinishedTraining] * 2


def test_a_finished_run_is_read_silently_even_after_an_interrupted_one(iters):
    train_iter, test_iter = iters
    net = lenet("scratch")
    with pytest.raises(KeyboardInterrupt):
        train(net, InterruptedAt(train_iter, 1, 2), test_iter, 1, 1.0,
              verbose=False, plot=False)  # fmt: skip
    # The training cell run again, to its end, on the same net.
    train(net, train_iter, test_iter, 1, 1.0, verbose=False, plot=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(batchnorm_layers(net)) == 4
    assert progress_of(net).finished


# --- a second run, and training sets train() cannot use ----------------------


@pytest.mark.parametrize("norm", ["scratch", FastBatchNorm, "gluon"])
def test_training_the_same_net_again_repeats_the_first_run(arrays, norm):
    # A student interrupts training and runs the cell again: same seed, same
    # net object, so the same history as the first run (a fresh net's).
    X, y, Xt, yt = arrays
    net, runs = lenet(norm), []
    for _ in range(2):
        set_seed(0)
        h = train(
            net, data.Batches(X, y, 32, shuffle=True), data.Batches(Xt, yt, BATCH),
            1, 1.0, verbose=False, plot=False,
        )  # fmt: skip
        first = batchnorm_layers(net)[0]
        stats = first.moving_var if norm != "gluon" else first.running_var.data()
        runs.append((h.loss, h.train_acc, h.test_acc, stats.asnumpy().ravel().tolist()))
    assert runs[1] == runs[0]


def generator_of(batches):
    yield from batches


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda it: generator_of(it), r"train_iter is a one-shot iterator"),
        (lambda it: iter(list(it)), r"train_iter is a one-shot iterator"),
        (lambda it: [], r"train_iter is empty"),
        (lambda it: data.Batches(it.X[:0], it.y[:0], 8), r"train_iter is empty"),
    ],
    ids=["generator", "iterator", "empty list", "empty Batches"],
)
def test_unusable_training_sets_are_refused_up_front(iters, capsys, make, match):
    train_iter, test_iter = iters
    with pytest.raises(ValueError, match=match):
        train(lenet("none"), make(train_iter), test_iter, 2, 0.9, plot=False)
    assert capsys.readouterr().out == "", "refused before any epoch"


def test_a_one_shot_test_set_is_refused_too(iters):
    train_iter, test_iter = iters
    with pytest.raises(ValueError, match=r"test_iter is a one-shot iterator"):
        train(lenet("none"), train_iter, generator_of(test_iter), 2, 0.9, plot=False)


class EmptyAfterOneEpoch:
    """Re-iterable, but yields nothing from the second epoch on."""

    def __init__(self, batches):
        self.batches, self.epoch = batches, 0

    def __iter__(self):
        self.epoch += 1
        return iter(self.batches if self.epoch == 1 else [])


def test_an_epoch_without_batches_is_explained(iters):
    train_iter, test_iter = iters
    with pytest.raises(ValueError, match=r"train_iter yielded no batches in epoch 2"):
        train(lenet("none"), EmptyAfterOneEpoch(train_iter), test_iter, 2, 0.9,
              verbose=False, plot=False)  # fmt: skip


def test_forgetting_set_np_is_explained(iters):
    npx.reset_np()
    try:
        with pytest.raises(RuntimeError, match=r"npx\.set_np\(\)"):
            train(lenet("none"), *iters, 1, 0.9, verbose=False, plot=False)
    finally:
        npx.set_np()


@pytest.mark.parametrize(
    "epochs, lr, match",
    [(0, 0.9, "num_epochs"), (1, 0.0, "lr must be"), (1, 1e40, "lr must be")],
)
def test_bad_arguments(iters, epochs, lr, match):
    with pytest.raises(ValueError, match=match):
        train(lenet("none"), *iters, epochs, lr, verbose=False, plot=False)


@pytest.mark.parametrize(
    "lr, message",
    [
        ("0.1", "lr must be a number, not the string '0.1': write the number "
                "without quotes, e.g. lr=0.1"),
        (None, "lr must be a number, not None: give a value, e.g. lr=0.1"),
        (True, "lr must be a number, not True (a bool, which Python would take "
               "as 1): give a number, e.g. lr=0.1"),
    ],
)  # fmt: skip
def test_a_learning_rate_that_is_not_a_number_is_refused_up_front(
    iters, capsys, lr, message
):
    with pytest.raises(ValueError, match=re.escape(message)):
        train(lenet("none"), *iters, 1, lr, plot=False)
    assert capsys.readouterr().out == "", "refused before any epoch"


# --- data that training cannot use, refused before the first epoch ----------


def as_batches(X, y, size=BATCH):
    return data.Batches(X, y, size)


SET_FORMS = {"Batches": as_batches, "list": as_mx_batches, "DataLoader": as_loader}


@pytest.mark.parametrize("form", SET_FORMS)
@pytest.mark.parametrize(
    "bad, message",
    [
        (10, "train_iter's labels must be class numbers from 0 to 9 (there are "
             "10 classes), but they include 10: labels counted from 1 must be "
             "shifted down (y - 1), and examples without a class (e.g. -1) "
             "removed."),
        (-1, "train_iter's labels must be class numbers from 0 to 9 (there are "
             "10 classes), but they include -1"),
        (2.5, "train_iter's labels must be class numbers, whole numbers from 0 "
              "to 9, but they include 2.5: a label is the index of the right "
              "class, not a score or a probability."),
    ],
)  # fmt: skip
def test_labels_that_are_not_classes_are_refused_up_front(
    arrays, capsys, form, bad, message
):
    # Trained, they give a finite loss and an accuracy of 0, with no error.
    X, y, Xt, yt = arrays
    y = y.astype(onp.float32 if bad == 2.5 else onp.int32)
    y[5] = bad  # in the first batch: a DataLoader is checked on that one
    make = SET_FORMS[form]
    with pytest.raises(ValueError, match=re.escape(message)):
        train(lenet("none"), make(X, y), make(Xt, yt), 1, 0.9, plot=False)
    assert capsys.readouterr().out == "", "refused before any epoch"


def test_a_test_set_of_another_image_size_is_refused_before_training(arrays, capsys):
    X, y, Xt, yt = arrays
    padded = onp.pad(Xt, ((0, 0), (0, 0), (2, 2), (2, 2)))  # 32x32
    message = (
        "test_iter's examples have shape (1, 32, 32) but train_iter's have shape "
        "(1, 28, 28): a network trained on one shape cannot classify the other"
    )
    for make in SET_FORMS.values():
        with pytest.raises(ValueError, match=re.escape(message)):
            train(lenet("none"), make(X, y), make(padded, yt), 1, 0.9, plot=False)
    assert capsys.readouterr().out == "", "refused before any epoch"


def test_numpy_batches_are_refused_with_the_conversion(arrays):
    X, y, Xt, yt = arrays
    message = (
        "train_iter gives its inputs X as numpy.ndarray, but training needs MXNet "
        "arrays (it moves them with .as_in_ctx): convert each batch with "
        "mxnet.np.array(X) and mxnet.np.array(y)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        train(lenet("none"), [(X, y)], data.Batches(Xt, yt, BATCH), 1, 0.9,
              plot=False)  # fmt: skip


def test_a_label_vector_of_another_length_is_refused(arrays):
    X, y, Xt, yt = arrays
    batches = [(mx.np.array(X[:128]), mx.np.array(y[:120]))]
    message = (
        "train_iter's batch 1 has 128 examples (X of shape (128, 1, 28, 28)) but "
        "labels y of shape (120,): give one label per example, a vector of "
        "shape (128,)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        train(lenet("none"), batches, data.Batches(Xt, yt, BATCH), 1, 0.9,
              plot=False)  # fmt: skip


@pytest.mark.parametrize(
    "layout, hint",
    [
        (lambda X: X.transpose(0, 2, 3, 1),
         "(128, 28, 28, 1): it looks channels-last (NHWC), but MXNet puts the "
         "channels on axis 1: transpose it with X.transpose(0, 3, 1, 2)."),
        (lambda X: X[:, 0],
         "(128, 28, 28): it has no channel axis: add it with "
         "X.reshape(-1, 1, 28, 28)"),
    ],
    ids=["channels-last", "3-D"],
)  # fmt: skip
def test_images_in_another_layout_are_explained_to_the_scratch_lenet(
    arrays, capsys, layout, hint
):
    X, y, Xt, yt = arrays
    message = (
        "LeNet takes images of shape (batch, 1, 28, 28), but got an input of "
        f"shape {hint}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        train(lenet("scratch"), as_mx_batches(layout(X), y),
              as_mx_batches(layout(Xt), yt), 1, 0.9, plot=False)  # fmt: skip
    assert capsys.readouterr().out == ""
