r"""The training loop of the runs no lesson shows, and the record of what they watch.

Lesson 03 shows its epoch loop (:func:`bnlesson.lesson03.train`) and lesson
07 its recording loop (:func:`bnlesson.lesson07.train_recording`); those
stay as the notebooks show them. The package's other runs, which follow
training step by step (:func:`bnlesson.lesson03.first_steps`, lesson 09's
:func:`~bnlesson.lesson09.runs.train_watching` and
:func:`~bnlesson.lesson09.runs.train_early`), differ only in what they watch,
so they share :func:`sgd_steps`: each step takes the next mini-batch
:math:`B` and updates every weight by

.. math:: w \leftarrow w - \frac{\eta}{|B|} \sum_{i \in B} \nabla_w \ell_i

(or, for a mean loss, :math:`w \leftarrow w - \eta \nabla_w \bar\ell`), with
a :class:`Watcher`'s hooks before the step, between the gradient and the
update, and after it; the loss is checked by
:func:`bnlesson.training.divergence.check`. What the watchers see goes into
one :class:`StepLog`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Container, Iterable, Iterator

import numpy as onp
import pandas as pd
from mxnet import autograd

from bnlesson.training import divergence


def endless(batches: Iterable) -> Iterator:
    """The batches of `batches`, epoch after epoch, without end.

    `batches` is iterated again for every epoch (a :class:`bnlesson.data.Batches`
    reshuffles then), so it must be iterable more than once.
    """
    return itertools.chain.from_iterable(itertools.repeat(batches))


class Watcher:
    """What a run of :func:`sgd_steps` watches: override the hooks it needs.

    Steps are numbered from 1; at ``before(step)`` the net has taken
    ``step - 1`` steps. `loss` is the array the gradient was taken of.
    """

    def before(self, step: int) -> None:
        """Before step `step` runs its batch through the net."""

    def before_update(self, step: int, loss) -> None:
        """After the gradients of step `step`, before the weights change."""

    def after(self, step: int, loss) -> None:
        """After the update of step `step` (and its divergence check)."""

    def so_far(self):
        """What the run recorded so far, for a divergence error (None: nothing)."""
        return None


def sgd_steps(
    net,
    batches: Iterator,
    num_steps: int,
    trainer,
    loss: Callable,
    device,
    *,
    watcher: Watcher | None = None,
    forward: Callable | None = None,
    mean: bool = False,
    check_at: Container[int] | None = None,
) -> int:
    """Take up to `num_steps` SGD steps on the next batches of `batches`.

    Parameters
    ----------
    net : mxnet.gluon.Block
        The network, initialized (e.g. by
        :func:`bnlesson.training.sgd.sgd_setup`, which gives `trainer`, `loss`).
    batches : iterator of (X, y)
        One pass (the run stops early when it ends) or :func:`endless`.
    num_steps : int
        At most this many steps.
    trainer : mxnet.gluon.Trainer
        Its learning rate names the rate in a divergence error.
    loss : callable
        ``loss(scores, y)``, one value per example.
    device : mxnet.Context
        Where the batches go.
    watcher : Watcher, optional
        Its hooks run at every step.
    forward : callable, optional
        ``forward(X)`` gives the scores instead of ``net(X)``, e.g. to keep
        the outputs of inner layers.
    mean : bool
        Take the gradient of the mean loss and update with ``step(1)``,
        instead of the summed loss and ``step(batch size)``.
    check_at : container of int, optional
        The steps after which the loss is checked (None: every step).

    Returns
    -------
    int
        The steps taken.

    Raises
    ------
    bnlesson.training.divergence.TrainingDiverged
        If the loss of a checked step is not finite; its ``step`` says which
        and its ``history`` is ``watcher.so_far()``.
    """
    watcher = Watcher() if watcher is None else watcher
    forward = net if forward is None else forward
    step = 0
    for step, batch in enumerate(itertools.islice(batches, num_steps), start=1):
        watcher.before(step)
        X, y = (a.as_in_ctx(device) for a in batch)
        with autograd.record():
            l = loss(forward(X), y)
            if mean:
                l = l.mean()
        l.backward()
        watcher.before_update(step, l)
        trainer.step(1 if mean else X.shape[0])
        if check_at is None or step in check_at:
            lr = trainer.learning_rate
            divergence.check(
                l.mean().item(), lr, step=step, history=watcher.so_far, net=net
            )
        watcher.after(step, l)
    return step


@dataclass
class StepLog:
    """What a run watched: values by name, each at the steps it was taken.

    Attributes
    ----------
    entries : dict
        ``entries[key][step]`` is the value `key` had at `step`.
    """

    entries: dict = field(default_factory=dict)

    def add(self, key: str, step: int, value) -> None:
        """Log `value` of `key` at `step`."""
        self.entries.setdefault(key, {})[step] = value

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def steps(self, key: str) -> onp.ndarray:
        """The steps at which `key` was logged, in order (int)."""
        return onp.array(list(self.entries.get(key, {})), dtype=int)

    def values(self, key: str, at=None) -> list:
        """The values of `key`, in the order of :meth:`steps` (or at the steps `at`)."""
        logged = self.entries.get(key, {})
        return list(logged.values()) if at is None else [logged[s] for s in at]

    def array(self, key: str) -> onp.ndarray:
        """:meth:`values` of `key` stacked into one array."""
        return onp.array(self.values(key))

    def frame(self, key: str, columns) -> pd.DataFrame:
        """One row per logged step of `key` (index ``step``), one column per name.

        Each value of `key` is a row of `columns`. The index is a
        ``RangeIndex`` when `key` was logged at every step, 1, 2, ..., n.
        """
        steps = self.steps(key)
        every_step = onp.array_equal(steps, onp.arange(1, len(steps) + 1))
        index = (
            pd.RangeIndex(1, len(steps) + 1, name="step")
            if every_step
            else pd.Index(steps, name="step")
        )
        return pd.DataFrame(self.values(key), index=index, columns=columns)
