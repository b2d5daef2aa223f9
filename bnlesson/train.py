"""The training loop under its earlier address: ``from bnlesson.train import train``.

The loop itself is lesson 03's (:func:`bnlesson.lesson03.train`), what it
measures :mod:`bnlesson.metrics`; this module only re-exports them for
code written against the earlier layout.
"""

from .divergence import TrainingDiverged
from .history import History
from .lesson03 import train
from .metrics import evaluate_accuracy, train_epoch

__all__ = ["History", "TrainingDiverged", "evaluate_accuracy", "train", "train_epoch"]
