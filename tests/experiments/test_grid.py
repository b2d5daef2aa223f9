"""run_grid, on tiny nets and small slices of real data."""

import math

import pytest
from mxnet import npx
from mxnet.gluon import nn

from bnlesson import data
from bnlesson.experiments.grid import RESULT_COLUMNS, run_grid
from bnlesson.experiments.runplan import label
from bnlesson.training.history import History

N_TRAIN, N_TEST = 256, 128


@pytest.fixture(scope="module")
def arrays():
    npx.set_np()
    X, y = data.load_arrays("test")
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN : N_TRAIN + N_TEST], y[N_TRAIN:][:N_TEST]


@pytest.fixture
def iters(arrays):
    X, y, Xt, yt = arrays
    return data.Batches(X, y, 64, shuffle=True), data.Batches(Xt, yt, 128)


def dense_net(run):
    """A softmax regression, with a batch-norm layer first if run.bn."""
    net = nn.HybridSequential()
    if getattr(run, "bn", False):
        net.add(nn.BatchNorm())
    net.add(nn.Dense(10))
    return net


# --- run_grid ----------------------------------------------------------------


def test_one_row_per_run_with_settings_and_results(iters, capsys):
    table = run_grid(dense_net, {"bn": [False, True], "lr": [0.01, 0.3]}, iters, 2)
    assert len(table) == 4 and table.index.name == "run"
    assert sorted(table.index) == [1, 2, 3, 4]
    assert list(table.columns) == ["bn", "lr", *RESULT_COLUMNS]
    assert bool(table.loc[3, "bn"]) and table.loc[3, "lr"] == 0.01
    assert (table["epochs"] == 2).all() and not table["diverged"].any()
    assert table["final_test_acc"].between(0, 1).all()
    assert (table["best_test_acc"] >= table["final_test_acc"]).all()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("run 1/4 (bn=False, lr=0.01): test acc 0.")


def test_rows_are_sorted_by_final_test_accuracy(iters):
    grid = {"lr": [1e-4, 0.3, 0.03]}
    table = run_grid(dense_net, grid, iters, 1, verbose=False)
    acc = table["final_test_acc"].tolist()
    assert acc == sorted(acc, reverse=True)
    # the index keeps each run's number in grid order, whatever the sort did
    assert sorted(table.index) == [1, 2, 3]
    assert [table.loc[i, "lr"] for i in (1, 2, 3)] == grid["lr"]


def test_histories_are_kept_per_run(iters):
    table = run_grid(dense_net, {"lr": [0.1, 0.3]}, iters, 2, verbose=False)
    histories = table.attrs["histories"]
    assert set(histories) == {1, 2}
    assert all(isinstance(h, History) for h in histories.values())
    assert histories[2].name == "lr=0.3" and histories[2].lr == 0.3
    assert histories[2].final_test_acc == table.loc[2, "final_test_acc"]


def test_a_run_does_not_depend_on_the_runs_before_it(iters):
    both = run_grid(dense_net, {"lr": [0.3, 0.1]}, iters, 2, verbose=False)
    alone = run_grid(dense_net, {"lr": [0.1]}, iters, 2, verbose=False)
    # same seed and same shuffles: bit-identical on a CPU
    assert both.loc[2, "final_test_acc"] == alone.loc[1, "final_test_acc"]
    assert both.loc[2, "final_loss"] == alone.loc[1, "final_loss"]


def test_diverged_run_is_a_row_not_a_crash(iters, capsys):
    table = run_grid(dense_net, {"lr": [0.1, 1e36]}, iters, 2)
    assert list(table.index) == [1, 2], "the diverged run sorts last"
    failed = table.loc[2]
    assert failed["diverged"] and failed["epochs"] == 0
    assert math.isnan(failed["final_test_acc"]) and math.isnan(failed["final_loss"])
    assert not table.loc[1, "diverged"] and table.loc[1, "epochs"] == 2
    out = capsys.readouterr().out
    assert "run 2/2 (lr=1e+36): diverged in epoch 1 (loss not finite)" in out


def test_lr_and_epochs_can_be_settings_and_data_a_function_of_the_run(arrays):
    X, y, Xt, yt = arrays
    seen = []

    def make_data(run):
        seen.append(run.batch_size)
        return data.Batches(X, y, run.batch_size, shuffle=True), data.Batches(
            Xt, yt, 128
        )

    grid = {"batch_size": [32, 128], "lr": [0.2], "num_epochs": [1, 2]}
    table = run_grid(dense_net, grid, make_data, verbose=False)
    assert seen == [32, 32, 128, 128]
    assert sorted(table["epochs"]) == [1, 1, 2, 2]
    assert (table["lr"] == 0.2).all()


def test_missing_lr_or_epochs_is_explained(iters):
    with pytest.raises(ValueError, match="give lr either as an argument"):
        run_grid(dense_net, {"bn": [True]}, iters, 1, verbose=False)
    with pytest.raises(ValueError, match="give num_epochs either"):
        run_grid(dense_net, {"bn": [True]}, iters, lr=0.1, verbose=False)
    with pytest.raises(ValueError, match=r"\(train_iter, test_iter\) pair"):
        run_grid(dense_net, {"bn": [True]}, iters[0], 1, 0.1, verbose=False)


def test_seed_setting_repeats_a_run_with_other_initializations(iters):
    table = run_grid(dense_net, {"seed": [0, 1, 0]}, iters, 1, 0.3, verbose=False)
    acc = table["final_loss"].sort_index().tolist()
    assert acc[0] == acc[2] and acc[0] != acc[1]
    assert list(table.columns[:1]) == ["seed"]


def test_measure_adds_columns_and_can_sort(iters):
    calls = []

    def measure(net, train_iter, test_iter):
        calls.append(type(net).__name__)
        return {"score": -len(calls)}

    grid = {"lr": [0.1, 0.3, 1e36]}
    table = run_grid(
        dense_net, grid, iters, 1, measure=measure, sort_by="score", verbose=False
    )
    assert calls == ["HybridSequential"] * 2, "not called for the diverged run"
    assert list(table.index) == [1, 2, 3] and list(table["score"][:2]) == [-1, -2]
    assert math.isnan(table.loc[3, "score"])
    with pytest.raises(ValueError, match="sort_by must be one of"):
        run_grid(dense_net, grid, iters, 1, sort_by="accuracy", verbose=False)


# --- settings are checked before anything trains (issue: silent sweeps) ------


@pytest.fixture
def counting(monkeypatch):
    """Counts the training runs run_grid starts."""
    from bnlesson.experiments import grid

    calls = []
    real = grid.train

    def counted(*args, **kwargs):
        calls.append(kwargs.get("name"))
        return real(*args, **kwargs)

    monkeypatch.setattr(grid, "train", counted)
    return calls


def test_a_setting_nothing_reads_is_refused_before_training(iters, counting, capsys):
    with pytest.raises(ValueError) as err:
        run_grid(dense_net, {"learning_rate": [0.01, 10.0]}, iters, 1, 0.1)
    message = str(err.value)
    assert "grid setting 'learning_rate' is never read" in message
    assert "did you mean 'lr'?" in message
    assert "accepted settings: lr, num_epochs, seed" in message
    assert counting == [] and capsys.readouterr().out == ""


def test_settings_read_by_build_net_or_data_are_accepted(arrays, counting):
    X, y, Xt, yt = arrays

    def make_data(run):
        return data.Batches(X, y, run.batch_size), data.Batches(Xt, yt, 128)

    grid = {"bn": [True], "batch_size": [64], "tag": ["a"]}
    with pytest.raises(ValueError, match=r"'tag' is never read.*here: batch_size, bn"):
        run_grid(dense_net, grid, make_data, 1, 0.1, verbose=False)
    # a builder that reads the whole run (label, _asdict) reads every setting
    table = run_grid(lambda run: dense_net(run) if label(run) else None, grid,
                     make_data, 1, 0.1, verbose=False)  # fmt: skip
    assert table.loc[1, "tag"] == "a" and len(counting) == 1


@pytest.mark.parametrize("name", ["diverged", "final_test_acc", "epochs", "run"])
def test_a_setting_named_like_a_result_column_is_refused(iters, counting, name):
    with pytest.raises(ValueError) as err:
        run_grid(lambda run: dense_net(run) if getattr(run, name) else None,
                 {name: [1]}, iters, 1, 0.1, verbose=False)  # fmt: skip
    message = str(err.value)
    assert f"grid setting {name!r} has the name of a result column" in message
    assert "final_test_acc, best_test_acc" in message and counting == []


@pytest.mark.parametrize(
    "grid, match",
    [
        ({"lr": [0.1, -1.0]}, r"lr must be a positive float32 number, not -1.0"),
        ({"num_epochs": [1, 0]}, r"num_epochs must be a whole number of at least 1"),
        ({"num_epochs": [1, 1.5]}, r"num_epochs must be a whole number"),
        ({"seed": [0, -1]}, r"seed must be a whole number from 0 to 2\*\*32 - 1"),
        ({"width": [10, 0]}, r"run 2/2 \(width=0\): a Dense layer needs"),
        # a bool is not taken as 1; a string is named as one (its label hides it)
        (
            {"lr": [0.1, True]},
            r"run 2/2 \(lr=True\): lr must be a number, not True \(a bool, which "
            r"Python would take as 1\)",
        ),
        (
            {"lr": [0.1, "0.1"]},
            r"run 2/2 \(lr=0.1\): lr must be a number, not the string '0.1': write "
            r"the number without quotes",
        ),
    ],
)
def test_every_run_is_checked_before_the_first_trains(iters, counting, grid, match):
    def build(run):
        if getattr(run, "width", 10) == 0:
            raise ValueError("a Dense layer needs at least one unit")
        return dense_net(run)

    kwargs = {"num_epochs": 1, "lr": 0.1}
    kwargs = {k: v for k, v in kwargs.items() if k not in grid}
    with pytest.raises(ValueError, match=match):
        run_grid(build, grid, iters, verbose=False, **kwargs)
    assert counting == [], "nothing trained"


def test_bad_labels_of_a_later_run_are_refused_before_the_first_trains(
    arrays, counting
):
    X, y, Xt, yt = arrays

    def make_data(run):  # run 2's labels are counted from 1
        return data.Batches(X, y + run.shift, 64), data.Batches(Xt, yt, 128)

    with pytest.raises(ValueError) as err:
        run_grid(dense_net, {"shift": [0, 1]}, make_data, 1, 0.1, verbose=False)
    assert str(err.value).startswith(
        "run 2/2 (shift=1): train_iter's labels must be class numbers from 0 to 9 "
        "(there are 10 classes), but they include 10"
    )
    assert counting == [], "nothing trained"


class FailsInTraining(nn.Block):
    """Fails as a run might on a real machine, e.g. out of memory."""

    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(10)

    def forward(self, X):
        raise RuntimeError("out of memory (simulated)")


def test_finished_rows_survive_a_run_that_fails(iters, capsys):
    from bnlesson.experiments.grid import RunFailed

    def build(run):
        return FailsInTraining() if run.fail else dense_net(run)

    grid = {"fail": [False, False, True, False], "lr": [0.1]}
    with pytest.raises(RunFailed) as err:
        run_grid(build, grid, iters, 1)
    assert isinstance(err.value.__cause__, RuntimeError)
    message = str(err.value)
    assert message.startswith(
        "run 3/4 (fail=True, lr=0.1) failed with RuntimeError: out of memory"
    )
    assert "the 2 runs that finished are in this error's .table" in message
    table = err.value.table
    assert list(table.index) == [1, 2] and not table["fail"].any()
    assert list(table.columns) == ["fail", "lr", *RESULT_COLUMNS]
    assert set(table.attrs["histories"]) == {1, 2}
    assert (err.value.run, err.value.settings.fail) == (3, True)
    assert len(capsys.readouterr().out.splitlines()) == 2, "two runs reported"


class InterruptedInTraining(nn.Block):
    """Stopped as a lecturer stops a cell: Ctrl-C, Jupyter's "Interrupt kernel"."""

    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(10)

    def forward(self, X):
        raise KeyboardInterrupt


def test_an_interrupt_keeps_the_finished_rows_and_says_where(
    iters, capsys, monkeypatch
):
    from bnlesson.experiments import grid

    monkeypatch.setattr(grid, "interrupted_table", None)

    def build(run):
        return InterruptedInTraining() if run.stop else dense_net(run)

    settings = {"stop": [False, False, True, False], "lr": [0.1]}
    with pytest.raises(KeyboardInterrupt) as err:  # re-raised, not swallowed
        run_grid(build, settings, iters, 1)
    table = grid.interrupted_table
    assert list(table.index) == [1, 2] and not table["stop"].any()
    assert list(table.columns) == ["stop", "lr", *RESULT_COLUMNS]
    assert set(table.attrs["histories"]) == {1, 2}
    assert err.value.table is table
    out, said = capsys.readouterr()
    assert len(out.splitlines()) == 2, "two runs reported"
    assert said == (
        "run_grid interrupted in run 3/4: the 2 runs that finished are kept in "
        "bnlesson.experiments.grid.interrupted_table (read it with "
        "`from bnlesson.experiments.grid import interrupted_table`)\n"
    )


def test_measure_columns_may_not_overwrite_the_table(iters):
    from bnlesson.experiments.grid import RunFailed

    with pytest.raises(RunFailed) as err:
        run_grid(dense_net, {"lr": [0.1]}, iters, 1,
                 measure=lambda *a: {"epochs": 7}, verbose=False)  # fmt: skip
    assert "measure returned 'epochs', a column run_grid already fills" in str(
        err.value.__cause__
    )
