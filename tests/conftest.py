import sys
import warnings
from pathlib import Path

import matplotlib
import pytest

# Unit tests draw off-screen. (Not via MPLBACKEND: that would leak into the
# notebook kernels nbval starts and break their inline figures.)
matplotlib.use("agg")

# Tests import their helpers (nbutil, bnref, ...) from tests/support/.
sys.path.insert(0, str(Path(__file__).parent / "support"))

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture(scope="session")
def real_data_dir():
    """The folder with the real, verified Fashion-MNIST (set up by `make data`)."""
    from bnlesson import data

    return data.find_data()


@pytest.fixture(autouse=True)
def _np_mode():
    from mxnet import npx

    npx.set_np()
    yield


@pytest.fixture(scope="module")
def arrays():
    """Two disjoint slices of the (small) test split: 512 to train, 256 to test.

    Shared by lesson 03's ``train`` tests and the training layer's
    (tests/support/trainsets.py).
    """
    import trainsets

    return trainsets.disjoint_slices()


@pytest.fixture
def iters(arrays):
    """The slices as seeded (training, test) Batches of 128."""
    import trainsets

    return trainsets.seeded_batches(arrays)
