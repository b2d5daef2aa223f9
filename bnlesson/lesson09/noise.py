r"""Lesson 09's noisy batch norm: noise after every batch norm of lesson 07's network.

Santurkar et al. (2018, Section 2.1) insert noise after batch norm, its
distribution redrawn at every step, so that the layers' inputs keep
shifting: :class:`PaperNoise` is our reading of their noise (per example),
:class:`NoiseLayer` a variant (one shift and one scale per unit for the
whole batch), and :func:`noisy_mlp` puts either after every batch norm of
lesson 07's ``mlp("gluon")``.
"""

from __future__ import annotations

from typing import Sequence

from mxnet import autograd, np
from mxnet.gluon import nn

from bnlesson.core.arguments import check_finite
from bnlesson.lesson07.network import HIDDEN, mlp


# Shown in lesson 09, "1 · Noisy batch norm" (without the checks and docstring)
class NoiseLayer(nn.Block):
    r"""Shift and scale every unit by random amounts redrawn at every training step.

    In training mode (inside ``autograd.record()``) each call draws, for
    every unit :math:`j`, a shift and a scale

    .. math::

        m_j \sim U(-a, a), \qquad s_j \sim U(1, b), \qquad
        y_{ij} = s_j\, x_{ij} + m_j,

    the same for all examples :math:`i` of the batch, so the distribution of
    unit :math:`j` over the batch moves by :math:`m_j` and stretches by
    :math:`s_j`, differently at every step. In prediction mode it applies
    the average transform, :math:`y = \tfrac{1 + b}{2}\, x`.

    Parameters
    ----------
    max_shift : float
        :math:`a \ge 0`.
    max_scale : float
        :math:`b \ge 1`.

    Raises
    ------
    ValueError
        If `max_shift` or `max_scale` is not a finite number (a string, a
        bool, inf: uniform draws from an infinite range are NaN, at training
        time), or out of range.
    """

    def __init__(self, max_shift: float = 3.0, max_scale: float = 3.0, **kwargs):
        check_finite("max_shift", max_shift, "max_shift=3.0")
        check_finite("max_scale", max_scale, "max_scale=3.0")
        if not (max_shift >= 0 and max_scale >= 1):
            raise ValueError(
                f"need max_shift >= 0 and max_scale >= 1 (the scale is drawn from "
                f"U(1, max_scale)), not {max_shift!r} and {max_scale!r}"
            )
        super().__init__(**kwargs)
        self.max_shift, self.max_scale = max_shift, max_scale

    def forward(self, X):
        if X.ndim != 2:
            raise ValueError(f"NoiseLayer takes (batch, units) inputs, not {X.shape}")
        if not autograd.is_training():
            return X * (1 + self.max_scale) / 2
        size = (1, X.shape[1])
        shift = np.random.uniform(-self.max_shift, self.max_shift, size, ctx=X.ctx)
        scale = np.random.uniform(1, self.max_scale, size, ctx=X.ctx)
        return X * scale + shift


# Shown in lesson 09, "1 · Noisy batch norm" (without the checks and docstring)
class PaperNoise(nn.Block):
    r"""Santurkar et al.'s noise: per example, from a distribution redrawn every step.

    In training mode each call first draws, for every unit :math:`j`, the
    mean and the standard deviation of this step's noise distribution,

    .. math::

        \mu_j \sim U(-a, a), \qquad \sigma_j \sim U(1, b),

    shared by the whole batch, and then perturbs every example :math:`i`
    with its own draw from it:

    .. math::

        y_{ij} = x_{ij} + \varepsilon_{ij}, \qquad
        \varepsilon_{ij} \sim \mathcal{N}(\mu_j, \sigma_j^2).

    Over the batch, unit :math:`j` moves by :math:`\mu_j` (a shift shared by
    the batch, new at every step) and its variance grows by
    :math:`\sigma_j^2 \ge 1`. This is our reading of Santurkar et al.
    (2018), Section 2.1: "i.i.d. noise sampled from a non-zero mean and
    non-unit variance distribution" that "changes at each time step". In
    prediction mode the noise's average over steps, zero, is added: the
    layer is the identity.

    Parameters
    ----------
    max_mean : float
        :math:`a \ge 0`.
    max_std : float
        :math:`b \ge 1`.
    """

    def __init__(self, max_mean: float = 3.0, max_std: float = 3.0, **kwargs):
        check_finite("max_mean", max_mean, "max_mean=3.0")
        check_finite("max_std", max_std, "max_std=3.0")
        if not (max_mean >= 0 and max_std >= 1):
            raise ValueError(
                f"need max_mean >= 0 and max_std >= 1 (the noise's standard "
                f"deviation is drawn from U(1, max_std)), not {max_mean!r} and "
                f"{max_std!r}"
            )
        super().__init__(**kwargs)
        self.max_mean, self.max_std = max_mean, max_std

    def forward(self, X):
        if X.ndim != 2:
            raise ValueError(f"PaperNoise takes (batch, units) inputs, not {X.shape}")
        if not autograd.is_training():
            return X
        size = (1, X.shape[1])  # this step's distribution, one per unit
        mean = np.random.uniform(-self.max_mean, self.max_mean, size, ctx=X.ctx)
        std = np.random.uniform(1, self.max_std, size, ctx=X.ctx)
        return X + mean + std * np.random.normal(size=X.shape, ctx=X.ctx)


#: The kinds of noise :func:`noisy_mlp` can insert.
NOISES = {"paper": PaperNoise, "shared": NoiseLayer}


def noisy_mlp(
    max_shift: float = 3.0,
    max_scale: float = 3.0,
    hidden: Sequence[int] = HIDDEN,
    kind: str = "shared",
) -> nn.Sequential:
    """Return lesson 07's ``mlp("gluon")`` with noise after every batch norm.

    `kind` ``"shared"`` inserts ``NoiseLayer(max_shift, max_scale)`` (one
    shift and scale per unit for the whole batch), ``"paper"``
    ``PaperNoise(max_shift, max_scale)`` (Santurkar et al.'s: per-example
    noise of mean up to `max_shift` and standard deviation 1 to
    `max_scale`). For the default `hidden`, the layers::

        Dense(100) BN noise sigmoid   Dense(100) BN noise sigmoid
        Dense(100) BN noise sigmoid   Dense(10)
    """
    if kind not in NOISES:
        raise ValueError(f"kind must be one of {sorted(NOISES)}, not {kind!r}")
    net = nn.Sequential()
    for block in mlp("gluon", hidden):
        net.add(block)
        if isinstance(block, nn.BatchNorm):
            net.add(NOISES[kind](max_shift, max_scale))
    return net
