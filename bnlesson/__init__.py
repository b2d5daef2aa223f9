"""bnlesson: teaching batch normalization with MXNet Gluon and d2l.

The folders are the layers; each builds only on the ones listed before it
(``tests/layout/test_layout.py`` checks every import):

================  ===========================================================
``core/``         run sizes and seeds, the device, notebook set-up, argument
                  checks, verified downloads
``plots/``        the lessons' figures (plain data in)
``data/``         Fashion-MNIST: finding, checking, downloading, batching
``training/``     the training set-up, the loop the experiments share,
                  metrics, histories, divergence, the live plot
``lessonNN``      the code lesson NN shows, in ``lessonNN.py`` or, for a
                  lesson with several modules, ``lessonNN/``; a lesson builds
                  on earlier lessons only
``check/``        the self-checks of the code a student writes in the
                  lessons (``check.batch_norm(batch_norm)``), built on
                  the lessons they check
``experiments/``  grids of runs and the benchmark, built on the lessons
``slides/``       the reveal.js decks (a lecturer's tool)
``env/``          making MXNet 1.9.1 install and run on today's Pythons
================  ===========================================================

A student's namespace holds the lessons and what they build on:
``dir(bnlesson)`` lists neither ``experiments``, ``slides`` nor ``env``,
which stay importable by their full names. Each name has one import path,
the module that defines it. Submodules are imported on first use
(PEP 562), so ``import bnlesson`` does not load MXNet.
"""

from __future__ import annotations

import importlib
import pkgutil

__version__ = "0.1.0"

#: The teacher's and the installer's tools: importable, not in dir(bnlesson).
TOOLS = frozenset({"experiments", "slides", "env"})
#: The student's side: every lesson and the layers lessons build on.
SUBMODULES = frozenset(m.name for m in pkgutil.iter_modules(__path__)) - TOOLS


def __getattr__(name: str):
    if name in SUBMODULES | TOOLS:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'bnlesson' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted((set(globals()) | SUBMODULES) - TOOLS - {"importlib", "pkgutil"})
