"""A tiny stand-in for the Figure 1 network and its data, for fast tests.

Lesson 07 (Figure 1) and lesson 09 train the same kind of MLP; their tests
shrink it to these sizes and to 120 generated examples whose class is the
index of the largest of the first three features, which the MLP can learn.
"""

import numpy as onp

HIDDEN, CLASSES, FEATURES = (6, 5, 4), 3, 8


def data():
    """90 training and 30 held-out examples of 8 features, 3 learnable classes."""
    rng = onp.random.default_rng(0)
    X = rng.normal(size=(120, FEATURES)).astype(onp.float32)
    y = (X[:, :3].argmax(axis=1)).astype(onp.int32)
    return X[:90], y[:90], X[90:], y[90:]
