r"""The training set-up every loop of the package shares, and its argument checks.

:func:`bnlesson.lesson03.train` (lessons 03-06), the Figure 1 recording
(lesson 07), lesson 09's watched runs and the benchmark all start the same
way: the network gets fresh Xavier weights and fresh moving statistics on
the device (:func:`initialize`), and is trained by minibatch SGD on the
softmax cross-entropy loss, each step updating every parameter :math:`w` by

.. math:: w \leftarrow w - \frac{\eta}{b} \sum_{i=1}^{b} \nabla_w \ell_i

for a batch of size :math:`b` (``trainer.step(b)``). :func:`sgd_setup` is
that set-up, written once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

from mxnet import gluon, init
from mxnet.gluon import nn
from mxnet.util import is_np_array

from bnlesson.core.arguments import check_whole, is_number, not_a_number
from bnlesson.training.history import forget_progress

#: The largest float32 number: MXNet's optimizers keep the rate in float32.
FLOAT32_MAX = 3.4028235e38


def require_np() -> None:
    """Refuse to run before ``npx.set_np()``: the package uses ``mxnet.np``."""
    if not is_np_array():
        raise RuntimeError(
            "bnlesson needs MXNet's NumPy interface: run `npx.set_np()` "
            "(from mxnet import npx) once before building and training nets."
        )


def check_num_epochs(num_epochs: int) -> None:
    """Refuse a number of epochs that is not a whole number of at least 1."""
    check_whole("num_epochs", num_epochs, "num_epochs=10")


def check_lr(lr: float) -> None:
    """Refuse a learning rate MXNet's optimizers cannot take (they use float32).

    Not a number (a string, None, a bool), or not in (0, 3.4e38].
    """
    if not is_number(lr):
        raise ValueError(not_a_number("lr", lr, "lr=0.1"))
    if not 0 < lr <= FLOAT32_MAX:
        raise ValueError(f"lr must be a positive float32 number, not {lr!r}")


def check_batches(name: str, batches) -> None:
    """Refuse a data set that training cannot go through once per epoch."""
    if isinstance(batches, Iterator):
        raise ValueError(
            f"{name} is a one-shot iterator ({type(batches).__name__}): training "
            f"goes through it once per epoch, so from the second epoch on it "
            f"would be empty. Pass something that can be iterated again: a list "
            f"of (X, y) batches, a bnlesson.data.Batches or a "
            f"gluon.data.DataLoader."
        )
    if isinstance(batches, Sized) and len(batches) == 0:
        raise ValueError(
            f"{name} is empty: it holds no (X, y) batches. Check the data it was "
            f"made from (an empty slice or filter?)"
        )


def initialize(net, device) -> None:
    """Give `net` fresh Xavier weights on `device` and fresh moving statistics.

    ``initialize(force_reinit=True)`` re-draws every Parameter (Gluon's
    ``nn.BatchNorm`` keeps its running statistics in Parameters, reset
    alike); the from-scratch layers' moving statistics are plain arrays, so
    every block with a ``reset_running_stats()`` method is reset too. A
    second training run of the same net from the same seed thus repeats the
    first. Fresh weights are untrained: a record of an earlier run that
    stopped early (:class:`bnlesson.training.history.Progress`) is removed.
    """
    net.initialize(init.Xavier(), ctx=device, force_reinit=True)
    net.apply(_reset_running_stats)
    forget_progress(net)


def _reset_running_stats(block) -> None:
    reset = getattr(block, "reset_running_stats", None)
    if callable(reset):
        reset()


def sgd_setup(net, lr: float, device, *, hybridize: bool = False) -> tuple:
    r"""Initialize `net` on `device` and return its SGD trainer and loss.

    `net` gets fresh weights and moving statistics (:func:`initialize`);
    with `hybridize`, a hybridizable `net` is compiled into one graph whose
    memory is planned once per input shape (a plain ``Block`` stays as it
    is). The trainer is ``gluon.Trainer`` with plain SGD at rate :math:`\eta`
    = `lr`; the loss is the softmax cross-entropy
    :math:`\ell_i = -\log \operatorname{softmax}(\hat y_i)_{y_i}`.

    Parameters
    ----------
    net : mxnet.gluon.Block
        The network; its parameters are (re)initialized.
    lr : float
        The learning rate, positive and finite in float32.
    device : mxnet.Context
        Where the parameters live.
    hybridize : bool
        Compile `net` when it is a ``HybridBlock``.

    Returns
    -------
    trainer : mxnet.gluon.Trainer
    loss : mxnet.gluon.loss.SoftmaxCrossEntropyLoss

    Raises
    ------
    ValueError
        If `lr` is not a number (a string, None, a bool) or not a positive
        float32 number.
    RuntimeError
        If ``npx.set_np()`` has not been called.
    """
    require_np()
    check_lr(lr)
    initialize(net, device)
    if hybridize and isinstance(net, nn.HybridBlock):
        net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    return trainer, gluon.loss.SoftmaxCrossEntropyLoss()
