r"""What went non-finite first when training diverges: inputs, loss or parameters.

A NaN spreads: once the inputs, the loss or the weights hold one, every later
step is NaN, and the loss at the end of an epoch says only *that* training
failed. The fix depends on *what* failed first. NaN inputs are a data problem
(no learning rate helps); a loss or weights that overflow are a learning-rate
problem. :class:`Trace` follows each training step at a small cost and, only
when the epoch's loss is not finite, finds the first bad step.

Per step it keeps, on the device and without waiting for it, the batch's
loss sum and the sums of squares :math:`\sum x^2` of the input and of every
parameter after the update (one fused kernel each, ``multi_sum_sq``: 0.2 to
0.5 ms per LeNet step of 20 to 30 ms, measured on a 2-core CPU, where an
``isfinite`` reduction per array costs about ten times as much). A sum of
squares is not finite when an element is NaN or infinite, or so large
(:math:`|w| > 10^{19}`) that training is lost anyway.
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
    epoch : int
        The epoch (from 1) at whose end the loss was found not finite.
    lr : float
        The learning rate of the run.
    history : History
        The epochs completed before it, for plotting.
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
    ):
        super().__init__(message)
        self.epoch, self.lr, self.history = epoch, lr, history
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


def message(
    loss: float, epoch: int, lr: float, cause: str, batch, has_batch_norm: bool
) -> str:
    """The divergence message: what went non-finite first, and what to do."""
    head = (
        f"loss became {loss} in epoch {epoch} at learning rate {lr}: "
        if not math.isfinite(loss)
        else f"the parameters became NaN or infinite in epoch {epoch} at "
        f"learning rate {lr}, while the loss was still finite: "
    )
    if cause == "inputs":
        return head + (
            f"the inputs went non-finite first: batch {batch} of epoch {epoch} "
            f"holds NaN or infinite values, while the loss and the parameters "
            f"were finite until then. No learning rate fixes that: find the bad "
            f"examples (e.g. numpy.isfinite(X).all(axis=(1, 2, 3)) on the "
            f"training images) and remove or repair them."
        )
    if cause == "parameters":
        what = (
            f"the parameters went non-finite first, in the update after batch "
            f"{batch} (the inputs and the loss were finite until then): the "
            f"updates overshoot and the weights blew up."
        )
    elif batch is None:
        what = "every batch's loss was finite, but their sum overflowed float32."
    else:
        what = (
            f"the loss went non-finite first, in batch {batch}, while the inputs "
            f"and the parameters were finite: the network's outputs overflowed "
            f"float32."
        )
    advice = (
        "; this network already has batch normalization, so the rate itself is "
        "too large."
        if has_batch_norm
        else " or add batch normalization, which keeps each layer's inputs in a "
        "range where a large rate still works."
    )
    return f"{head}{what} Lower the learning rate (try {lr / 10:g}){advice}"
