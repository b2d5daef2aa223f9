"""The run builder: every combination of settings, checked and built.

The PyTorch practice lecture compares settings with a *run builder*: list a
few values for each setting, and every combination becomes one run.
:func:`runs` builds those combinations; :func:`prepare` checks every run and
builds its network and data before :func:`bnlesson.experiments.grid.run_grid` trains
any, so that a bad value in the last run, or a setting that nothing reads,
fails at once instead of after hours of training (or, worse, as a table that
looks like a sweep of identical runs).
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import keyword
import numbers
from collections import namedtuple
from typing import Iterable, Mapping, Sequence

from mxnet.gluon import nn

from bnlesson.core import config
from bnlesson.data import Batches
from bnlesson.training.batchcheck import check_batch_pairs
from bnlesson.training.sgd import check_batches, check_lr, check_num_epochs

#: The settings run_grid reads itself; `build_net` and `data` read the others.
OWN_SETTINGS = ("lr", "num_epochs", "seed")
#: Names a setting is often given instead of one of :data:`OWN_SETTINGS`.
_ALIASES = {"learning_rate": "lr", "rate": "lr", "eta": "lr", "n_epochs": "num_epochs",
            "epoch": "num_epochs", "random_seed": "seed"}  # fmt: skip


def runs(grid: Mapping[str, Sequence]) -> list:
    """Return every combination of the grid's values, one namedtuple per run.

    The lecture's run builder: ``runs({"lr": [0.1, 1], "bn": [False, True]})``
    gives four runs, ``Run(lr=0.1, bn=False)``, ``Run(lr=0.1, bn=True)``,
    ``Run(lr=1, bn=False)``, ``Run(lr=1, bn=True)`` (the last setting varies
    fastest), whose fields read as ``run.lr`` and ``run.bn``.

    Parameters
    ----------
    grid : dict of str to list
        Setting name (a Python identifier) -> the values to try.

    Returns
    -------
    list of namedtuple ``Run``

    Raises
    ------
    ValueError
        If the grid is empty, a name is not an identifier, or a value list
        is empty or is a string (write ``["relu"]``, not ``"relu"``).
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(
            "grid must be a non-empty dict of setting name -> list of values, "
            f"e.g. {{'lr': [0.1, 1.0]}}, not {grid!r}"
        )
    lists = {}
    for name, values in grid.items():
        if (
            not isinstance(name, str)
            or not name.isidentifier()
            or keyword.iskeyword(name)
        ):
            raise ValueError(f"setting names must be Python identifiers, not {name!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(
                f"grid[{name!r}] must be a list of values; wrap a single value "
                f"in a list: [{values!r}]"
            )
        lists[name] = list(values)  # also accepts a range or a generator, once
        if not lists[name]:
            raise ValueError(f"grid[{name!r}] is empty: give at least one value")
    Run = namedtuple("Run", list(lists))
    return [Run(*values) for values in itertools.product(*lists.values())]


def label(run) -> str:
    """Return a run's settings as ``"name=value, ..."``, e.g. ``"lr=0.1, bn=True"``."""
    return ", ".join(f"{name}={value}" for name, value in run._asdict().items())


def _fresh(iterable, seed: int | None = None):
    # A Batches with its own seed counts its epochs to reshuffle differently
    # each time; a copy (sharing the arrays) starts again at epoch 0, so every
    # run sees the same order of examples whatever ran before it. (Without a
    # seed it shuffles from NumPy's global generator, which run_grid seeds.)
    if not isinstance(iterable, Batches):
        return iterable
    if seed is not None and iterable.shuffle:
        return dataclasses.replace(iterable, seed=seed)
    return dataclasses.replace(iterable)


def _data_for(data_source, run) -> tuple:
    if callable(data_source):
        pair = data_source(run)
    else:
        pair = data_source
    try:
        train_iter, test_iter = pair
    except (TypeError, ValueError):
        raise ValueError(
            "data must be a (train_iter, test_iter) pair, or a function of the "
            f"run returning one; got {type(pair).__name__}"
        ) from None
    seed = getattr(run, "seed", None)
    return _fresh(train_iter, seed), _fresh(test_iter, seed)


def _setting(run, name: str, default):
    value = getattr(run, name, default)
    if value is None:
        raise ValueError(
            f"give {name} either as an argument of run_grid or as a setting "
            f"in the grid, e.g. grid={{'{name}': [...]}}"
        )
    return value


@dataclasses.dataclass
class Job:
    """One run, checked and built: what training it needs."""

    run: tuple
    net: nn.Block
    train_iter: Iterable
    test_iter: Iterable
    num_epochs: int
    lr: float
    seed: int


class _Reads:
    """A run that notes which of its settings are read (by build_net and data)."""

    def __init__(self, run):
        self._run, self._read = run, set()

    def __getattr__(self, name: str):
        if name in self._run._fields:
            self._read.add(name)
        elif name.startswith("_"):  # _asdict, _fields, ...: the whole run
            self._read.update(self._run._fields)
        return getattr(self._run, name)

    def __iter__(self):
        self._read.update(self._run._fields)
        return iter(self._run)

    def __getitem__(self, index):
        self._read.update(self._run._fields)
        return self._run[index]

    def __len__(self) -> int:
        return len(self._run)

    def __repr__(self) -> str:
        return repr(self._run)


def _check_seed(value) -> None:
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not whole or not 0 <= value < 2**32:
        raise ValueError(
            f"seed must be a whole number from 0 to 2**32 - 1, not {value!r}"
        )


def prepare(plan, build_net, data, num_epochs, lr, seed, hybridize) -> list:
    """Check every run's settings and build its net and data, before any training.

    For each run of `plan` (from :func:`runs`): its ``lr``, ``num_epochs``
    and ``seed`` (grid setting, else the argument) must be valid; with the
    generators seeded, ``build_net(run)`` builds its network (hybridized if
    `hybridize` and it can be) and `data` (a pair, or ``data(run)``) gives
    its data, which must be re-iterable, not empty, and batches that
    training can use (:func:`bnlesson.training.batchcheck.check_batch_pairs`: MXNet
    arrays, one label per example, labels in [0, 10), test examples of the
    training examples' shape). `build_net` and `data` receive a stand-in
    for the run that notes the settings they read; a setting no run reads
    (other than ``lr``, ``num_epochs`` and ``seed``, which the caller reads)
    is refused.

    Returns
    -------
    list of Job
        One per run, in order.

    Raises
    ------
    ValueError
        For the first bad value (with the run's number and settings in front
        of the message, as for a ``ValueError`` or ``TypeError`` that
        `build_net` or `data` raises) or setting that nothing reads.
    """
    jobs, read = [], set()
    for number, run in enumerate(plan, start=1):
        epochs, rate = _setting(run, "num_epochs", num_epochs), _setting(run, "lr", lr)
        run_seed = getattr(run, "seed", seed)
        reads = _Reads(run)
        try:
            check_num_epochs(epochs)
            check_lr(rate)
            _check_seed(run_seed)
            config.set_seed(run_seed)
            net = build_net(reads)
            train_iter, test_iter = _data_for(data, reads)
            check_batches("train_iter", train_iter)
            check_batches("test_iter", test_iter)
            # What train would refuse only when this run's turn comes.
            check_batch_pairs(train_iter, test_iter)
        except (ValueError, TypeError) as err:
            raise type(err)(f"run {number}/{len(plan)} ({label(run)}): {err}") from err
        if hybridize and isinstance(net, nn.HybridBlock):
            net.hybridize()
        jobs.append(Job(run, net, train_iter, test_iter, epochs, rate, run_seed))
        read |= reads._read
    unread = [n for n in plan[0]._fields if n not in read and n not in OWN_SETTINGS]
    if unread:
        raise ValueError(_unread(unread, read))
    return jobs


def _unread(unread: list, read: set) -> str:
    names = ", ".join(repr(n) for n in unread)
    guess = _ALIASES.get(unread[0]) or next(
        iter(difflib.get_close_matches(unread[0], OWN_SETTINGS, n=1)), None
    )
    return (
        f"grid setting{'s' if len(unread) > 1 else ''} {names} "
        f"{'are' if len(unread) > 1 else 'is'} never read: neither build_net nor "
        f"data reads it from the run, so its values would all train the same "
        f"network{f' (did you mean {guess!r}?)' if guess else ''}. Rename it, or "
        f"read run.{unread[0]} in build_net or data. The accepted settings: lr, "
        f"num_epochs, seed (read by run_grid) and those that build_net or data "
        f"read (here: {', '.join(sorted(read)) or 'none'})."
    )
