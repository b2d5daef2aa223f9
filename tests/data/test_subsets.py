"""The class-balanced subsets of the real data the loader serves: fast mode's
fixed one, live mode's, and an explicit ``per_class`` (``bnlesson.data``)."""

import numpy as onp
import pytest
from runmode import clear_run_env, set_mode

from bnlesson import data
from bnlesson.core import sizes


@pytest.fixture(autouse=True)
def _no_mode(monkeypatch):
    """Each test starts with no run variable set, whatever the shell had."""
    clear_run_env(monkeypatch)


def test_fast_mode_subset_is_fixed_and_balanced(monkeypatch, capsys):
    monkeypatch.setenv("BNLESSON_FAST", "1")
    train, test = data.load_data_fashion_mnist(256)
    assert capsys.readouterr().out == (
        "Fashion-MNIST: 1280 training and 1000 test images "
        "(fast mode: a class-balanced subset, at most 1 epoch)\n"
    )
    assert onp.bincount(train.y).tolist() == [sizes.FAST_TRAIN_PER_CLASS] * 10
    assert onp.bincount(test.y).tolist() == [sizes.FAST_TEST_PER_CLASS] * 10
    again, _ = data.load_data_fashion_mnist(256, verbose=False)
    assert (again.X == train.X).all()
    monkeypatch.setenv("BNLESSON_FAST", "0")
    full, _ = data.load_data_fashion_mnist(256, verbose=False)
    assert full.num_examples == 60000 and len(full) == 235


# --- live mode's data: a class-balanced subset of the real files ----------

# The first ten training labels in file order: ankle boot, t-shirt, t-shirt,
# dress, t-shirt, pullover, sneaker, pullover, sandal, sandal (the files are
# verified by hash, so every machine reads these).
FIRST_TRAIN_LABELS = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]


def _first_per_class(labels, per_class):
    """The subset by a plain walk through the file: the reference."""
    seen, keep = [0] * 10, []
    for i, label in enumerate(labels.tolist()):
        if seen[label] < per_class:
            seen[label] += 1
            keep.append(i)
    return keep


def test_live_mode_uses_the_default_balanced_subset(monkeypatch, capsys):
    set_mode(monkeypatch, "live")
    train, test = data.load_data_fashion_mnist(256)
    assert capsys.readouterr().out == (
        "Fashion-MNIST: 10000 training and 3000 test images "
        "(live mode: a class-balanced subset)\n"
    )
    assert onp.bincount(train.y).tolist() == [1000] * 10
    assert onp.bincount(test.y).tolist() == [300] * 10
    assert len(train) == 40 and len(test) == 12  # ceil(10000 / 256), ceil(3000 / 256)


def test_live_subset_is_the_first_images_of_each_class(monkeypatch, capsys):
    set_mode(monkeypatch, "live")
    train, test = data.load_data_fashion_mnist(100, live_per_class=(2, 3))
    assert "20 training and 30 test images (live mode" in capsys.readouterr().out
    X_all, y_all = data.load_arrays("train")
    assert y_all[:10].tolist() == FIRST_TRAIN_LABELS
    # By hand, two per class from the first ten labels: all but image 4, the
    # third t-shirt.
    keep = _first_per_class(y_all, 2)
    assert [i for i in keep if i < 10] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert train.y[:9].tolist() == [9, 0, 0, 3, 2, 7, 2, 5, 5]
    assert (train.X == X_all[keep]).all() and train.y.tolist() == y_all[keep].tolist()
    X_t, y_t = data.load_arrays("test")
    assert test.y.tolist() == y_t[_first_per_class(y_t, 3)].tolist()
    again, _ = data.load_data_fashion_mnist(100, live_per_class=(2, 3), seed=5)
    assert (again.X == train.X).all()  # fixed, whatever the shuffling seed


def test_the_live_subset_applies_only_in_live_mode(monkeypatch):
    for mode, size in [("full", 60000), ("fast", 1280)]:
        monkeypatch.setenv("BNLESSON_MODE", mode)
        train, _ = data.load_data_fashion_mnist(
            256, verbose=False, live_per_class=(3, 2)
        )
        assert train.num_examples == size


@pytest.mark.parametrize(
    "per_class, match",
    [
        ((7000, 300), "6000 training images of each class"),
        ((1000, 1001), "1000 test images of each class"),
        ((0, 300), "at least 1"),
        ((1000, -5), "at least 1"),
        ((1000,), "two numbers"),
        ((1.5, 300), "whole numbers"),
    ],
)
def test_an_impossible_live_subset_is_refused(monkeypatch, per_class, match):
    set_mode(monkeypatch, "live")
    with pytest.raises(ValueError, match=match):
        data.load_data_fashion_mnist(256, verbose=False, live_per_class=per_class)


# --- the loader with an explicit per_class -----------------------------------


def test_per_class_none_is_every_image_in_any_mode(monkeypatch, capsys):
    monkeypatch.setenv("BNLESSON_MODE", "fast")
    train, test = data.load_data_fashion_mnist(256, per_class=None)
    assert (train.num_examples, test.num_examples) == (60000, 10000)
    assert "(all images)" in capsys.readouterr().out


def test_per_class_is_the_balanced_subset_the_live_mode_used(monkeypatch, capsys):
    train, test = data.load_data_fashion_mnist(100, per_class=(2, 3))
    assert (
        "20 training and 30 test images (a class-balanced subset, 2 and 3 per class)"
        in (capsys.readouterr().out)
    )
    monkeypatch.setenv("BNLESSON_MODE", "live")
    ref_train, ref_test = data.load_data_fashion_mnist(
        100, verbose=False, live_per_class=(2, 3)
    )
    assert (train.X == ref_train.X).all() and (test.y == ref_test.y).all()


def test_an_impossible_per_class_is_refused_by_its_name():
    with pytest.raises(ValueError, match="per_class asks for 7000 training"):
        data.load_data_fashion_mnist(256, per_class=(7000, 10))
