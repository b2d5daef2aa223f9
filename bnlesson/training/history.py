"""The per-epoch record of one training run, as `bnlesson.lesson03.train` returns it."""

from __future__ import annotations

import math
import statistics
import sys
import warnings
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class History:
    """Per-epoch metrics of one training run, as :func:`train` returns them.

    Attributes
    ----------
    loss, train_acc, test_acc : list of float
        Mean training loss, training accuracy (measured on the fly, in
        training mode, while the weights change) and test accuracy
        (prediction mode, after the epoch), one value per epoch.
    seconds : list of float
        Training time of each epoch, excluding the test evaluation.
    examples_per_sec : float
        Training examples processed per training second, over all epochs.
    device : str
        Where the run happened, e.g. ``"cpu(0)"`` or ``"gpu(0)"``.
    lr : float
        The learning rate.
    name : str, optional
        A label for tables and plots.
    """

    loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    examples_per_sec: float = 0.0
    device: str = ""
    lr: float = math.nan
    name: str | None = None

    @property
    def final_test_acc(self) -> float:
        """Test accuracy after the last epoch (NaN if there is none)."""
        return self.test_acc[-1] if self.test_acc else math.nan

    @property
    def best_test_acc(self) -> float:
        """Highest test accuracy of any epoch (NaN if there is none)."""
        return max(self.test_acc) if self.test_acc else math.nan

    @property
    def sec_per_epoch(self) -> float:
        """Median training seconds per epoch (robust to a slow first epoch)."""
        return statistics.median(self.seconds) if self.seconds else math.nan

    def to_frame(self) -> pd.DataFrame:
        """Return one row per epoch (index ``epoch``, from 1), one column per metric."""
        index = pd.RangeIndex(1, len(self.loss) + 1, name="epoch")
        columns = ("loss", "train_acc", "test_acc", "seconds")
        return pd.DataFrame({c: getattr(self, c) for c in columns}, index=index)


# --- a run that did not finish ------------------------------------------------


class UnfinishedTraining(UserWarning):
    """A net is read whose last training run stopped before its end."""


#: The attribute under which a net keeps its :class:`Progress`.
_PROGRESS = "_bnlesson_progress"


@dataclass
class Progress:
    """How far the training run of a net got, kept on the net itself.

    A training loop can be stopped anywhere (Ctrl-C, Jupyter's "Interrupt
    kernel", an error), and then returns no History: the net is left
    half-trained next to whatever the training cell assigned before.
    :class:`bnlesson.training.bookkeeping.TrainingLog` keeps this record up to
    date on the net (``start_epoch`` begins an epoch, ``step`` counts a
    batch, ``end_epoch`` ends it and says how many were planned), so that
    whoever reads the net afterwards can tell; :func:`bnlesson.training.sgd.initialize`
    (fresh weights) removes it.

    Attributes
    ----------
    epoch : int
        The epoch begun last, from 1.
    batches : int
        Training steps taken in that epoch.
    in_epoch : bool
        True from the start of an epoch until it is finished.
    num_epochs : int or None
        The planned number of epochs (known once an epoch has finished).
    history : History or None
        The run's record of its finished epochs (once one has finished).
    """

    epoch: int = 0
    batches: int = 0
    in_epoch: bool = False
    num_epochs: int | None = None
    history: History | None = None

    @property
    def finished(self) -> bool:
        """True once the last planned epoch has finished."""
        return (
            not self.in_epoch
            and self.num_epochs is not None
            and self.epoch >= self.num_epochs
        )

    def __str__(self) -> str:
        of = f" of {self.num_epochs}" if self.num_epochs is not None else ""
        if self.in_epoch:
            batches = f"{self.batches} batch" + ("" if self.batches == 1 else "es")
            return f"stopped after {batches} of epoch {self.epoch}{of}"
        return f"stopped after epoch {self.epoch}{of}"


def progress_of(net) -> Progress | None:
    """The :class:`Progress` of `net`'s training run (None if not trained by one)."""
    return getattr(net, _PROGRESS, None)


def track_progress(net) -> Progress:
    """Return `net`'s :class:`Progress`, first giving it one if it has none."""
    progress = progress_of(net)
    if progress is None:
        progress = Progress()
        setattr(net, _PROGRESS, progress)
    return progress


def forget_progress(net) -> None:
    """Remove `net`'s :class:`Progress` (its weights are fresh again)."""
    if progress_of(net) is not None:
        delattr(net, _PROGRESS)


def warn_if_unfinished(net, reader: str) -> None:
    """Warn (:class:`UnfinishedTraining`) if `net`'s training run stopped early.

    `reader` names the function that reads the net, for the message.
    """
    progress = progress_of(net)
    if progress is None or progress.epoch == 0 or progress.finished:
        return
    done = progress.history
    partial = (
        f"; the {len(done.loss)} epoch(s) it finished are in "
        f"bnlesson.training.history.progress_of(net).history"
        if done is not None and done.loss
        else ""
    )
    message = (
        f"{reader}: this net's last training run did not finish: it "
        f"{progress} (interrupted, or stopped by an error). Its weights, "
        f"gamma and beta are those of a half-trained network, and a History "
        f"kept from an earlier run does not describe it. Run the training "
        f"cell again, to its end, for the trained values{partial}."
    )
    # Reported at the line that called `reader`, with a registry of its own:
    # Python's default shows a warning once per line, but a cell run again
    # must warn again while the net is unfinished ("ignore" still works).
    caller = sys._getframe(2)
    warnings.warn_explicit(
        UnfinishedTraining(message), UnfinishedTraining,
        caller.f_code.co_filename, caller.f_lineno,
        module=caller.f_globals.get("__name__"), registry={},
        module_globals=caller.f_globals,
    )  # fmt: skip
