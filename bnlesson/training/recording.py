r"""What the Figure 1 recording saw, and how far a unit's input distribution drifted.

:func:`bnlesson.lesson07.train_recording` (lesson 07's recording loop) keeps
one row per recording and turns the rows into a :class:`Recording`
(:meth:`Recording.from_rows`): the test accuracy, the training loss and the
15th, 50th and 85th percentiles of every sigmoid input of the last hidden
layer, at recorded steps. :func:`check_loss` stops a run whose loss is no
longer finite; :func:`drift` measures how far the percentiles moved between
the first and the last recording.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as onp
import pandas as pd

from bnlesson.training import divergence

#: The percentiles the paper plots: a low one, the median and a high one.
PERCENTILES = (15, 50, 85)


@dataclass
class Recording:
    """What :func:`train_recording` saw, one row per recording.

    Attributes
    ----------
    steps : numpy.ndarray of int, shape (R,)
        The training steps (mini-batches) done at each recording.
    test_acc : numpy.ndarray, shape (R,)
        Test accuracy at each recording.
    loss : numpy.ndarray, shape (R,)
        Mean training loss over the steps since the previous recording.
    percentiles : numpy.ndarray, shape (R, U, 3)
        The 15th, 50th and 85th percentiles (:data:`PERCENTILES`) of each
        recorded unit's sigmoid input over the probe batch.
    units : tuple of int
        The recorded units of the layer, in the order of axis 1 above.
    layer : int
        The hidden layer the units belong to (-1: the last).
    lr : float
        The run's learning rate.
    seconds : float
        Wall time of the whole run, recordings included.
    record_seconds : float
        The part of `seconds` spent recording.
    name : str, optional
        A label for plots and tables.
    num_steps : int
        The training steps of the whole run.
    """

    steps: onp.ndarray
    test_acc: onp.ndarray
    loss: onp.ndarray
    percentiles: onp.ndarray
    units: tuple
    layer: int = -1
    lr: float = math.nan
    seconds: float = 0.0
    record_seconds: float = 0.0
    name: str | None = None
    num_steps: int = field(default=0)

    @classmethod
    def from_rows(cls, rows: list, **info) -> Recording:
        """A Recording from rows ``(step, test_acc, loss, percentiles)``.

        Each row's percentiles have shape ``(U, 3)``, one row per unit of the
        layer (:func:`column_percentiles`); `info` sets the other fields
        (``name``, ``lr``, ``seconds``, ...). Raises a ValueError for no rows.
        """
        if not rows:
            raise ValueError("a Recording needs at least one recorded row")
        steps, acc, loss, percentiles = zip(*rows)
        percentiles = onp.stack(percentiles)
        return cls(
            steps=onp.array(steps, dtype=int), test_acc=onp.array(acc),
            loss=onp.array(loss), percentiles=percentiles,
            units=tuple(range(percentiles.shape[1])), **info,
        )  # fmt: skip

    @property
    def overhead(self) -> float:
        """Wall time over wall time without the recordings (1.0 = free)."""
        return self.seconds / (self.seconds - self.record_seconds)

    @property
    def ms_per_step(self) -> float:
        """Milliseconds per training step, recordings excluded."""
        return 1e3 * (self.seconds - self.record_seconds) / self.num_steps

    def unit_percentiles(self, unit: int) -> onp.ndarray:
        """Return the ``(R, 3)`` percentiles of `unit` (a unit number of the layer)."""
        if unit not in self.units:
            raise ValueError(f"unit {unit!r} was not recorded; recorded: {self.units}")
        return self.percentiles[:, self.units.index(unit), :]

    def drift(self, part: str = "total") -> onp.ndarray:
        """Return :func:`drift` of every recorded unit, shape ``(U,)``."""
        return drift(self.percentiles, part)

    def typical_unit(self, part: str = "total") -> int:
        """The unit whose :func:`drift` is the median of all recorded units'.

        With an even number of units, the upper of the two middle ones.
        """
        d = self.drift(part)
        return self.units[int(onp.argsort(d, kind="stable")[len(d) // 2])]

    def to_frame(self, unit: int | None = None) -> pd.DataFrame:
        """Return one row per recording (index ``step``): test_acc, loss, and,
        for a `unit`, its columns ``p15``, ``p50``, ``p85``."""
        frame = pd.DataFrame(
            {"test_acc": self.test_acc, "loss": self.loss},
            index=pd.Index(self.steps, name="step"),
        )
        if unit is not None:
            for q, column in zip(PERCENTILES, self.unit_percentiles(unit).T):
                frame[f"p{q}"] = column
        return frame


#: The parts of :func:`drift`: the shift of the median, the change of the width, both.
DRIFT_PARTS = ("median", "width", "total")


def check_loss(mean_loss: float, *, lr: float, step: int, rows: list,
               has_batch_norm: bool | None = None) -> float:  # fmt: skip
    """Return `mean_loss` if it is finite, else raise TrainingDiverged.

    The error (:func:`bnlesson.training.divergence.check`) names the `step`
    and carries the `rows` recorded so far as a :class:`Recording` (None
    when there are none) for plotting.
    """
    return divergence.check(
        mean_loss, lr, step=step, has_bn=has_batch_norm,
        history=lambda: Recording.from_rows(rows, lr=lr) if rows else None,
    )  # fmt: skip


def column_percentiles(values: onp.ndarray) -> onp.ndarray:
    """Return the :data:`PERCENTILES` of each column (unit) of `values`: ``(U, 3)``."""
    return onp.percentile(values, PERCENTILES, axis=0).T


def check_percentiles(percentiles, part: str) -> onp.ndarray:
    """`percentiles` as float64 for a drift, or a ValueError saying what is wrong.

    A drift compares the 15th, 50th and 85th percentiles (last axis, 3) of
    one unit, shape (R, 3), or of U units, shape (R, U, 3), at R >= 2
    recordings; `part` is one of :data:`DRIFT_PARTS`.
    """
    if part not in DRIFT_PARTS:
        raise ValueError(f"part must be one of {DRIFT_PARTS}, not {part!r}")
    p = onp.asarray(percentiles, dtype=onp.float64)
    if p.ndim not in (2, 3) or p.shape[-1] != 3:
        raise ValueError(
            f"percentiles must have shape (R, 3) or (R, U, 3): the 15th, 50th and "
            f"85th percentiles at R recordings; got shape {p.shape}"
        )
    if p.shape[0] < 2:
        raise ValueError("a drift needs at least two recordings (a first and a last)")
    return p


def drift(percentiles, part: str = "total") -> float | onp.ndarray:
    r"""How far a unit's input distribution moved from the first to the last recording.

    With :math:`m_t` the median and :math:`w_t = p_{85,t} - p_{15,t}` the
    width of the middle 70% at recording :math:`t = 1, \dots, R`, the drift
    is the shift of the median plus the change of the width, both in units
    of the first width:

    .. math::

        D = \underbrace{\frac{|m_R - m_1|}{w_1}}_{\text{median}}
          + \underbrace{\frac{|w_R - w_1|}{w_1}}_{\text{width}}.

    :math:`D = 0` means the same location and spread at the end as at the
    start; :math:`D = 1` means a move (or a stretch, or a shrink) as large
    as the distribution's own first width. Recordings between the first
    and the last do not count.

    Parameters
    ----------
    percentiles : array, shape (R, 3) or (R, U, 3)
        The 15th, 50th and 85th percentiles of one unit (or of U units) at
        R >= 2 recordings, as in :attr:`Recording.percentiles`.
    part : {"total", "median", "width"}
        :math:`D`, or only one of its two terms.

    Returns
    -------
    float or numpy.ndarray of shape (U,)

    Raises
    ------
    ValueError
        For fewer than two recordings, a last axis other than 3, a first
        width that is not positive (a constant unit has no scale to compare
        with), or an unknown `part`.
    """
    p = check_percentiles(percentiles, part)
    first, last = p[0], p[-1]
    width0, width1 = first[..., 2] - first[..., 0], last[..., 2] - last[..., 0]
    if onp.any(~(width0 > 0)):
        raise ValueError(
            "the 85th percentile must exceed the 15th at the first recording: a "
            "unit whose input is constant on the probe batch has no width to "
            "measure the drift against (leave it out of the recorded units)"
        )
    shift = onp.abs(last[..., 1] - first[..., 1]) / width0
    stretch = onp.abs(width1 - width0) / width0
    d = {"median": shift, "width": stretch, "total": shift + stretch}[part]
    return float(d) if d.ndim == 0 else d


def steps_to_reach(recording: Recording, accuracy: float) -> int | None:
    """Return the first recorded step whose test accuracy is at least `accuracy`.

    None when the run never got there.
    """
    if not 0 <= accuracy <= 1:
        raise ValueError(f"accuracy must be in [0, 1], not {accuracy!r}")
    hits = onp.flatnonzero(recording.test_acc >= accuracy)
    return int(recording.steps[hits[0]]) if hits.size else None
