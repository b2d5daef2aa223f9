r"""The paper's fully connected sigmoid network, and the inputs of its sigmoids.

Ioffe and Szegedy (2015, section 4.1) train three hidden layers of 100
sigmoid units on MNIST; :func:`mlp` builds that network with or without
batch norm, and :func:`sigmoid_input` reads what a hidden layer's sigmoids
receive. Lesson 07 (:mod:`bnlesson.lesson07`) and lesson 09 use them.
"""

from __future__ import annotations

from typing import Sequence

from mxnet import autograd, init
from mxnet.gluon import nn

from bnlesson.lesson03 import norm_maker, sequential
from bnlesson.training.metrics import parameter_device

#: The paper's hidden layers: three of 100 sigmoid units.
HIDDEN = (100, 100, 100)
#: The paper's initial weights, "small random Gaussian values" (its section
#: 4.1, which gives no size): a standard deviation of 0.01, our choice.
PAPER_INIT = init.Normal(0.01)


def mlp(
    norm: str = "none",
    hidden: Sequence[int] = HIDDEN,
    num_outputs: int = 10,
    weight_init: init.Initializer | None = None,
) -> nn.Block:
    r"""Return the paper's fully connected sigmoid network, with or without BN.

    Each hidden layer computes :math:`\sigma(Wx + b)`; with batch norm it
    computes :math:`\sigma(\mathrm{BN}(Wx))` instead: the bias :math:`b` is
    dropped because BN subtracts the batch mean, which removes any constant,
    and its shift :math:`\beta` takes the bias's role. For the paper's
    network (``hidden=(100, 100, 100)``, 10 classes)::

        Dense(100) [BN] sigmoid  Dense(100) [BN] sigmoid
        Dense(100) [BN] sigmoid  Dense(10)

    The first Dense layer flattens its input, so images of shape
    ``(N, 1, 28, 28)`` go in directly.

    Parameters
    ----------
    norm : {"none", "gluon", "scratch"}
        Which normalization goes before each sigmoid, as in
        :data:`bnlesson.lesson03.NORM_LAYERS`: none, Gluon's compiled
        ``nn.BatchNorm`` (fast), or the lesson's
        :class:`bnlesson.lesson02.BatchNorm` (readable, slow).
    hidden : sequence of int
        Units of each hidden layer, at least one layer.
    num_outputs : int
        Units of the output layer (classes).
    weight_init : mxnet.init.Initializer, optional
        The initializer of every Dense layer's weights, e.g.
        :data:`PAPER_INIT`. It is the Parameters' own (``param.init``), which
        Gluon prefers to the one ``initialize()`` is given, so
        :func:`bnlesson.training.sgd.sgd_setup`'s Xavier then draws only the
        rest (biases start at 0, batch norm's ``gamma`` at 1). None (the
        default): Xavier for the weights too.

    Returns
    -------
    net : mxnet.gluon.nn.HybridSequential or mxnet.gluon.nn.Sequential
        Hybridizable unless ``norm="scratch"``; not initialized.

    Raises
    ------
    ValueError
        For an unknown `norm`, no hidden layer, or a size below 1.
    """
    make_norm = norm_maker(norm)
    hidden = list(hidden)
    if not hidden:
        raise ValueError("hidden must name at least one hidden layer, e.g. (100,)")
    for size in [*hidden, num_outputs]:
        if int(size) != size or size < 1:
            raise ValueError(f"layer sizes must be positive integers, not {size!r}")
    blocks: list = []
    for units in hidden:
        norm_layers = [] if make_norm is None else [make_norm(units, 2)]
        blocks += [nn.Dense(units, use_bias=make_norm is None), *norm_layers,
                   nn.Activation("sigmoid")]  # fmt: skip
    blocks.append(nn.Dense(num_outputs))
    net = sequential(blocks)
    if weight_init is not None:
        for param in net.collect_params(".*weight").values():
            param.init = weight_init
    return net


def sigmoid_positions(net) -> list[int]:
    """The positions in `net` (a ``Sequential``) of its sigmoid layers."""
    return [
        i for i, block in enumerate(net)
        if isinstance(block, nn.Activation) and block._act_type == "sigmoid"
    ]  # fmt: skip


def layer_position(net, layer: int) -> int:
    """The position in `net` of hidden layer `layer`'s sigmoid (-1: the last).

    Raises a ValueError for a net without sigmoids or a `layer` out of range.
    """
    positions = sigmoid_positions(net)
    if not positions:
        raise ValueError(
            "net has no sigmoid layer: build it with bnlesson.lesson07.network.mlp"
        )
    if int(layer) != layer or not -len(positions) <= layer < len(positions):
        raise ValueError(
            f"layer must index one of the {len(positions)} hidden layers "
            f"(0 to {len(positions) - 1}, or -1 for the last), not {layer!r}"
        )
    return positions[layer]


def sigmoid_input(net, X, layer: int = -1, *, training: bool = False):
    r"""Return what the sigmoids of hidden layer `layer` receive for inputs `X`.

    That is the pre-activation :math:`Wx + b`, or :math:`\mathrm{BN}(Wx)`
    when the network has batch norm, computed without recording, even inside
    ``autograd.record()``: nothing is learned and batch norm's moving
    statistics do not change. In prediction mode (the default) batch norm
    uses its moving statistics; with `training`, those of `X`, as in a
    training step (noise layers then draw new noise too).

    Parameters
    ----------
    net : mxnet.gluon.nn.Sequential
        A network from :func:`mlp`, initialized.
    X : mxnet.np.ndarray
        A batch of inputs, on any device (moved to the network's).
    layer : int
        Which hidden layer, from 0; -1 (the default) is the last one, the
        layer of the paper's figure.
    training : bool
        Normalize with the batch's statistics instead of the moving ones.

    Returns
    -------
    mxnet.np.ndarray
        Shape ``(N, units)``, one column per sigmoid unit.
    """
    stop = layer_position(net, layer)
    # A probe made on the default device works on a network on any device.
    X = X.as_in_ctx(parameter_device(net))
    with autograd.pause(train_mode=training):
        for block in list(net)[:stop]:
            X = block(X)
    return X
