r"""What went non-finite first when training diverges: inputs, loss or parameters.

A NaN spreads: once the inputs, the loss or the weights hold one, every later
step is NaN, and the loss at the end of an epoch says only *that* training
failed. The fix depends on *what* failed first. NaN inputs are a data problem
(no learning rate helps); a loss or weights that overflow are a learning-rate
problem. :class:`Trace` follows each training step at a small cost and, only
when the epoch's loss is not finite, finds the first bad step.

Per step it keeps, on the device and without waiting for it, the batch's
loss sum and the sums of squares :math:`\sum x^2` of the input and of every
parameter after the update (one fused kernel each, ``multi_sum_sq``, much
cheaper than an ``isfinite`` reduction per array). A sum of squares is not
finite when an element is NaN or infinite, or so large
(:math:`|w| > 10^{19}`) that training is lost anyway.

Every loop of the package checks its loss with :func:`check`, the one place
that decides training diverged, and raises the one :class:`TrainingDiverged`
(built by :func:`diverged`): a loop that checks per epoch
(:func:`bnlesson.lesson03.train`) names the epoch and, from its
:class:`Trace`, the cause and batch; a loop that checks at steps (Figure 1,
:func:`bnlesson.training.loop.sgd_steps`) names the step.
"""

from __future__ import annotations

import math

import mxnet as mx
from mxnet.gluon.parameter import DeferredInitializationError

#: What can go non-finite first, in the order it happens within a step.
CAUSES = ("inputs", "loss", "parameters")


class TrainingDiverged(FloatingPointError):
    """The training loss (or the weights) became NaN or infinite.

    Attributes
    ----------
    epoch : int or None
        The epoch (from 1) at whose end the loss was found not finite, for a
        loop that checks per epoch.
    step : int or None
        The step (mini-batch, from 1) by which it was found, for a loop that
        checks at recorded steps.
    lr : float
        The learning rate of the run.
    history : object or None
        What the run recorded before it (a :class:`bnlesson.training.history.History`,
        a :class:`bnlesson.training.recording.Recording`, ...), for plotting; None
        when nothing was recorded yet.
    cause : {"inputs", "loss", "parameters"} or None
        What went non-finite first (None when unknown).
    batch : int or None
        The batch of `epoch` (from 1) where it happened: the one whose input
        or loss was not finite, or after whose update the parameters were not.
    """

    def __init__(
        self,
        message: str,
        epoch: int | None = None,
        lr: float | None = None,
        history=None,
        cause: str | None = None,
        batch: int | None = None,
        step: int | None = None,
    ):
        super().__init__(message)
        self.epoch, self.step, self.lr, self.history = epoch, step, lr, history
        self.cause, self.batch = cause, batch


def _sums_of_squares(nd_arrays: list):
    return mx.nd.multi_sum_sq(*nd_arrays, num_arrays=len(nd_arrays)).as_np_ndarray()


def _parameter_arrays(net, device) -> list:
    """Classic-NDArray views of the weights: the optimizer updates them in place."""
    arrays = []
    for p in net.collect_params().values():
        try:
            arrays.append(p.data(device).as_nd_ndarray())
        except DeferredInitializationError:
            continue  # never used in a forward pass: cannot go non-finite
    return arrays


class Trace:
    """Per-step finiteness records of one epoch, read only if it diverged."""

    def __init__(self, net, device):
        self.net, self.device = net, device
        self.params: list | None = None  # known after the first forward pass
        self.steps: list = []

    def add(self, X, batch_loss) -> None:
        """Record one step, after ``trainer.step``: its input, loss and weights."""
        if self.params is None:
            self.params = _parameter_arrays(self.net, self.device)
        inputs = _sums_of_squares([X.as_nd_ndarray()]) if X.dtype.kind == "f" else None
        params = _sums_of_squares(self.params) if self.params else None
        self.steps.append((inputs, batch_loss, params))

    def health(self):
        """A device scalar, not finite iff the last update left a bad weight."""
        params = self.steps[-1][2] if self.steps else None
        return params.sum() if params is not None else mx.np.zeros((), ctx=self.device)

    def first_non_finite(self) -> tuple[str, int | None]:
        """The cause and the batch (from 1) of the first non-finite value.

        ``("loss", None)`` if every step was finite but the epoch's loss sum
        overflowed.
        """
        for batch, step in enumerate(self.steps, start=1):
            for cause, value in zip(CAUSES, step):
                if value is not None and not _finite(value):
                    return cause, batch
        return "loss", None


def _finite(value) -> bool:
    return all(math.isfinite(v) for v in value.asnumpy().ravel())


def check(
    loss: float,
    lr: float,
    *,
    params_finite: bool = True,
    epoch: int | None = None,
    step: int | None = None,
    history=None,
    trace: Trace | None = None,
    net=None,
    has_bn: bool | None = None,
) -> float:
    """Return `loss` if training is still finite, else raise :class:`TrainingDiverged`.

    Training diverged when `loss` is NaN or infinite, or when
    `params_finite` is False (a weight is, after the last update). The
    error (:func:`diverged`) names the `epoch` or the `step`; the cause and
    batch come from `trace` (:meth:`Trace.first_non_finite`), when given.
    `history` is what the run recorded before, or a function returning it,
    called only if training diverged. The advice depends on
    `has_bn` (the net has batch norm), found in `net` (:func:`has_batch_norm`)
    when None.
    """
    if math.isfinite(loss) and params_finite:
        return loss
    cause, batch = trace.first_non_finite() if trace is not None else (None, None)
    if has_bn is None and net is not None:
        has_bn = has_batch_norm(net)
    raise diverged(
        loss, lr, epoch=epoch, step=step, cause=cause, batch=batch,
        history=history() if callable(history) else history, has_batch_norm=has_bn,
    )  # fmt: skip


def has_batch_norm(net) -> bool:
    """Whether `net` holds a batch-norm layer: Gluon's, or one built like lesson 02's.

    Known by what it keeps, moving statistics (``moving_mean`` and
    ``moving_var``, lesson 02), or by being Gluon's ``nn.BatchNorm``: the
    training layer cannot import the lessons' classes.
    """
    from mxnet.gluon import nn

    if isinstance(net, nn.BatchNorm) or (
        hasattr(net, "moving_mean") and hasattr(net, "moving_var")
    ):
        return True
    # Gluon 1.x has no public accessor for the children of an arbitrary
    # Block; `_children` is the ordered dict that `Sequential` itself uses.
    return any(
        has_batch_norm(child) for child in getattr(net, "_children", {}).values()
    )


def diverged(
    loss: float,
    lr: float,
    *,
    epoch: int | None = None,
    step: int | None = None,
    history=None,
    cause: str | None = None,
    batch: int | None = None,
    has_batch_norm: bool | None = None,
) -> TrainingDiverged:
    """The error to raise when training diverged, with its :func:`message`.

    Give `epoch` (a loop that checks per epoch, with the `cause` and `batch`
    of :meth:`Trace.first_non_finite`) or `step` (a loop that checks at
    recorded steps); `history` is what the run recorded before.
    """
    text = message(
        loss, lr, epoch=epoch, step=step, cause=cause, batch=batch,
        has_batch_norm=has_batch_norm,
    )  # fmt: skip
    return TrainingDiverged(
        text, epoch=epoch, lr=lr, history=history, cause=cause, batch=batch,
        step=step,
    )  # fmt: skip


def message(
    loss: float,
    lr: float,
    *,
    epoch: int | None = None,
    step: int | None = None,
    cause: str | None = None,
    batch: int | None = None,
    has_batch_norm: bool | None = None,
) -> str:
    """The divergence message: when, what went non-finite first, what to do."""
    when = f"in epoch {epoch}" if epoch is not None else f"by step {step}"
    head = (
        f"the training loss became {loss} {when} at learning rate {lr}: "
        if not math.isfinite(loss)
        else f"the parameters became NaN or infinite {when} at learning rate "
        f"{lr}, while the loss was still finite: "
    )
    if cause == "inputs":
        return head + (
            f"the inputs went non-finite first: batch {batch} of epoch {epoch} "
            f"holds NaN or infinite values, while the loss and the parameters "
            f"were finite until then. No learning rate fixes that: find the bad "
            f"examples (e.g. numpy.isfinite(X).all(axis=(1, 2, 3)) on the "
            f"training images) and remove or repair them."
        )
    return f"{head}{_what(cause, batch)}{_advice(lr, has_batch_norm)}"


def _what(cause: str | None, batch: int | None) -> str:
    if cause is None:
        return ""
    if cause == "parameters":
        return (
            f"the parameters went non-finite first, in the update after batch "
            f"{batch} (the inputs and the loss were finite until then): the "
            f"updates overshoot and the weights blew up. "
        )
    if batch is None:
        return "every batch's loss was finite, but their sum overflowed float32. "
    return (
        f"the loss went non-finite first, in batch {batch}, while the inputs "
        f"and the parameters were finite: the network's outputs overflowed "
        f"float32. "
    )


def _advice(lr: float, has_batch_norm: bool | None) -> str:
    advice = f"Lower the learning rate (try {lr / 10:g})"
    if has_batch_norm is None:
        return advice + "."
    if has_batch_norm:
        return advice + (
            "; this network already has batch normalization, so the rate "
            "itself is too large."
        )
    return advice + (
        " or add batch normalization, which keeps each layer's inputs in a "
        "range where a large rate still works."
    )
