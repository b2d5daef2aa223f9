"""The per-epoch record of one training run, as `bnlesson.lesson03.train` returns it."""

from __future__ import annotations

import math
import statistics
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
