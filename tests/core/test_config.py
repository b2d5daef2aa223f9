"""Run modes: which mode the environment asks for, what make makes of MODE,
and the device the lessons train on (``bnlesson.core.config``)."""

import shutil
import subprocess

import mxnet as mx
import pytest
from d2l import mxnet as d2l
from runmode import clear_run_env, set_mode

from bnlesson.core import config

from nbutil import ROOT


@pytest.fixture(autouse=True)
def _no_mode(monkeypatch):
    """Each test starts with no run variable set, whatever the shell had."""
    clear_run_env(monkeypatch)


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
    set_mode(monkeypatch, mode, fast)
    assert config.mode() == expected
    assert config.fast_mode() == (expected == "fast")
    assert config.live_mode() == (expected == "live")


@pytest.mark.parametrize("name", ["quick", "lve", "1", "fast,live"])
def test_an_unknown_mode_is_refused_saying_which_exist(monkeypatch, name):
    set_mode(monkeypatch, name)
    with pytest.raises(ValueError) as err:
        config.mode()
    message = str(err.value)
    assert f"BNLESSON_MODE={name!r} is not a run mode" in message
    assert "full, live, fast" in message and "unset it" in message


@pytest.mark.parametrize("name", ["full", "live"])
def test_two_modes_at_once_are_refused_saying_what_to_unset(monkeypatch, name):
    set_mode(monkeypatch, name, "1")
    for ask in (config.mode, config.fast_mode, config.live_mode):
        with pytest.raises(ValueError, match="ask for two run modes") as err:
            ask()
        assert "unset BNLESSON_FAST" in str(err.value)
        assert "BNLESSON_MODE=fast" in str(err.value)


@pytest.mark.parametrize("fast", ["yes", "TRUE", " on"])
def test_the_two_modes_message_quotes_the_fast_value_that_was_set(monkeypatch, fast):
    set_mode(monkeypatch, "live", fast)
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
    set_mode(monkeypatch, fast=fast)
    assert config.mode() == expected


@pytest.mark.parametrize("fast", ["n", "fasle", "y", "2", "enabled", "-1"])
@pytest.mark.parametrize("mode", [None, "full"])
def test_a_fast_value_that_is_not_documented_is_refused(monkeypatch, mode, fast):
    # Before, anything but 0/false/no/off meant fast: `n` and `fasle` too.
    set_mode(monkeypatch, mode, fast)
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
    set_mode(monkeypatch, value)
    result = make_mode(value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"[{config.mode()}]" == f"[{value.lower()}]"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("value", ["quick", "live fast", "Lve"])
def test_make_refuses_what_the_environment_refuses(monkeypatch, value):
    set_mode(monkeypatch, value)
    with pytest.raises(ValueError, match="is not a run mode"):
        config.mode()
    result = make_mode(value)
    assert result.returncode != 0
    assert f"MODE={value.lower()} is not a run mode" in result.stderr


# --- the device ---------------------------------------------------------------


def test_without_a_choice_the_device_is_d2ls(monkeypatch):
    assert config.default_device() == d2l.try_gpu()


@pytest.mark.parametrize(
    "value, expected",
    [("cpu", mx.cpu(0)), ("cpu:1", mx.cpu(1)), ("CPU(1)", mx.cpu(1)),
     (" cpu:2 ", mx.cpu(2))],
)  # fmt: skip
def test_the_environment_names_the_device(monkeypatch, value, expected):
    monkeypatch.setenv("BNLESSON_DEVICE", value)
    assert config.default_device() == expected


@pytest.mark.parametrize("value", ["tpu", "cpu1x", "1", "cpu:-1"])
def test_a_name_that_is_not_a_device_is_refused(monkeypatch, value):
    monkeypatch.setenv("BNLESSON_DEVICE", value)
    with pytest.raises(ValueError, match="is not a device: use cpu, cpu:1"):
        config.default_device()


def test_a_gpu_mxnet_does_not_see_is_refused(monkeypatch):
    monkeypatch.setenv("BNLESSON_DEVICE", f"gpu:{mx.context.num_gpus()}")
    with pytest.raises(ValueError, match="but MXNet sees"):
        config.default_device()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_hands_the_device_to_the_notebooks():
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "test", "DEVICE=cpu:1"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    line = next(ln for ln in result.stdout.splitlines() if "-m pytest" in ln)
    assert line.startswith("BNLESSON_DEVICE=cpu:1 BNLESSON_FAST=1 "), line
