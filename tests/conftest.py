import warnings

import pytest

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
