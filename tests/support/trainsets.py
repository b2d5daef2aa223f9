"""Slices of real Fashion-MNIST for training tests, and a data set in the forms
``train`` accepts.

Lesson 03's ``train`` (tests/lessons/test_lesson03_train.py) and the training
layer it is built on (tests/training/) are tested on the same slices: 512
images to train on and 256 to test on, two disjoint slices of the (small) test
split, in batches of 128.
"""

import mxnet as mx
from mxnet import gluon, npx

from bnlesson import data
from bnlesson.core.config import set_seed

N_TRAIN, N_TEST, BATCH = 512, 256, 128


def disjoint_slices():
    """Two disjoint slices of the (small) test split: 512 to train, 256 to test."""
    npx.set_np()  # module fixtures run before conftest's per-test set_np
    X, y = data.load_arrays("test")
    return (
        X[:N_TRAIN],
        y[:N_TRAIN],
        X[N_TRAIN : N_TRAIN + N_TEST],
        y[N_TRAIN : N_TRAIN + N_TEST],
    )


def seeded_batches(arrays):
    """The slices as (training, test) Batches of 128, shuffled from seed 0."""
    X, y, Xt, yt = arrays
    set_seed(0)
    return data.Batches(X, y, BATCH, shuffle=True), data.Batches(Xt, yt, BATCH)


def as_mx_batches(X, y, size=BATCH):
    """The examples as a list of (X, y) batches of MXNet arrays."""
    return [(mx.np.array(X[i : i + size]), mx.np.array(y[i : i + size]))
            for i in range(0, len(X), size)]  # fmt: skip


def as_loader(X, y, size=BATCH, shuffle=False):
    """The examples as a Gluon DataLoader."""
    dataset = gluon.data.ArrayDataset(X, y)
    return gluon.data.DataLoader(dataset, batch_size=size, shuffle=shuffle)


def flat_test_batches(count: int = 3, size: int = 8) -> list:
    """`count` batches of `size` real test images, flattened, with their labels.

    NumPy arrays, for the training layer's small step-by-step tests.
    """
    n = count * size
    X, y = data.load_arrays("test")
    X = X[:n].reshape(n, -1)
    return [(X[i : i + size], y[i : i + size]) for i in range(0, n, size)]
