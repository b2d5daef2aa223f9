"""bnlesson: teaching batch normalization with MXNet Gluon and d2l."""

from .config import epochs, fast_mode, pick, print_versions, set_seed, versions
from .data import CLASS_NAMES, DataError, load_data_fashion_mnist
from .layers import BatchNorm, batch_norm

__all__ = [
    "CLASS_NAMES",
    "BatchNorm",
    "DataError",
    "batch_norm",
    "epochs",
    "fast_mode",
    "load_data_fashion_mnist",
    "pick",
    "print_versions",
    "set_seed",
    "versions",
]
__version__ = "0.1.0"
