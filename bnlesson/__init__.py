"""bnlesson: teaching batch normalization with MXNet Gluon and d2l.

Public names are imported on first use (PEP 562), so ``import bnlesson`` and
``python -m bnlesson.data`` do not load MXNet until something needs it.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "epochs": "config",
    "fast_mode": "config",
    "live_mode": "config",
    "mode": "config",
    "pick": "config",
    "print_versions": "config",
    "set_seed": "config",
    "versions": "config",
    "CLASS_NAMES": "data",
    "DataError": "data",
    "load_data_fashion_mnist": "data",
    "BatchNorm": "lesson02",
    "batch_norm": "lesson01",
    "batchnorm_layers": "lesson03",
    "lenet": "lesson03",
    "History": "history",
    "TrainingDiverged": "divergence",
    "evaluate_accuracy": "metrics",
    "plot_curves": "plots",
    "plot_gamma_beta": "plots",
}
_SUBMODULES = {"config", "data", "notebook", "train", "plots",
               "lesson01", "lesson02", "lesson03", "lesson05", "lesson06",
               "lesson07", "lesson08", "bench", "grid", "runplan",
               "divergence", "lesson09", "lesson09_runs", "lesson09_plots",
               "compat", "cudalibs", "install", "checks", "doctor",
               "history", "live", "metrics", "recording", "sgd", "dataset",
               "download", "fetch", "mlp", "slides", "slide_rules",
               "slide_assets"}  # fmt: skip
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'bnlesson' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
