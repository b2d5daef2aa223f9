"""Lesson 03: the lecture's LeNet with and without batch norm, and its training loop.

Every variant has the same layers in the same order; only the normalization
inserted between each convolutional or dense layer and its sigmoid differs,
so training curves of the variants compare batch norm and nothing else.
The networks are here; :func:`train`, the loop the lesson shows (the
lecture's ``d2l.train_ch5``, ``train_ch6`` in d2l 1.0), is in
:mod:`bnlesson.lesson03.training`, and :func:`first_steps`, the first
steps' gradients and saturated sigmoids, in
:mod:`bnlesson.lesson03.firststeps`; both are importable from here.
"""

from __future__ import annotations

from typing import Callable

from mxnet.gluon import nn

from bnlesson.lesson02 import CHANNELS_LAST_HINT, BatchNorm
from bnlesson.lesson03.firststeps import SATURATED, FirstSteps, first_steps
from bnlesson.lesson03.training import train
from bnlesson.training.history import warn_if_unfinished

__all__ = [
    "BATCHNORM_TYPES", "LENET_INPUT", "NORMS", "NORM_LAYERS", "SATURATED",
    "FirstSteps", "HybridLeNet", "LeNet", "NormMaker", "batchnorm_layers",
    "check_lenet_input", "first_steps", "lenet", "norm_maker", "sequential",
    "train",
]  # fmt: skip

#: ``make(num_features, num_dims)`` builds one normalization layer.
NormMaker = Callable[[int, int], nn.Block]
#: norm name -> its :data:`NormMaker`, or None for no normalization.
NORM_LAYERS: dict[str, NormMaker | None] = {
    "none": None,
    "scratch": lambda num_features, num_dims: BatchNorm(num_features, num_dims),
    # Gluon infers the number of channels from the first input.
    "gluon": lambda num_features, num_dims: nn.BatchNorm(),
}
NORMS = tuple(NORM_LAYERS)
#: The classes that :func:`batchnorm_layers` recognizes as batch norm (and
#: their subclasses, such as lesson 08's ``FastBatchNorm``).
BATCHNORM_TYPES: tuple = (BatchNorm, nn.BatchNorm)


def norm_maker(norm: str | NormMaker) -> NormMaker | None:
    """The :data:`NormMaker` for `norm`: a name of :data:`NORM_LAYERS`, or itself.

    `norm` is a name (``"none"``, ``"scratch"``, ``"gluon"``) or a layer
    class or callable ``make(num_features, num_dims)``, such as lesson 08's
    ``FastBatchNorm``. Anything else is a ValueError naming the choices.
    """
    if isinstance(norm, str) and norm in NORM_LAYERS:
        return NORM_LAYERS[norm]
    if callable(norm):
        return norm
    choices = ", ".join(repr(name) for name in NORM_LAYERS)
    raise ValueError(
        f"norm must be one of {choices} or a layer class (a callable "
        f"make(num_features, num_dims)), not {norm!r}"
    )


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


#: The input LeNet is built for: one channel of 28x28 pixels (Fashion-MNIST).
LENET_INPUT = (1, 28, 28)


def check_lenet_input(X) -> None:
    """Refuse an input :func:`lenet`'s layers cannot take, naming the fix.

    LeNet takes ``(batch, 1, 28, 28)`` images. Without this check a wrong
    shape fails inside the first convolution or pooling with MXNet's shape
    error (``kernel size exceed input``), before any batch-norm layer could
    say what is wrong.
    """
    shape = tuple(X.shape)
    if len(shape) == 4 and shape[1:] == LENET_INPUT:
        return
    raise ValueError(
        f"LeNet takes images of shape (batch, 1, 28, 28), but got an input of "
        f"shape {shape}: {_lenet_hint(shape)}."
    )


def _lenet_hint(shape: tuple) -> str:
    if len(shape) == 3 and shape[1:] == (28, 28):
        return (
            "it has no channel axis: add it with X.reshape(-1, 1, 28, 28) "
            "(MXNet puts the channels on axis 1)"
        )
    if len(shape) == 4 and shape[1:] == (28, 28, 1):
        return CHANNELS_LAST_HINT
    if len(shape) == 4 and shape[1] == 1:
        return (
            f"its images are {shape[2]}x{shape[3]}, but the two 5x5 "
            f"convolutions, the two 2x2 poolings and the Dense layers are sized "
            f"for 28x28 (Fashion-MNIST's images): resize them to 28x28"
        )
    return (
        "give one-channel 28x28 images, channels first (NCHW), as "
        "bnlesson.data.load_data_fashion_mnist serves them"
    )


class _ChecksLeNetInput:
    """Checks the input with :func:`check_lenet_input` before the layers run."""

    def __call__(self, *args):
        check_lenet_input(args[0])
        return super().__call__(*args)

    def __getitem__(self, key):
        # A slice, such as net[4:], takes what an inner layer gives: it is a
        # plain container, which checks nothing.
        layers = list(self._children.values())[key]
        if not isinstance(layers, list):
            return layers
        plain = (
            nn.HybridSequential
            if isinstance(self, nn.HybridSequential)
            else nn.Sequential
        )
        net = plain(prefix=self.prefix)
        with net.name_scope():
            net.add(*layers)
        return net


class HybridLeNet(_ChecksLeNetInput, nn.HybridSequential):
    """:func:`lenet` when every layer is hybridizable; it checks its input."""


class LeNet(_ChecksLeNetInput, nn.Sequential):
    """:func:`lenet` with a plain ``Block`` layer (``"scratch"``); checks its input."""


def lenet(norm: str | NormMaker = "none") -> nn.Block:
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
    norm : {"none", "scratch", "gluon"} or callable
        ``"none"``: no normalization. ``"scratch"``: lesson 02's
        :class:`bnlesson.lesson02.BatchNorm`, sized explicitly (6 and 16
        channels, 120 and 84 units). ``"gluon"``: ``nn.BatchNorm()``, sizes
        inferred at the first forward pass. A layer class or callable
        ``make(num_features, num_dims)`` builds each normalization layer
        itself, e.g. ``lenet(FastBatchNorm)`` (lesson 08).

    Returns
    -------
    net : HybridLeNet or LeNet
        A :class:`HybridLeNet` (an ``nn.HybridSequential``) when every layer
        is a ``HybridBlock`` (``"none"``, ``"gluon"``), else a :class:`LeNet`
        (an ``nn.Sequential``, ``"scratch"``). Calling it with anything but
        ``(batch, 1, 28, 28)`` images raises a ValueError naming the fix
        (:func:`check_lenet_input`). Not initialized: :func:`train`
        initializes it.

    Raises
    ------
    ValueError
        If `norm` is neither one of :data:`NORMS` nor callable.
    """
    make_norm = norm_maker(norm)
    blocks = _lenet_blocks(lambda layer, n, dims: _stage(layer, n, dims, make_norm))
    hybrid = all(isinstance(block, nn.HybridBlock) for block in blocks)
    net = HybridLeNet() if hybrid else LeNet()
    net.add(*blocks)
    return net


def batchnorm_layers(net: nn.Block) -> list:
    """Return the batch-norm layers of `net` in forward order (empty if none).

    Scratch (:class:`bnlesson.lesson02.BatchNorm`, and subclasses) and
    Gluon (``nn.BatchNorm``) layers are both found, at any depth of nesting;
    read their learned scale and shift with ``layer.gamma.data()`` and
    ``layer.beta.data()``.

    Warns
    -----
    bnlesson.training.history.UnfinishedTraining
        If `net`'s last :func:`train` run stopped before its end (interrupted,
        or an error): the layers are returned, but their values are those of
        a half-trained network; the message says where the run stopped.
    """
    warn_if_unfinished(net, "batchnorm_layers")
    return _batchnorm_layers(net)


def _batchnorm_layers(net: nn.Block) -> list:
    """:func:`batchnorm_layers`' search, which warns once, at the top, not per level."""
    if isinstance(net, BATCHNORM_TYPES):
        return [net]
    # Gluon 1.x has no public accessor for the children of an arbitrary
    # Block; `_children` is the ordered dict that `Sequential` itself uses.
    return [bn for child in net._children.values() for bn in _batchnorm_layers(child)]
