"""The bookkeeping of lesson 03's training loop, kept out of the steps it shows.

:func:`bnlesson.lesson03.train` shows every step of training (initialize,
trainer, record, loss, backward, step, accumulate, evaluate, print); what a
reader of the loop does not need to see is here: the checks of its
arguments (:func:`check_training`) and a :class:`TrainingLog` that times
each epoch, reads the epoch's sums from the device once, stops a run whose
loss or weights are no longer finite (saying what went non-finite first),
keeps the run's :class:`~bnlesson.training.history.History`, marks on the
net how far the run got (an interrupted run leaves a net that says so), and
redraws the live plot.
"""

from __future__ import annotations

import math

from d2l import mxnet as d2l
from mxnet import np, npx

from bnlesson.training import divergence, live
from bnlesson.training.history import History, track_progress
from bnlesson.training.metrics import check_data
from bnlesson.training.sgd import check_lr

#: The live plot's y axis: it draws the training loss and both accuracies.
LIVE_YLABEL = "loss and accuracy"


def check_training(train_iter, test_iter, num_epochs: int, lr: float) -> None:
    """Refuse, before any epoch, what training cannot use.

    The data and `num_epochs` (:func:`bnlesson.training.metrics.check_data`),
    then the learning rate (:func:`bnlesson.training.sgd.check_lr`).
    """
    check_data(train_iter, test_iter, num_epochs)
    check_lr(lr)


def live_plot(num_epochs: int, plot: bool | None = None, title: str | None = None):
    """The live plot of a run's curves, titled `title`; None when not drawn.

    `plot`: True or False; None means on inside a notebook (IPython kernel).
    The plot is shown at once, so it sits above the lines the epochs print.
    """
    if not (live.in_ipython_kernel() if plot is None else plot):
        return None
    xlim = (1, num_epochs) if num_epochs > 1 else None
    board = live.LivePlot(ylabel=LIVE_YLABEL, xlim=xlim)
    if title:
        # On the figure, not the axes: the plot clears its axes at each redraw.
        board.fig.suptitle(title)
    board.show()
    return board


class TrainingLog:
    """What a training run records besides its steps, one epoch at a time.

    Call :meth:`start_epoch` before an epoch's first batch, :meth:`step`
    after each ``trainer.step``, :meth:`end_epoch` with the epoch's sums,
    then :meth:`add` with its test accuracy. :attr:`history` is the run's
    record.

    Parameters
    ----------
    net : mxnet.gluon.Block
        The network trained; it carries the run's
        :class:`~bnlesson.training.history.Progress`.
    num_epochs : int
        The epochs planned.
    lr : float
        The learning rate (named in a divergence error).
    device : mxnet.Context
        Where the sums and the weights live.
    name : str, optional
        The History's label.
    plot : bool, optional
        Draw the live plot (None: whenever in a notebook).
    title : str, optional
        The live plot's title.
    """

    def __init__(
        self, net, num_epochs, lr, device, *, name=None, plot=None, title=None
    ):
        self.net, self.num_epochs, self.lr, self.device = net, num_epochs, lr, device
        self.history = History(device=str(device), lr=lr, name=name)
        self.board = live_plot(num_epochs, plot, title)
        self.progress = track_progress(net)
        self.timer = self.trace = None
        self._examples = 0

    def start_epoch(self) -> None:
        """Start the epoch's clock and its watch for non-finite values."""
        self.timer = d2l.Timer()
        self.trace = divergence.Trace(self.net, self.device)
        progress = self.progress
        progress.epoch += 1
        progress.batches, progress.in_epoch = 0, True

    def step(self, X, l) -> None:
        """After a step on batch `X` with losses `l`: note its input, loss and weights.

        Nothing is read from the device: the notes are looked at only if the
        epoch's loss turns out not to be finite.
        """
        self.trace.add(X, l.sum())
        self.progress.batches += 1

    def end_epoch(self, loss_sum, correct, n: int) -> tuple[float, float, float]:
        """Read the epoch's sums, once; return its mean loss, accuracy and seconds.

        `loss_sum` and `correct` are the summed losses and the number of
        correct predictions over the epoch's `n` examples, as device arrays.
        The clock stops when the device has done all the work queued.

        Raises
        ------
        ValueError
            If the epoch had no batches (`n` is 0).
        bnlesson.training.divergence.TrainingDiverged
            If the loss, or a weight after the last update, is not finite:
            it says what went non-finite first, and in which batch.
        """
        epoch = self.progress.epoch
        if n == 0:
            raise ValueError(
                f"train_iter yielded no batches in epoch {epoch}: it must give "
                f"the same batches every time it is iterated"
            )
        npx.waitall()  # the loop only queued the work: time the real work
        seconds = self.timer.stop()
        sums = [loss_sum, correct.astype("float32"), self.trace.health()]
        total, hits, health = (float(v) for v in np.stack(sums).asnumpy())
        divergence.check(
            total, self.lr, params_finite=math.isfinite(health), epoch=epoch,
            history=self.history, trace=self.trace, net=self.net,
        )  # fmt: skip
        self._examples += n
        progress = self.progress
        progress.in_epoch, progress.num_epochs = False, self.num_epochs
        progress.history = self.history
        return total / n, hits / n, seconds

    def add(self, train_loss: float, train_acc: float, test_acc: float,
            seconds: float) -> None:  # fmt: skip
        """Append an epoch to :attr:`history` and redraw the live plot."""
        h = self.history
        h.loss.append(train_loss)
        h.train_acc.append(train_acc)
        h.test_acc.append(test_acc)
        h.seconds.append(seconds)
        h.examples_per_sec = self._examples / sum(h.seconds)
        if self.board is not None:
            self.board.add(len(h.loss), (train_loss, train_acc, test_acc))
