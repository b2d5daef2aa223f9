"""bnlesson.data's own code: the arrays of a split, the Batches that serve
them, the loader's arguments and the command line. (Finding and verifying
the files: test_files.py; downloading: test_mirrors.py; the subsets:
test_subsets.py.)"""

import re

import numpy as onp
import pytest

from bnlesson import data

# --- arrays and batches --------------------------------------------------------


def test_arrays_are_nchw_float_in_unit_range():
    X, y = data.load_arrays("test")
    assert X.shape == (10000, 1, 28, 28) and X.dtype == onp.float32
    assert y.shape == (10000,) and y.dtype == onp.int32
    assert X.min() == 0.0 and X.max() == 1.0
    assert onp.bincount(y).tolist() == [1000] * 10
    assert data.text_labels(y[:3]) == ["ankle boot", "pullover", "trouser"]


def test_split_name_is_checked():
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_arrays("validation")


def _epoch(it):
    return onp.concatenate([yb.asnumpy() for _, yb in it]).tolist()


def test_every_example_once_per_epoch_reshuffled():
    X = onp.arange(10, dtype=onp.float32).reshape(10, 1, 1, 1)
    it = data.Batches(X, onp.arange(10, dtype=onp.int32), batch_size=4, shuffle=True)
    assert len(it) == 3
    epochs = []
    for _ in range(2):
        batches = list(it)
        assert [len(yb) for _, yb in batches] == [4, 4, 2]
        seen = onp.concatenate([yb.asnumpy() for _, yb in batches])
        assert sorted(seen.tolist()) == list(range(10))
        for Xb, yb in batches:
            assert (Xb.asnumpy().ravel() == yb.asnumpy()).all(), "X and y stay paired"
            assert Xb.dtype == onp.float32 and yb.dtype == onp.int32
        epochs.append(seen.tolist())
    assert epochs[0] != epochs[1]


def test_set_seed_fixes_the_order_even_for_a_shared_iterator():
    from bnlesson.core.config import set_seed

    it = data.Batches(onp.zeros((50, 1)), onp.arange(50), batch_size=8, shuffle=True)
    set_seed(0)
    first_run = [_epoch(it), _epoch(it)]
    set_seed(0)
    assert [_epoch(it), _epoch(it)] == first_run, "a second run sees the same batches"
    assert first_run[0] != first_run[1]


def test_explicit_seed_ignores_the_global_generator():
    make = lambda: data.Batches(onp.zeros((50, 1)), onp.arange(50), 8, True, seed=3)  # noqa: E731
    a, b = make(), make()
    onp.random.seed(1)  # noqa: NPY002 - the global generator is the point
    first = _epoch(a)
    onp.random.seed(2)  # noqa: NPY002
    assert _epoch(b) == first


def test_test_batches_keep_file_order():
    _, test_iter = data.load_data_fashion_mnist(1000, verbose=False, fast=False)
    X, y = next(iter(test_iter))
    assert X.shape == (1000, 1, 28, 28)
    assert y.asnumpy().tolist() == data.load_arrays("test")[1][:1000].tolist()


def test_batches_refuse_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        data.Batches(onp.zeros((2, 1)), onp.zeros(2), batch_size=0)
    with pytest.raises(ValueError, match="examples"):
        data.Batches(onp.zeros((2, 1)), onp.zeros(3), batch_size=1)


def test_a_float_batch_size_is_refused_up_front(isolated):
    message = (
        "batch_size must be a whole number of at least 1, not 256.0 (a float): "
        "write batch_size=256"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        data.Batches(onp.zeros((2, 1)), onp.zeros(2), batch_size=256.0)
    with pytest.raises(ValueError, match="not '256' \\(of type str\\)"):
        data.Batches(onp.zeros((2, 1)), onp.zeros(2), batch_size="256")
    # before looking for the data: there is none there, which is a DataError
    with pytest.raises(ValueError, match=re.escape(message)):
        data.load_data_fashion_mnist(256.0, root=isolated / "no-data")


def test_cli_reports_and_fails_clearly(isolated, capsys):
    assert data.main(["--no-download"]) == 1
    assert "Fashion-MNIST was not found" in capsys.readouterr().err
