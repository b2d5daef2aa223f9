"""Setting the run-mode and device variables in a test, from a clean start."""

#: The variables that choose a run's mode and device (bnlesson.core.config).
RUN_VARIABLES = ("BNLESSON_MODE", "BNLESSON_FAST", "BNLESSON_DEVICE")


def clear_run_env(monkeypatch) -> None:
    """Unset every run variable, whatever the shell (or ``make unit``) set."""
    for name in RUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def set_mode(monkeypatch, mode=None, fast=None) -> None:
    """Set ``BNLESSON_MODE`` and ``BNLESSON_FAST`` to `mode` and `fast` if given."""
    if mode is not None:
        monkeypatch.setenv("BNLESSON_MODE", mode)
    if fast is not None:
        monkeypatch.setenv("BNLESSON_FAST", fast)
