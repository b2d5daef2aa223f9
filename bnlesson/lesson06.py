"""Lesson 06: the LeNet variants that the design-choice questions compare.

The code of ``notebooks/06_design_choices.ipynb``: the networks
(:func:`lenet_variant`, :func:`relu_cnn`) and, with a comment naming the
section that shows each, the measurements its grids take after each
run (:func:`refreshed`, :func:`sigmoid_saturation`, :func:`diagnosed`,
:func:`unbiased_variance_accuracy`).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

from mxnet.gluon import nn

from bnlesson.lesson03 import _lenet_blocks
from bnlesson.lesson05 import refresh_running_stats
from bnlesson.training.metrics import evaluate_accuracy

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


# Shown in lesson 06, "The data, and how much of it each experiment uses"
def refreshed(net, train_iter, test_iter):
    """Test accuracy after refreshing the running statistics (50 batches)."""
    refresh_running_stats(net, train_iter, num_batches=50)
    return {"refreshed_acc": evaluate_accuracy(net, test_iter)}


# Shown in lesson 06, "3 · How large a learning rate?"
def sigmoid_saturation(net, X, margin=0.01):
    r"""Share of the activation outputs of sequential `net` on `X` near 0 or 1.

    Counts outputs :math:`\sigma` with :math:`|\sigma - 0.5| > 0.5 -` `margin`,
    where the sigmoid's slope :math:`\sigma(1 - \sigma)` is below `margin`.
    """
    saturated = total = 0
    for layer in net:  # the layers of a sequential net, in order
        X = layer(X)
        if isinstance(layer, nn.Activation):
            saturated += int((abs(X - 0.5) > 0.5 - margin).sum())
            total += X.size
    return saturated / total


# Shown in lesson 06, "3 · How large a learning rate?"
def rms(values):
    """Root mean square of the arrays `values` taken together (NaN if none)."""
    squares = [float((v * v).sum()) for v in values]
    count = sum(v.size for v in values)
    return (sum(squares) / count) ** 0.5 if count else float("nan")


# Shown in lesson 06, "3 · How large a learning rate?"
def diagnosed(net, train_iter, test_iter):
    """:func:`refreshed`, then what a trained net does on one test batch.

    Saturation of its sigmoids, size (RMS) of its outputs (the logits), of
    the weights of its last dense layer (the output layer, ``Dense(10)``) and
    of the gamma and beta of its batch-norm layers (NaN without any). The
    test batch goes to the device of the network's parameters.
    """
    W = [layer for layer in net if isinstance(layer, nn.Dense)][-1].weight.data()
    X = next(iter(test_iter))[0].as_in_ctx(W.ctx)  # on the network's device
    norms = [layer for layer in net if isinstance(layer, nn.BatchNorm)]
    return {**refreshed(net, train_iter, test_iter),
            "saturated": sigmoid_saturation(net, X),
            "logit_rms": rms([net(X)]),
            "output_weight_rms": rms([W]),
            "gamma_rms": rms([bn.gamma.data() for bn in norms]),
            "beta_rms": rms([bn.beta.data() for bn in norms])}  # fmt: skip


def _values_per_channel(net, X) -> dict:
    """For each batch-norm layer of sequential `net`: values per channel of `X`."""
    counts = {}
    for layer in net:
        if isinstance(layer, nn.BatchNorm):
            counts[layer] = X.size // X.shape[1]  # b, or b * H * W after a conv
        X = layer(X)
    return counts


@contextmanager
def unbiased_running_var(net, X):
    r"""Scale every running variance of `net` by :math:`m/(m-1)` for a while.

    On the CPU, Gluon averages the *biased* batch variance (divided by
    :math:`m`, the values a channel pools per batch: :math:`b`, or
    :math:`b \cdot H \cdot W` after a convolution) into the running
    variance, which therefore averages :math:`(m-1)/m` of the variance
    (half of it at :math:`m = 2`). Times :math:`m/(m-1)` it averages the
    unbiased one, what the cuDNN kernel on a GPU stores. Restored on exit.

    Parameters
    ----------
    net : mxnet.gluon.nn.HybridSequential
        A sequential network (batch norm directly inside it).
    X : mxnet.np.ndarray
        A training batch of the size the network trained with; it gives
        each layer's :math:`m`.
    """
    counts = _values_per_channel(net, X)
    kept = {bn: bn.running_var.data().copy() for bn in counts}
    try:
        for bn, m in counts.items():
            if m > 1:  # one value per channel has no unbiased variance
                bn.running_var.set_data(kept[bn] * (m / (m - 1)))
        yield
    finally:
        for bn, var in kept.items():
            bn.running_var.set_data(var)


def unbiased_variance_accuracy(net, train_iter, test_iter):
    """Test accuracy with the running variances made unbiased, then restored.

    A `measure` for :func:`bnlesson.experiments.grid.run_grid`; see
    :func:`unbiased_running_var`. The first training batch gives each
    layer's count of values per channel.
    """
    ctx = next(iter(net.collect_params().values())).data().ctx
    X = next(iter(train_iter))[0].as_in_ctx(ctx)  # on the network's device
    with unbiased_running_var(net, X):
        return {"unbiased_var_acc": evaluate_accuracy(net, test_iter)}
