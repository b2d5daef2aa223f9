"""Run modes: which mode the environment asks for, what each mode picks,
the line that names it, and live mode's data subset (issue 15)."""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as onp
import pytest

from bnlesson import data
from bnlesson.core import config, notebook

from nbutil import ROOT

SANITIZE = Path(__file__).parents[1] / "sanitize.cfg"


@pytest.fixture(autouse=True)
def _no_mode(monkeypatch):
    """Each test starts with neither variable set, whatever the shell had."""
    monkeypatch.delenv("BNLESSON_MODE", raising=False)
    monkeypatch.delenv("BNLESSON_FAST", raising=False)


def setup():
    """notebook.setup() without its PNG switch: outside a kernel that creates
    IPython's global shell, after which matplotlib 3.7.2 fails to switch
    backends (backend2gui) in every later test of the session."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(notebook, "use_png", lambda: None)
        notebook.setup()


def _env(monkeypatch, mode=None, fast=None):
    if mode is not None:
        monkeypatch.setenv("BNLESSON_MODE", mode)
    if fast is not None:
        monkeypatch.setenv("BNLESSON_FAST", fast)


@pytest.mark.parametrize(
    "mode, fast, expected",
    [
        (None, None, "full"),
        ("full", None, "full"),
        ("live", None, "live"),
        ("fast", None, "fast"),
        (" Live ", None, "live"),  # spaces and capitals from a shell or .env
        ("", None, "full"),
        (None, "1", "fast"),  # make test's old spelling keeps working
        (None, "yes", "fast"),
        (None, "0", "full"),
        (None, "false", "full"),
        (None, "", "full"),
        ("fast", "1", "fast"),  # both ask for fast: no conflict
        ("live", "0", "live"),
        ("full", "off", "full"),
    ],
)
def test_the_environment_names_the_mode(monkeypatch, mode, fast, expected):
    _env(monkeypatch, mode, fast)
    assert config.mode() == expected
    assert config.fast_mode() == (expected == "fast")
    assert config.live_mode() == (expected == "live")


@pytest.mark.parametrize("name", ["quick", "lve", "1", "fast,live"])
def test_an_unknown_mode_is_refused_saying_which_exist(monkeypatch, name):
    _env(monkeypatch, name)
    with pytest.raises(ValueError) as err:
        config.mode()
    message = str(err.value)
    assert f"BNLESSON_MODE={name!r} is not a run mode" in message
    assert "full, live, fast" in message and "unset it" in message


@pytest.mark.parametrize("name", ["full", "live"])
def test_two_modes_at_once_are_refused_saying_what_to_unset(monkeypatch, name):
    _env(monkeypatch, name, "1")
    for ask in (config.mode, config.fast_mode, config.live_mode):
        with pytest.raises(ValueError, match="ask for two run modes") as err:
            ask()
        assert "unset BNLESSON_FAST" in str(err.value)
        assert "BNLESSON_MODE=fast" in str(err.value)


@pytest.mark.parametrize("fast", ["yes", "TRUE", " on"])
def test_the_two_modes_message_quotes_the_fast_value_that_was_set(monkeypatch, fast):
    _env(monkeypatch, "live", fast)
    with pytest.raises(ValueError) as err:
        config.mode()
    assert str(err.value).startswith(
        f"BNLESSON_MODE=live and BNLESSON_FAST={fast.strip()} ask for two run modes"
    )


@pytest.mark.parametrize(
    "fast, expected",
    [
        ("True", "fast"),
        ("ON", "fast"),
        ("Yes", "fast"),
        ("No", "full"),
        ("OFF", "full"),
    ],
)
def test_the_documented_fast_values_are_accepted_in_any_case(
    monkeypatch, fast, expected
):
    _env(monkeypatch, fast=fast)
    assert config.mode() == expected


@pytest.mark.parametrize("fast", ["n", "fasle", "y", "2", "enabled", "-1"])
@pytest.mark.parametrize("mode", [None, "full"])
def test_a_fast_value_that_is_not_documented_is_refused(monkeypatch, mode, fast):
    # Before, anything but 0/false/no/off meant fast: `n` and `fasle` too.
    _env(monkeypatch, mode, fast)
    with pytest.raises(ValueError) as err:
        config.mode()
    assert str(err.value) == (
        f"BNLESSON_FAST={fast!r} is neither on nor off: set BNLESSON_FAST=1 for "
        "fast mode (or true, yes, on), BNLESSON_FAST=0 for not fast (or false, "
        "no, off), or unset it"
    )


def make_mode(value: str) -> subprocess.CompletedProcess:
    """What make makes of MODE=`value` (the MODE its commands get)."""
    show = 'show-mode: ; @echo "[$(MODE)]"'
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", show, "show-mode",
         f"MODE={value}"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("value", ["Live", "LIVE", "live", "Fast", "FULL"])
def test_make_takes_a_mode_in_any_case_as_the_environment_does(monkeypatch, value):
    # One rule for both: BNLESSON_MODE=LIVE was accepted, MODE=Live refused.
    _env(monkeypatch, value)
    result = make_mode(value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"[{config.mode()}]" == f"[{value.lower()}]"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("value", ["quick", "live fast", "Lve"])
def test_make_refuses_what_the_environment_refuses(monkeypatch, value):
    _env(monkeypatch, value)
    with pytest.raises(ValueError, match="is not a run mode"):
        config.mode()
    result = make_mode(value)
    assert result.returncode != 0
    assert f"MODE={value.lower()} is not a run mode" in result.stderr


def _sanitized(text: str) -> str:
    """Apply tests/sanitize.cfg's substitutions, as nbval does."""
    rules = re.findall(r"regex: (.*)\nreplace: (.*)", SANITIZE.read_text())
    for pattern, replacement in rules:
        text = re.sub(pattern, replacement, text)
    return text


@pytest.mark.parametrize("mode, fast", [(None, None), ("live", None), (None, "1")])
def test_the_setup_line_names_the_versions_not_the_mode(
    monkeypatch, capsys, mode, fast
):
    # A student reads the versions; the sizes say when they are smaller.
    _env(monkeypatch, mode, fast)
    setup()
    line = capsys.readouterr().out
    assert re.fullmatch(
        r"Python 3\.\d+\.\d+, MXNet 1\.9\.1, d2l 1\.0\.3, numpy \d+\.\d+\.\d+\n",
        line,
    )
    # nbval compares a fast or live run against the committed full run: the
    # sanitizer makes the lines of any two Pythons equal.
    full = "Python 3.11.7, MXNet 1.9.1, d2l 1.0.3, numpy 1.23.5\n"
    assert _sanitized(line) == _sanitized(full)


def test_setup_in_a_bad_mode_stops_with_the_message(monkeypatch):
    _env(monkeypatch, "live", "1")
    with pytest.raises(ValueError, match="unset BNLESSON_FAST"):
        setup()


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
    _env(monkeypatch, "live")
    train, test = data.load_data_fashion_mnist(256)
    assert capsys.readouterr().out == (
        "Fashion-MNIST: 10000 training and 3000 test images "
        "(live mode: a class-balanced subset)\n"
    )
    assert onp.bincount(train.y).tolist() == [1000] * 10
    assert onp.bincount(test.y).tolist() == [300] * 10
    assert len(train) == 40 and len(test) == 12  # ceil(10000 / 256), ceil(3000 / 256)


def test_live_subset_is_the_first_images_of_each_class(monkeypatch, capsys):
    _env(monkeypatch, "live")
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
    for mode, size in [("full", 60000), ("fast", 2560)]:
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
    _env(monkeypatch, "live")
    with pytest.raises(ValueError, match=match):
        data.load_data_fashion_mnist(256, verbose=False, live_per_class=per_class)
