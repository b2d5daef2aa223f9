r"""Grids of training runs, one table row per run.

:func:`run_grid` trains one network per combination of settings
(:func:`bnlesson.experiments.runplan.runs`) with :func:`bnlesson.lesson03.train` and
collects a pandas table::

    grid = {"norm": ["none", "gluon"], "lr": [0.1, 1.0]}
    table = run_grid(lambda run: lenet(run.norm), grid, (train_iter, test_iter),
                     num_epochs=3)

Every run starts from the same seed and the same data order, so a row does
not depend on which runs came before it, and one run re-run alone gives the
same numbers. A ``seed`` setting in the grid repeats runs with different
initializations and data orders, to see how much a result varies by chance.
A run whose loss becomes NaN (:class:`TrainingDiverged`, e.g. a learning
rate far too large) is a row marked ``diverged``, not a crash. Every setting
is checked before the first run trains (:func:`bnlesson.experiments.runplan.prepare`); a
run that fails for another reason raises :class:`RunFailed`, which keeps the
rows of the runs that finished.

Every setting must be used: ``run.lr``, ``run.num_epochs`` and ``run.seed``
by run_grid itself (else its arguments `lr`, `num_epochs` and `seed`), any
other by `build_net` or `data`, which receive a stand-in for the run that
reads like it (``run.norm``, ``label(run)``) and notes which settings are
read: a setting neither reads, e.g. a misspelt ``learning_rate``, would
train the same network again and again. A ``seed`` setting also reseeds the
shuffling of a :class:`bnlesson.data.Batches` training set, which is copied
per run so that each run sees the same shuffles.

The table is indexed by ``run`` (1, 2, ... in grid order), with one column
per setting, then :data:`RESULT_COLUMNS`: ``final_test_acc``,
``best_test_acc``, ``final_train_acc`` (training mode, during the last
epoch), ``final_loss``, ``sec_per_epoch`` (median training seconds),
``epochs`` (completed), ``diverged``, and the columns of `measure` (NaN for
diverged runs). Diverged runs (NaN accuracy) sort last.
``table.attrs["histories"]`` maps each run number to its
:class:`bnlesson.training.history.History` (named by
:func:`bnlesson.experiments.runplan.label`).
"""

from __future__ import annotations

import math
import sys
from typing import Callable, Mapping, Sequence

import pandas as pd

from bnlesson.core import config
from bnlesson.experiments.runplan import Job, label, prepare, runs
from bnlesson.lesson03 import train
from bnlesson.training.divergence import TrainingDiverged
from bnlesson.training.history import History

#: Result columns of :func:`run_grid`, after the settings' columns.
RESULT_COLUMNS = (
    "final_test_acc",
    "best_test_acc",
    "final_train_acc",
    "final_loss",
    "sec_per_epoch",
    "epochs",
    "diverged",
)


#: After an interrupted :func:`run_grid` (Ctrl-C, Jupyter's "Interrupt
#: kernel"): the rows of the runs that finished before it, as run_grid would
#: have returned them; None until then. Each interrupt replaces it.
interrupted_table: pd.DataFrame | None = None


class RunFailed(RuntimeError):
    """A run of :func:`run_grid` failed for a reason other than divergence.

    The exception that stopped it is ``__cause__``; nothing that finished is
    lost.

    Attributes
    ----------
    table : pandas.DataFrame
        The runs that finished before it, as :func:`run_grid` returns them.
    run : int
        The failed run's number (from 1).
    settings : namedtuple
        Its settings, e.g. ``err.settings.lr``.
    """

    def __init__(self, message: str, table: pd.DataFrame, run: int, settings):
        super().__init__(message)
        self.table, self.run, self.settings = table, run, settings


def _row(run, history: History, diverged: bool) -> dict:
    # A diverged run has no final values (its last epoch ended with a NaN
    # loss); its best accuracy is that of the epochs completed before.
    done = bool(history.loss) and not diverged
    return {
        **run._asdict(),
        "final_test_acc": history.test_acc[-1] if done else math.nan,
        "best_test_acc": history.best_test_acc,
        "final_train_acc": history.train_acc[-1] if done else math.nan,
        "final_loss": history.loss[-1] if done else math.nan,
        "sec_per_epoch": history.sec_per_epoch,
        "epochs": len(history.loss),
        "diverged": diverged,
    }


def _progress(number: int, total: int, run, row: dict, err=None) -> str:
    head = f"run {number}/{total} ({label(run)}):"
    if err is not None:
        return f"{head} diverged in epoch {err.epoch} (loss not finite)"
    return (
        f"{head} test acc {row['final_test_acc']:.3f} "
        f"(best {row['best_test_acc']:.3f}), {row['sec_per_epoch']:.1f} s/epoch"
    )


def run_grid(
    build_net: Callable, grid: Mapping[str, Sequence], data: tuple | Callable,
    num_epochs: int | None = None, lr: float | None = None, *, seed: int = 0,
    device=None, hybridize: bool = True, measure: Callable | None = None,
    sort_by: str = "final_test_acc", verbose: bool = True,
) -> pd.DataFrame:  # fmt: skip
    r"""Train one network per combination of settings; return one row per run.

    Every run of :func:`bnlesson.experiments.runplan.runs` (`grid`) is first checked and
    built (its ``lr``, ``num_epochs``, ``seed``, network and data), so that a
    bad setting fails before anything trains, and must use every setting
    (see the module docstring). Then, in order, each run seeds every
    generator, is trained with :func:`bnlesson.lesson03.train` and becomes a row.

    Parameters
    ----------
    build_net : callable
        ``build_net(run) -> net``, e.g. ``lambda run: lenet(run.norm)``.
    grid : dict of str to list
        The settings and their values.
    data : (train_iter, test_iter) or callable
        The data of every run, or ``data(run) -> (train_iter, test_iter)``.
    num_epochs, lr, seed : optional
        For every run, unless the grid has that setting.
    hybridize : bool
        Hybridize networks that can be: same numbers, less Python per step.
    measure : callable, optional
        ``measure(net, train_iter, test_iter) -> dict`` after each run that
        did not diverge; its items become extra columns.
    sort_by : str
        The column to sort by, largest first.
    verbose : bool
        Print one line per run, e.g.
        ``run 2/4 (norm=gluon, lr=0.1): test acc 0.812 (best 0.812), 2.1 s/epoch``.

    Returns
    -------
    table : pandas.DataFrame
        One row per run, described in the module docstring.

    Raises
    ------
    ValueError
        Before any training, for a bad grid or setting (an ``lr`` that is a
        string or a bool too), a run whose `build_net` or `data` raises
        ``ValueError`` (the message names it), or whose data training
        cannot use (:func:`bnlesson.training.batchcheck.check_batch_pairs`: labels out
        of [0, 10), test images of another shape...).
    RunFailed
        When a run fails for a reason other than divergence (which makes a
        ``diverged`` row), with the finished rows in ``err.table``.
    KeyboardInterrupt
        Re-raised when interrupted (Ctrl-C, Jupyter's "Interrupt kernel"),
        after keeping the finished rows in
        ``bnlesson.experiments.grid.interrupted_table``
        and in the exception's ``.table``, and printing one line (to stderr)
        that says so.
    """
    plan = runs(grid)
    _check_names(plan[0]._fields)
    known = (*plan[0]._fields, *RESULT_COLUMNS)
    if measure is None and sort_by not in known:
        raise ValueError(f"sort_by must be one of {known}, not {sort_by!r}")
    jobs = prepare(plan, build_net, data, num_epochs, lr, seed, hybridize)
    return _run_jobs(jobs, device, measure, sort_by, known, verbose)


def _run_jobs(jobs: list, device, measure, sort_by: str, known, verbose: bool):
    """Train every job in order; the table, or RunFailed with what finished.

    An interrupt (``KeyboardInterrupt`` is not an ``Exception``) keeps what
    finished too (:func:`_keep_interrupted`), then goes on up.
    """
    rows, histories, number = [], {}, 0
    try:
        for number, job in enumerate(jobs, start=1):
            try:
                history, err = _train_job(job, device)
                row = _row(job.run, history, err is not None)
                if measure is not None and err is None:
                    row.update(
                        _measured(measure(job.net, job.train_iter, job.test_iter), row)
                    )
            except Exception as failure:
                table = _table(rows, histories, sort_by, known)
                raise RunFailed(_failed(number, len(jobs), job.run, failure, len(rows)),
                                table, number, job.run) from failure  # fmt: skip
            rows.append(row)
            histories[number] = history
            if verbose:
                print(_progress(number, len(jobs), job.run, row, err), flush=True)
    except KeyboardInterrupt as interrupt:
        _keep_interrupted(interrupt, _table(rows, histories, sort_by, known), number,
                          len(jobs))  # fmt: skip
        raise
    return _table(rows, histories, sort_by, known)


def _keep_interrupted(interrupt: KeyboardInterrupt, table, number: int, total: int):
    """Keep the finished rows where the user can read them, and say where."""
    global interrupted_table
    interrupted_table = table
    interrupt.table = table  # for `except KeyboardInterrupt as err: err.table`
    done = len(table)
    kept = {0: "no run had finished; the empty table is"}.get(
        done, f"the {done} run{'s' if done > 1 else ''} that finished "
        f"{'are' if done > 1 else 'is'} kept"
    )  # fmt: skip
    print(
        f"run_grid interrupted in run {number}/{total}: {kept} in "
        "bnlesson.experiments.grid.interrupted_table (read it with "
        "`from bnlesson.experiments.grid import interrupted_table`)",
        file=sys.stderr, flush=True,
    )  # fmt: skip


def _check_names(fields: Sequence[str]) -> None:
    for name in fields:
        if name in RESULT_COLUMNS or name == "run":
            raise ValueError(
                f"grid setting {name!r} has the name of a result column, which "
                f"would overwrite it in the table: rename it. The columns "
                f"run_grid adds: {', '.join(RESULT_COLUMNS)} (and the index, run)."
            )


def _train_job(job: Job, device) -> tuple:
    """Train one run: ``(history, None)``, or ``(history so far, TrainingDiverged)``."""
    config.set_seed(job.seed)
    try:
        history = train(
            job.net, job.train_iter, job.test_iter, job.num_epochs, job.lr, device,
            verbose=False, plot=False, name=label(job.run),
        )  # fmt: skip
    except TrainingDiverged as diverged:
        return diverged.history, diverged
    return history, None


def _measured(values: Mapping, row: dict) -> Mapping:
    for key in values:
        if key in row:
            raise ValueError(
                f"measure returned {key!r}, a column run_grid already fills (a "
                f"setting or a result): give it another name"
            )
    return values


def _failed(number: int, total: int, run, failure: Exception, done: int) -> str:
    return (
        f"run {number}/{total} ({label(run)}) failed with "
        f"{type(failure).__name__}: {failure}\nNothing is lost: the {done} "
        f"{'run that finished is' if done == 1 else 'runs that finished are'} "
        f"in this error's .table (catch it: `except RunFailed "
        f"as err: table = err.table`). Fix the cause, then run the remaining "
        f"settings."
    )


def _table(rows: list, histories: dict, sort_by: str, columns) -> pd.DataFrame:
    index = pd.RangeIndex(1, len(rows) + 1, name="run")
    table = pd.DataFrame(rows, index=index, columns=None if rows else list(columns))
    if sort_by in table.columns:
        # A stable sort keeps grid order among equal accuracies.
        table = table.sort_values(
            sort_by, ascending=False, na_position="last", kind="mergesort"
        )
    table.attrs["histories"] = histories
    return table
