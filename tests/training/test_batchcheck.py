"""The checks of a training loop's batches (``bnlesson.training.batchcheck``):
real Fashion-MNIST batches pass; each kind of batch that would fail inside
training, or train on wrong labels without an error, is refused by name."""

import random

import numpy as onp
import pytest
from mxnet import gluon, np
from mxnet.gluon import nn

from bnlesson import data
from bnlesson.training.batchcheck import check_batch_pairs, check_labels, num_classes


@pytest.fixture(scope="module")
def real():
    """32 real test images and their labels (every class among them)."""
    X, y = data.load_arrays("test")
    return X[:32], y[:32]


def pairs(X, y, size=16):
    """The images as a list of (X, y) batches of MXNet arrays."""
    return [
        (np.array(X[i : i + size]), np.array(y[i : i + size]))
        for i in range(0, len(y), size)
    ]


def test_real_batches_pass_in_each_form(real):
    X, y = real
    assert set(y.tolist()) == set(range(10))
    check_batch_pairs(data.Batches(X, y, 16), pairs(X, y))
    check_batch_pairs(tuple(pairs(X, y)), gluon.data.DataLoader(
        gluon.data.ArrayDataset(np.array(X), np.array(y)), batch_size=16))  # fmt: skip


@pytest.mark.parametrize(
    "labels, says",
    [([1, 10, 3], "include 10: labels counted from 1 must be shifted down"),
     ([-1, 0, -1], "include -1: "), ([12, -2, 10, 11, 3], "include -2, 10, 11, ...:"),
     ([0.0, 2.5], "include 2.5: a label is the index of the right class"),
     ([1.0, onp.nan], "include nan: "), ([1.0, onp.inf], "include inf: ")],
)  # fmt: skip
def test_labels_that_are_not_class_numbers_are_refused_by_value(labels, says):
    with pytest.raises(
        ValueError, match="train_iter's labels must be class numbers"
    ) as err:
        check_labels("train_iter", onp.array(labels))
    assert says in str(err.value)


def test_whole_float_labels_and_mxnet_labels_are_class_numbers(real):
    _, y = real
    check_labels("y", y.astype(onp.float32))
    check_labels("y", np.array(y))
    check_labels("y", [0, 1, 2], num_classes=3)
    with pytest.raises(ValueError, match="from 0 to 2 \\(there are 3 classes\\)"):
        check_labels("y", [0, 3], num_classes=3)


def test_labels_that_are_no_numbers_are_refused():
    with pytest.raises(ValueError, match="integers\\), not an array of dtype <U3"):
        check_labels("y", onp.array(["cat", "dog"]))


def test_labels_of_batches_are_read_before_their_int32_cast(real):
    # Batches keeps its labels as given; int32 would turn 2.5 into 2.
    X, y = real
    bad = y.astype(onp.float32)
    bad[5] = 2.5
    with pytest.raises(ValueError, match="test_iter's labels .* include 2.5"):
        check_batch_pairs(data.Batches(X, y, 16), data.Batches(X, bad, 16))


def test_numpy_batches_are_refused_with_the_conversion(real):
    X, y = real
    with pytest.raises(ValueError) as err:
        check_batch_pairs([(X[:16], y[:16])], pairs(X, y))
    assert str(err.value).startswith(
        "train_iter gives its inputs X as numpy.ndarray, but training needs "
        "MXNet arrays (it moves them with .as_in_ctx)"
    )
    assert "bnlesson.data.Batches(X, y, batch_size)" in str(err.value)


def test_a_batch_that_is_no_pair_is_refused_by_number(real):
    X, y = real
    batches = pairs(X, y) + [np.array(X[:4])]  # X of 4 images: no pair
    with pytest.raises(
        ValueError, match="must yield \\(X, y\\) pairs, .* its batch 3 is"
    ):
        check_batch_pairs(pairs(X, y), batches)


def test_one_label_per_example_is_required(real):
    X, y = real
    batches = [(np.array(X[:16]), np.array(y[:15]))]
    with pytest.raises(ValueError) as err:
        check_batch_pairs(batches, pairs(X, y))
    assert str(err.value) == (
        "train_iter's batch 1 has 16 examples (X of shape (16, 1, 28, 28)) but "
        "labels y of shape (15,): give one label per example, a vector of shape (16,)"
    )


def test_a_test_set_of_another_image_size_is_refused_naming_the_size(real):
    X, y = real
    small = data.Batches(X[:, :, :14, :14], y, 16)
    with pytest.raises(ValueError) as err:
        check_batch_pairs(data.Batches(X, y, 16), small)
    message = str(err.value)
    assert message.startswith(
        "test_iter's examples have shape (1, 14, 14) but train_iter's have "
        "shape (1, 28, 28)"
    )
    assert message.endswith("(resize or crop its images to 28x28).")


def test_a_data_loader_is_read_once_leaving_the_random_state_as_it_was(real):
    X, y = real
    loader = gluon.data.DataLoader(
        gluon.data.ArrayDataset(np.array(X), np.array(y)), batch_size=8, shuffle=True
    )
    onp.random.seed(3)  # noqa: NPY002 - the loader shuffles with the global generator
    random.seed(3)
    expected = (onp.random.rand(), random.random())  # noqa: NPY002
    onp.random.seed(3)  # noqa: NPY002
    random.seed(3)
    check_batch_pairs(loader, loader)
    assert (onp.random.rand(), random.random()) == expected  # noqa: NPY002
    empty = gluon.data.DataLoader(gluon.data.ArrayDataset(np.zeros((0, 2))), 4)
    with pytest.raises(ValueError, match="test_iter yielded no batches: it is empty"):
        check_batch_pairs(loader, empty)


def test_other_iterables_are_not_read(real):
    X, y = real
    stream = iter(pairs(X, y))
    check_batch_pairs(stream, pairs(X, y))
    assert len(list(stream)) == 2, "the check took nothing from the stream"


def test_num_classes_is_the_last_dense_layers_units():
    net = nn.Sequential()
    inner = nn.Sequential()
    inner.add(nn.Dense(16), nn.Dense(3))
    net.add(nn.Dense(8), inner)
    assert num_classes(net) == 3
    assert num_classes(nn.Dense(5)) == 5
    ends_otherwise = nn.HybridSequential()
    ends_otherwise.add(nn.Dense(4), nn.Activation("relu"))
    assert num_classes(ends_otherwise) == 10
    assert num_classes(ends_otherwise, default=7) == 7
