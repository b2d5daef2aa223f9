"""bnlesson: teaching batch normalization with MXNet Gluon and d2l.

One lesson, one module: the code notebook ``notebooks/NN_*.ipynb`` shows is in
``bnlesson/lessonNN.py``, each definition under a comment naming its cell.

=====  ===========================================  ==========================
Lesson Notebook                                     Module
=====  ===========================================  ==========================
01     the ``batch_norm`` function                  ``lesson01``
02     the ``BatchNorm`` Block                      ``lesson02``
03     LeNet with and without batch norm            ``lesson03``
04     Gluon's ``nn.BatchNorm`` and what it costs   ``lesson04``
05     running statistics, other frameworks         ``lesson05``
06     design choices                               ``lesson06``
07     Figure 1 of the paper                        ``lesson07``
08     the backward pass by hand                    ``lesson08``
09     why batch norm helps                         ``lesson09`` (+ ``_runs``,
                                                    ``_plots``)
=====  ===========================================  ==========================

A lesson's module imports only earlier lessons and the infrastructure, which
is not lesson material: ``config`` (run modes, seeds), ``data``, ``dataset``,
``download`` and ``fetch`` (Fashion-MNIST), ``arguments`` (checks of
plain arguments), ``batchcheck`` (checks of the batches training is
given), ``sgd`` (the one training set-up), ``history``,
``divergence``, ``live`` (live plot), ``recording``,
``grid`` and ``runplan`` (grids of runs), ``plots`` (plain data in, no
package imports), ``bench``, ``notebook``, ``slides``, and ``compat``,
``install``, ``doctor`` for the environment.

Public names are imported on first use (PEP 562), so ``import bnlesson`` and
``python -m bnlesson.data`` do not load MXNet until something needs it.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "fast_mode": "config",
    "live_mode": "config",
    "mode": "config",
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
_SUBMODULES = {"config", "data", "notebook", "plots",
               "lesson01", "lesson02", "lesson03", "lesson04", "lesson05", "lesson06",
               "lesson07", "lesson08", "bench", "grid", "runplan",
               "divergence", "lesson09", "lesson09_runs", "lesson09_plots",
               "compat", "cudalibs", "install", "checks", "doctor",
               "history", "live", "metrics", "recording", "sgd", "dataset",
               "download", "fetch", "mlp", "slides", "slide_rules",
               "slide_assets", "arguments", "batchcheck"}  # fmt: skip
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'bnlesson' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
