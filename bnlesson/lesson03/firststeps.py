r"""Lesson 03's first steps from inside: gradient norms and saturated sigmoids.

:func:`first_steps` trains a LeNet as :func:`bnlesson.lesson03.train` does
for a few steps and records, before each update, every weight layer's
gradient and weight norms and every sigmoid's saturated fraction: why the
plain network learns slowly and the batch-norm one does not.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
from mxnet.gluon import nn

from bnlesson.core.config import device_or_default
from bnlesson.training.loop import StepLog, Watcher, sgd_steps
from bnlesson.training.sgd import sgd_setup

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
