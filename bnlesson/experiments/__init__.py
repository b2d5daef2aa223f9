"""Experiments built on the lessons: grids of training runs and the batch-norm
cost benchmark (``python -m bnlesson.experiments.bench``). No lesson imports
them."""
