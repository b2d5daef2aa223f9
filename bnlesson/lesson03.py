"""Lesson 03: the lecture's LeNet, without batch norm or with a batch-norm layer.

Every variant has the same layers in the same order; only the normalization
inserted between each convolutional or dense layer and its sigmoid differs,
so training curves of the variants compare batch norm and nothing else.
"""

from __future__ import annotations

from typing import Callable

from mxnet.gluon import nn

from . import lesson08
from .lesson02 import BatchNorm

#: norm name -> ``make(num_features, num_dims)`` building one normalization
#: layer, or None for no normalization. A new variant (e.g. a faster scratch
#: layer) is one more entry here, plus its class in :data:`BATCHNORM_TYPES`.
NORM_LAYERS: dict[str, Callable[[int, int], nn.Block] | None] = {
    "none": None,
    "scratch": lambda num_features, num_dims: BatchNorm(num_features, num_dims),
    # Gluon infers the number of channels from the first input.
    "gluon": lambda num_features, num_dims: nn.BatchNorm(),
    # The same layer with a hand-written backward (lesson 08).
    "fast": lambda num_features, num_dims: lesson08.FastBatchNorm(
        num_features, num_dims
    ),
}
NORMS = tuple(NORM_LAYERS)
#: The classes that :func:`batchnorm_layers` recognizes as batch norm.
BATCHNORM_TYPES: tuple = (BatchNorm, nn.BatchNorm)  # FastBatchNorm subclasses


def norm_maker(norm: str) -> Callable[[int, int], nn.Block] | None:
    """The :data:`NORM_LAYERS` entry for `norm`, or a ValueError naming the choices."""
    try:
        return NORM_LAYERS[norm]
    except (KeyError, TypeError):
        choices = ", ".join(repr(name) for name in NORM_LAYERS)
        raise ValueError(f"norm must be one of {choices}, not {norm!r}") from None


def sequential(blocks: list) -> nn.Sequential:
    """`blocks` in a ``HybridSequential`` if all are hybrid, else a ``Sequential``.

    A ``HybridSequential`` refuses non-hybrid children (the scratch layer is
    a plain ``Block``), so the container follows the layers rather than the
    variant's name.
    """
    hybrid = all(isinstance(block, nn.HybridBlock) for block in blocks)
    net = nn.HybridSequential() if hybrid else nn.Sequential()
    net.add(*blocks)
    return net


def _stage(layer: nn.Block, num_features: int, num_dims: int, make_norm) -> list:
    """`layer`, its normalization (if any), then the sigmoid."""
    norm = [] if make_norm is None else [make_norm(num_features, num_dims)]
    return [layer, *norm, nn.Activation("sigmoid")]


def _lenet_blocks(stage: Callable[[nn.Block, int, int], list], use_bias=True) -> list:
    """LeNet's layers, the one place that spells out the architecture.

    ``stage(layer, num_features, num_dims)`` returns a convolutional or dense
    layer followed by whatever the variant puts after it (normalization,
    activation, dropout); 4 dims after a convolution, 2 after a dense layer.
    """
    return [
        *stage(nn.Conv2D(6, kernel_size=5, use_bias=use_bias), 6, 4),
        nn.MaxPool2D(pool_size=2, strides=2),
        *stage(nn.Conv2D(16, kernel_size=5, use_bias=use_bias), 16, 4),
        nn.MaxPool2D(pool_size=2, strides=2),
        *stage(nn.Dense(120, use_bias=use_bias), 120, 2),
        *stage(nn.Dense(84, use_bias=use_bias), 84, 2),
        nn.Dense(10),
    ]


def lenet(norm: str = "none") -> nn.Block:
    r"""Return the lecture's LeNet for 28x28 grey images and 10 classes.

    The layers, with ``[BN]`` present unless ``norm="none"``::

        Conv2D(6, 5)   [BN]  sigmoid  MaxPool2D(2, 2)   (N, 6, 12, 12)
        Conv2D(16, 5)  [BN]  sigmoid  MaxPool2D(2, 2)   (N, 16, 4, 4)
        Dense(120)     [BN]  sigmoid                    (N, 120)
        Dense(84)      [BN]  sigmoid                    (N, 84)
        Dense(10)                                       (N, 10)

    Each BN layer normalizes the pre-activation :math:`x` of its layer per
    channel (after a convolution) or per unit (after a dense layer),
    :math:`y = \gamma (x - \mu_B) / \sqrt{\sigma_B^2 + \epsilon} + \beta`,
    before the sigmoid squashes it.

    Parameters
    ----------
    norm : {"none", "scratch", "fast", "gluon"}
        ``"none"``: no normalization. ``"scratch"``: the lesson's
        :class:`bnlesson.BatchNorm`, sized explicitly (6 and 16
        channels, 120 and 84 units). ``"fast"``: the same layer with a
        hand-written backward, :class:`bnlesson.lesson08.FastBatchNorm`.
        ``"gluon"``: ``nn.BatchNorm()``, sizes inferred at the first forward
        pass.

    Returns
    -------
    net : mxnet.gluon.nn.HybridSequential or mxnet.gluon.nn.Sequential
        A ``HybridSequential`` (it can be hybridized) when every layer is a
        ``HybridBlock``, i.e. for ``"none"`` and ``"gluon"``; a
        ``Sequential`` for ``"scratch"``, whose layer is a plain ``Block``.
        Not initialized: :func:`bnlesson.train.train` initializes it.

    Raises
    ------
    ValueError
        If `norm` is not one of :data:`NORMS`.
    """
    make_norm = norm_maker(norm)
    return sequential(
        _lenet_blocks(lambda layer, n, dims: _stage(layer, n, dims, make_norm))
    )


def batchnorm_layers(net: nn.Block) -> list:
    """Return the batch-norm layers of `net` in forward order (empty if none).

    Scratch (:class:`bnlesson.BatchNorm`) and Gluon (``nn.BatchNorm``)
    layers are both found, at any depth of nesting; read their learned scale
    and shift with ``layer.gamma.data()`` and ``layer.beta.data()``.
    """
    if isinstance(net, BATCHNORM_TYPES):
        return [net]
    # Gluon 1.x has no public accessor for the children of an arbitrary
    # Block; `_children` is the ordered dict that `Sequential` itself uses.
    return [bn for child in net._children.values() for bn in batchnorm_layers(child)]
