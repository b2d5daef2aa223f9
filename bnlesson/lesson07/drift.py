r"""How far a unit's input distribution drifted, in the units of the sigmoid's input.

Lesson 07 compares the 15th, 50th and 85th percentiles of a last-layer
sigmoid input at the first and at the last recording. The sigmoid gives
that input a fixed scale: :math:`\sigma(z)` runs from 0.12 to 0.88 as
:math:`z` goes from -2 to 2, so a move of 1 changes what a unit near
:math:`z = 0` outputs by up to 1/4, in any network. Measured in those units,
the drift of two networks can be compared directly; divided by each unit's
first width (:func:`bnlesson.training.recording.drift`), a unit whose
first width is near 0 would show a huge drift for a small move.
"""

from __future__ import annotations

import numpy as onp

from bnlesson.training.recording import Recording, check_percentiles


# Shown in lesson 07, "The figure"
def absolute_drift(percentiles, part="total"):
    r"""How far each unit's median moved plus how much its width changed.

    With :math:`m_t` the median and :math:`w_t = p_{85,t} - p_{15,t}` the
    width of the middle 70% at recording :math:`t = 1, \dots, R`,

    .. math::

        \Delta = \underbrace{|m_R - m_1|}_{\text{median}}
               + \underbrace{|w_R - w_1|}_{\text{width}},

    in the units of the sigmoid's input. Recordings between the first and
    the last do not count.

    Parameters
    ----------
    percentiles : array, shape (R, 3) or (R, U, 3)
        The 15th, 50th and 85th percentiles of one unit (or of U units) at
        R >= 2 recordings, as in :attr:`Recording.percentiles`.
    part : {"total", "median", "width"}
        :math:`\Delta`, or one of its two terms.

    Returns
    -------
    float or numpy.ndarray of shape (U,)

    Raises
    ------
    ValueError
        For fewer than two recordings, a last axis other than 3, or an
        unknown `part`.
    """
    percentiles = check_percentiles(percentiles, part)
    first, last = percentiles[0], percentiles[-1]
    median = onp.abs(last[..., 1] - first[..., 1])
    width = onp.abs((last[..., 2] - last[..., 0]) - (first[..., 2] - first[..., 0]))
    drift = {"median": median, "width": width, "total": median + width}[part]
    return float(drift) if drift.ndim == 0 else drift


# Shown in lesson 07, "The figure"
def typical_unit(recording: Recording) -> int:
    """The unit whose :func:`absolute_drift` is the median of its network's units.

    With an even number of units, the upper of the two middle ones.
    """
    drift = absolute_drift(recording.percentiles)
    return recording.units[int(onp.argsort(drift, kind="stable")[len(drift) // 2])]
