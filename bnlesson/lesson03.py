"""Lesson 03: the lecture's LeNet with and without batch norm, and its training loop.

Every variant has the same layers in the same order; only the normalization
inserted between each convolutional or dense layer and its sigmoid differs,
so training curves of the variants compare batch norm and nothing else.
:func:`train` is the loop the lesson shows (the lecture's ``d2l.train_ch5``,
``train_ch6`` in d2l 1.0).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import pandas as pd
from mxnet import autograd, gluon
from mxnet.gluon import nn

from bnlesson.core.config import default_device, device_or_default
from bnlesson.lesson02 import CHANNELS_LAST_HINT, BatchNorm
from bnlesson.training.bookkeeping import TrainingLog, check_training
from bnlesson.training.history import warn_if_unfinished
from bnlesson.training.loop import StepLog, Watcher, sgd_steps
from bnlesson.training.metrics import evaluate_accuracy
from bnlesson.training.sgd import initialize, sgd_setup

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


# Shown in lesson 03, "The training loop"; tests/lessons/test_lesson03_train.py
# proves that both give the same history.
def train(net, train_iter, test_iter, num_epochs, lr, device=None, *,
          verbose=True, plot=None, name=None, title=None):  # fmt: skip
    r"""Train `net` by minibatch SGD, one line per epoch (the lecture's `train_ch5`).

    The lecture's ``d2l.train_ch5`` (``train_ch6`` in d2l 1.0), initializing
    inside: `net` gets fresh Xavier weights and moving statistics on `device`
    (default :func:`~bnlesson.core.config.default_device`); each step on a
    batch of size :math:`b` updates every parameter by

    .. math:: w \leftarrow w - \frac{\eta}{b} \sum_{i=1}^{b} \nabla_w \ell_i

    (:math:`\eta` = `lr`, :math:`\ell_i` the softmax cross-entropy). After
    each epoch the test accuracy is measured in prediction mode and, if
    `verbose`, one line printed (``time``: the epoch's training only), e.g.
    ``epoch 1, loss 0.6847, train acc 0.752, test acc 0.792, time 3.7 sec``.
    `train_iter` and `test_iter` (a list, a ``DataLoader``, a
    :class:`bnlesson.data.Batches`) are iterated once per epoch. `plot`: a
    live plot titled `title` (None: in a notebook); `name` labels the
    returned History. The bookkeeping is
    :class:`bnlesson.training.bookkeeping.TrainingLog`.

    Raises
    ------
    ValueError
        For a bad `num_epochs` or `lr`, an empty or one-shot `train_iter` or
        `test_iter` (before training), or an epoch without batches.
    bnlesson.training.divergence.TrainingDiverged
        If an epoch's loss, or a weight after its last update, is NaN or
        infinite; it says whether the inputs, the loss or the parameters went
        non-finite first, in which batch, and carries the epochs before.

    A run stopped before its end (an error, Ctrl-C) leaves `net` half-trained
    and saying so: :func:`batchnorm_layers` warns where the run stopped, and
    :func:`bnlesson.training.history.progress_of` gives the finished epochs.
    """
    check_training(train_iter, test_iter, num_epochs, lr)  # before any epoch
    device = default_device() if device is None else device
    initialize(net, device)  # fresh Xavier weights and moving statistics
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    log = TrainingLog(net, num_epochs, lr, device, name=name, plot=plot, title=title)
    for epoch in range(1, num_epochs + 1):
        log.start_epoch()  # starts the clock
        loss_sum, correct, n = 0, 0, 0
        for X, y in train_iter:
            X, y = X.as_in_ctx(device), y.as_in_ctx(device)
            with autograd.record():
                y_hat = net(X)
                l = loss(y_hat, y)
            l.backward()
            trainer.step(X.shape[0])
            # Arrays on the device: adding them does not wait for the device.
            loss_sum += l.sum()
            correct += (y_hat.argmax(axis=1).astype(y.dtype) == y).sum()
            n += X.shape[0]
            log.step(X, l)  # notes what went NaN first, should anything
        # Reads the sums once; stops if the loss or a weight is not finite.
        train_loss, train_acc, seconds = log.end_epoch(loss_sum, correct, n)
        test_acc = evaluate_accuracy(net, test_iter, device)
        log.add(train_loss, train_acc, test_acc, seconds)  # record and plot
        if verbose:
            print(f"epoch {epoch}, loss {train_loss:.4f}, "
                  f"train acc {train_acc:.3f}, test acc {test_acc:.3f}, "
                  f"time {seconds:.1f} sec", flush=True)  # fmt: skip
    return log.history


#: A sigmoid output outside [0.05, 0.95] is saturated: there its slope
#: s(1 - s) is below 0.0475, under a fifth of its peak of 0.25 at s = 0.5.
SATURATED = 0.05


class FirstSteps(NamedTuple):
    """What :func:`first_steps` measured: a table per quantity, a row per step."""

    grad_norms: pd.DataFrame
    saturated: pd.DataFrame
    weight_norms: pd.DataFrame

    @property
    def relative(self) -> pd.DataFrame:
        r"""Gradient norm over weight norm, comparable across layers."""
        return self.grad_norms / self.weight_norms


def first_steps(net, train_iter, lr: float, num_steps: int, device=None) -> FirstSteps:
    r"""Weight-gradient norms, weight norms and saturated sigmoids over the first steps.

    Trains `net` as :func:`train` does for the first `num_steps` batches of
    `train_iter` (:func:`bnlesson.training.loop.sgd_steps`) and records, at
    each step before the update, per convolutional or dense layer the norms
    :math:`\lVert \nabla_W \ell \rVert_2` (mean loss) and
    :math:`\lVert W \rVert_2`, and per sigmoid the fraction of outputs
    :math:`s < 0.05` or :math:`s > 0.95` (:data:`SATURATED`).

    Returns
    -------
    FirstSteps
        Indexed by ``step`` (from 1): ``grad_norms`` and ``weight_norms``, a
        column per weight layer (``"conv 1"`` ... ``"dense 3"``),
        ``saturated``, a column per sigmoid (``"sigmoid 1"`` ...).

    Raises
    ------
    bnlesson.training.divergence.TrainingDiverged
        At the first step whose loss is not finite; its ``history`` holds
        the tables so far, that step included.
    """
    device = device_or_default(device)
    trainer, loss = sgd_setup(net, lr, device)
    watcher = _FirstSteps(net)
    sgd_steps(net, train_iter, num_steps, trainer, loss, device, watcher=watcher,
              forward=watcher.forward, mean=True)  # fmt: skip
    return watcher.frames()


class _FirstSteps(Watcher):
    """:func:`first_steps`' watcher: norms and saturation before the updates."""

    def __init__(self, net):
        self.net, self.log, self.sigmoids = net, StepLog(), []
        self.weighted = [b for b in net if isinstance(b, (nn.Conv2D, nn.Dense))]
        kinds = ["conv" if isinstance(b, nn.Conv2D) else "dense" for b in self.weighted]
        self.names = [f"{n} {kinds[: i + 1].count(n)}" for i, n in enumerate(kinds)]

    def forward(self, X):
        """The net's scores, keeping every sigmoid's output on the way."""
        out, self.sigmoids = X, []
        for block in self.net:
            out = block(out)
            if isinstance(block, nn.Activation):
                self.sigmoids.append(out)
        return out

    def before_update(self, step: int, loss) -> None:
        weights = [b.weight for b in self.weighted]
        norm = lambda a: float((a**2).sum() ** 0.5)  # noqa: E731
        self.log.add("grad_norms", step, [norm(w.grad()) for w in weights])
        self.log.add("weight_norms", step, [norm(w.data()) for w in weights])
        self.log.add("saturated", step, [
            float(((s < SATURATED) | (s > 1 - SATURATED)).mean()) for s in self.sigmoids
        ])  # fmt: skip

    def so_far(self):
        return self.frames() if "grad_norms" in self.log else None

    def frames(self) -> FirstSteps:
        """The norms and saturated fractions, one row per step."""
        sigmoids = [f"sigmoid {i}" for i in range(1, len(self.sigmoids) + 1)]
        return FirstSteps(self.log.frame("grad_norms", self.names),
                          self.log.frame("saturated", sigmoids),
                          self.log.frame("weight_norms", self.names))  # fmt: skip
