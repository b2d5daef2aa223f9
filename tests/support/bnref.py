"""Seeded inputs and a Gluon reference shared by the batch-norm tests."""

import numpy as onp
from mxnet import np
from mxnet.gluon import nn

from bnlesson.lesson01 import stat_shape

SHAPES = [(16, 5), (8, 3, 6, 6)]  # a Dense output and a Conv2D output


def stats(shape, seed=0):
    """gamma, beta, moving mean and moving variance for an input of `shape`."""
    rng = onp.random.default_rng(seed)
    s = stat_shape(onp.zeros(shape))
    gamma, beta = rng.uniform(0.5, 2, s), rng.normal(0, 1, s)
    mean, var = rng.normal(0, 1, s), rng.uniform(0.5, 2, s)
    return [np.array(a, dtype="float32") for a in (gamma, beta, mean, var)]


def inputs(shape, seed=0, loc=3.0):
    """Normal values around `loc` with standard deviation 2, as float32."""
    rng = onp.random.default_rng(seed)
    return np.array(rng.normal(loc, 2, shape), dtype="float32")


def gluon_reference(shape, gamma, beta, mean, var):
    """nn.BatchNorm holding the same parameters and running statistics."""
    ref = nn.BatchNorm(momentum=0.9, epsilon=1e-5, in_channels=shape[1])
    ref.initialize()
    for p, v in ((ref.gamma, gamma), (ref.beta, beta)):
        p.set_data(v.reshape(-1))
    ref.running_mean.set_data(mean.reshape(-1))
    ref.running_var.set_data(var.reshape(-1))
    return ref
