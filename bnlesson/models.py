"""The lecture's LeNet, without batch norm, with the scratch layer or with Gluon's.

Every variant has the same layers in the same order; only the normalization
inserted between each convolutional or dense layer and its sigmoid differs,
so training curves of the variants compare batch norm and nothing else.
"""

from __future__ import annotations

from typing import Callable

from mxnet.gluon import nn

from . import layers, lesson08

#: norm name -> ``make(num_features, num_dims)`` building one normalization
#: layer, or None for no normalization. A new variant (e.g. a faster scratch
#: layer) is one more entry here, plus its class in :data:`BATCHNORM_TYPES`.
NORM_LAYERS: dict[str, Callable[[int, int], nn.Block] | None] = {
    "none": None,
    "scratch": lambda num_features, num_dims: layers.BatchNorm(num_features, num_dims),
    # Gluon infers the number of channels from the first input.
    "gluon": lambda num_features, num_dims: nn.BatchNorm(),
    # The same layer with a hand-written backward (lesson 08).
    "fast": lambda num_features, num_dims: lesson08.FastBatchNorm(
        num_features, num_dims
    ),
}
NORMS = tuple(NORM_LAYERS)
#: The classes that :func:`batchnorm_layers` recognizes as batch norm.
BATCHNORM_TYPES: tuple = (layers.BatchNorm, nn.BatchNorm)  # FastBatchNorm subclasses


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
        :class:`bnlesson.layers.BatchNorm`, sized explicitly (6 and 16
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

    Scratch (:class:`bnlesson.layers.BatchNorm`) and Gluon (``nn.BatchNorm``)
    layers are both found, at any depth of nesting; read their learned scale
    and shift with ``layer.gamma.data()`` and ``layer.beta.data()``.
    """
    if isinstance(net, BATCHNORM_TYPES):
        return [net]
    # Gluon 1.x has no public accessor for the children of an arbitrary
    # Block; `_children` is the ordered dict that `Sequential` itself uses.
    return [bn for child in net._children.values() for bn in batchnorm_layers(child)]


# --- Lesson 05: the variants that batch norm in practice compares -----------

#: Activations :func:`lenet_variant` accepts (Gluon ``nn.Activation`` names).
ACTIVATIONS = ("sigmoid", "relu")
#: What may follow each layer of :func:`lenet_variant`, in the given order.
STAGE_STEPS = ("bn", "act", "drop")


def _parse_order(order: str) -> list[str]:
    steps = order.split("-") if isinstance(order, str) else []
    if (
        steps.count("act") != 1
        or any(step not in STAGE_STEPS for step in steps)
        or len(set(steps)) != len(steps)
    ):
        raise ValueError(
            f"order must list 'act' once and optionally 'bn' and 'drop', joined "
            f"by '-' (e.g. 'bn-act', 'act-bn', 'act-bn-drop'), not {order!r}"
        )
    return steps


def lenet_variant(
    order: str = "bn-act", activation: str = "sigmoid", dropout: float = 0.5,
    use_bias: bool = True,
) -> nn.HybridSequential:  # fmt: skip
    r"""Return LeNet (not initialized) with Gluon batch norm where `order` says.

    The convolutional and dense layers of :func:`lenet`, each followed by
    the steps of `order` in that sequence::

        Conv2D(6, 5)   <order>  MaxPool2D(2, 2)
        Conv2D(16, 5)  <order>  MaxPool2D(2, 2)
        Dense(120)     <order>
        Dense(84)      <order>
        Dense(10)

    where ``bn`` is ``nn.BatchNorm()``, ``act`` the activation and ``drop``
    ``nn.Dropout(dropout)``. Dropout goes into the two hidden dense stages
    only; the convolutional stages use `order` without it. The defaults
    build the same layers as ``lenet("gluon")``.

    With ``bn`` right after the layer, the layer's bias :math:`b` is
    redundant in training mode: :math:`(Wx + b) - \mu_B = Wx - \mu_{B,Wx}`,
    so ``use_bias=False`` removes parameters without changing the function
    (:math:`\beta` does the shifting). Before ``act`` is not the only choice:
    ``"act-bn"`` normalizes the activation's output instead.

    Parameters
    ----------
    order : str
        ``"act"`` (no batch norm), ``"bn-act"`` (the lecture's),
        ``"act-bn"``, or with dropout e.g. ``"bn-act-drop"``,
        ``"act-bn-drop"``, ``"act-drop-bn"``: the steps ``bn``, ``act``,
        ``drop`` joined by ``-``, ``act`` exactly once, each at most once.
    activation : {"sigmoid", "relu"}
        The activation of every hidden stage.
    dropout : float
        The drop probability of ``drop``, in [0, 1).
    use_bias : bool
        Whether the convolutional and hidden dense layers have a bias (the
        output layer always has one).

    Raises
    ------
    ValueError
        For an unknown `order` or `activation`, or `dropout` outside [0, 1).
    """
    steps = _parse_order(order)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, not {activation!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), not {dropout}")
    net = nn.HybridSequential()
    net.add(*_lenet_blocks(_variant_stage(steps, activation, dropout), use_bias))
    return net


def _variant_stage(steps: list, activation: str, dropout: float) -> Callable:
    """The ``stage`` of :func:`_lenet_blocks` that puts `steps` after a layer."""
    make = {
        "bn": nn.BatchNorm,
        "act": lambda: nn.Activation(activation),
        "drop": lambda: nn.Dropout(dropout),
    }

    def stage(layer, num_features: int, num_dims: int) -> list:
        # Dropout follows the dense layers only, as in the lectures.
        dense = num_dims == 2
        return [layer] + [make[s]() for s in steps if dense or s != "drop"]

    return stage


def relu_cnn(batch_norm: bool = True) -> nn.HybridSequential:
    """Return the PyTorch practice lecture's ReLU CNN, with or without batch norm.

    The layers, with ``[BN]`` present when `batch_norm` is True::

        Conv2D(6, 5)   ReLU  MaxPool2D(2, 2)  [BN]   (N, 6, 12, 12)
        Conv2D(12, 5)  ReLU  MaxPool2D(2, 2)         (N, 12, 4, 4)
        Dense(120)     ReLU  [BN]                    (N, 120)
        Dense(60)      ReLU                          (N, 60)
        Dense(10)                                    (N, 10)

    Unlike :func:`lenet`, batch norm comes *after* the activation (and
    after the pooling), in two places only. Gluon's ``Dense`` flattens its
    4-D input itself, where the PyTorch version flattens explicitly.

    Returns
    -------
    net : mxnet.gluon.nn.HybridSequential
        Not initialized.
    """
    norm = [nn.BatchNorm] if batch_norm else []
    net = nn.HybridSequential()
    net.add(
        nn.Conv2D(6, kernel_size=5), nn.Activation("relu"),
        nn.MaxPool2D(pool_size=2, strides=2), *(make() for make in norm),
        nn.Conv2D(12, kernel_size=5), nn.Activation("relu"),
        nn.MaxPool2D(pool_size=2, strides=2),
        nn.Dense(120), nn.Activation("relu"), *(make() for make in norm),
        nn.Dense(60), nn.Activation("relu"),
        nn.Dense(10),
    )  # fmt: skip
    return net
