"""Fixtures of the training tests that train or check real data
(test_metrics, test_live): slices of Fashion-MNIST (tests/support/trainsets.py)."""

import pytest
import trainsets


@pytest.fixture(scope="module")
def arrays():
    """Two disjoint slices of the (small) test split: 512 to train, 256 to test."""
    return trainsets.disjoint_slices()


@pytest.fixture
def iters(arrays):
    """The slices as seeded (training, test) Batches of 128."""
    return trainsets.seeded_batches(arrays)
