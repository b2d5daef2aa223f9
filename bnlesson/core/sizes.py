"""The sizes of a lesson's runs, written once at its top, smaller in class.

A lesson's first cell names its sizes at full scale, in plain numbers::

    num_epochs, num_steps = sizes("03", num_epochs=5, num_steps=50)

Full size (the default) returns them as written. In live mode
(``make lab MODE=live``, a lecture's minute per lesson) and fast mode
(``make test``, the smallest run that executes every cell) the values come
from :data:`SMALLER` instead, the one table of reduced sizes; a size a mode
does not list stays at full scale. The lesson's code then reads only plain
names, never the mode.
"""

from __future__ import annotations

from typing import Any

from bnlesson.core import config

#: Fast mode keeps the first N examples of every class (a fixed, balanced subset).
FAST_TRAIN_PER_CLASS = 128
FAST_TEST_PER_CLASS = 100
#: ``per_class`` in fast mode: the loader's fast subset (training, test).
FAST_DATA = (FAST_TRAIN_PER_CLASS, FAST_TEST_PER_CLASS)

#: Reduced sizes, per notebook (``"NN"`` a lesson, ``"NN solutions"`` its
#: worked solutions) and per mode. ``per_class`` is ``None`` for all of
#: Fashion-MNIST, or the (training, test) images per class of a balanced subset.
SMALLER: dict[str, dict[str, dict[str, Any]]] = {
    # ---- 01 ----
    "01": {
        "live": {},
        "fast": {},
    },
    # ---- 01 solutions ----
    "01 solutions": {
        "live": {},
        "fast": {},
    },
    # ---- 02 ----
    "02": {
        "live": {},
        "fast": {},
    },
    # ---- 02 solutions ----
    "02 solutions": {
        "live": {},
        "fast": {},
    },
    # ---- 03 ----
    "03": {
        # live: 16 batches an epoch, enough for the 15 first steps and for batch
        # norm to be well on its way after one epoch (lesson 03's prose)
        "live": {"num_epochs": 3, "num_steps": 15, "per_class": (400, 100)},
        "fast": {
            "num_epochs": 1,
            "num_steps": 3,
            "num_repeats": 3,
            "per_class": FAST_DATA,
        },
    },
    # ---- 03 solutions ----
    "03 solutions": {
        "live": {},
        "fast": {
            "per_class": (100, 100),
            "num_epochs": 2,
            "num_steps": 3,
            "ex4_per_class": 100,
        },
    },
    # ---- 04 ----
    "04": {
        "live": {"num_epochs": 2, "per_class": (200, 100), "repeat": 3},
        "fast": {"num_epochs": 1, "per_class": FAST_DATA, "repeat": 2},
    },
    # ---- 04 solutions ----
    "04 solutions": {
        "live": {"per_class": (1000, 300), "num_train": 10_000},
        "fast": {"per_class": FAST_DATA, "repeat": 2, "num_train": 1_280},
    },
    # ---- 05 ----
    "05": {
        "live": {"per_class": (1000, 300)},
        "fast": {"num_epochs": 1, "per_class": FAST_DATA},
    },
    # ---- 05 solutions ----
    "05 solutions": {
        "live": {"per_class": (1000, 300)},
        "fast": {"num_epochs": 1, "per_class": FAST_DATA, "every": 2},
    },
    # ---- 06 ----
    "06": {
        "live": {
            "per_class": (1000, 300),
            "test_per_class": 100,
            "n_grid": 2_500,
            "num_epochs": 2,
            "rates": [0.1, 1, 10, 100],
            "n_sweep": 2_500,
            "n_noise": 3_000,
            "steps": 40,
            "batch_epochs": 1,
            "cnn_epochs": 2,
        },
        "fast": {
            "per_class": FAST_DATA,
            "test_per_class": 100,
            "n_grid": 1_024,
            "num_epochs": 1,
            "rates": [0.1, 100],
            "n_sweep": 1_024,
            "n_noise": 1_024,
            "steps": 10,
            "batch_epochs": 1,
            "cnn_epochs": 1,
        },
    },
    # ---- 06 solutions ----
    "06 solutions": {
        "live": {"per_class": (1000, 300)},
        "fast": {
            "per_class": FAST_DATA,
            "test_per_class": 100,
            "n_grid": 1_024,
            "num_epochs": 1,
            "n_sweep": 1_024,
            "n_images": 1_000,
        },
    },
    # ---- 07 ----
    "07": {
        "live": {"num_steps": 2_000, "every": 100, "per_class": (1000, 300)},
        "fast": {"num_steps": 300, "every": 25, "per_class": FAST_DATA},
    },
    # ---- 07 solutions ----
    "07 solutions": {
        "live": {"per_class": (1000, 300)},
        "fast": {
            "num_steps": 150,
            "every": 25,
            "scratch_steps": 100,
            "per_class": FAST_DATA,
        },
    },
    # ---- 08 ----
    "08": {
        "live": {},
        "fast": {"repeat": 3},
    },
    # ---- 08 solutions ----
    "08 solutions": {
        "live": {},
        "fast": {},
    },
    # ---- 09 ----
    "09": {
        "live": {"num_steps": 1_200, "every": 60, "per_class": (1000, 300)},
        "fast": {"num_steps": 100, "every": 25, "per_class": FAST_DATA},
    },
    # ---- 09 solutions ----
    "09 solutions": {
        "live": {"per_class": (1000, 300)},
        "fast": {"num_steps": 100, "every": 50, "per_class": FAST_DATA},
    },
    # ---- 10 ----
    "10": {
        "live": {"num_epochs": 1, "per_class": (500, 100), "repeat": 5},
        "fast": {"num_epochs": 1, "per_class": (64, 30), "repeat": 2},
    },
    # ---- 10 solutions ----
    "10 solutions": {
        "live": {},
        "fast": {"per_class": (64, 30)},
    },
    # ---- 11 ----
    "11": {
        "live": {
            "per_class": (120, 100),
            "num_examples": 1_200,
            "batch_sizes": [64, 16, 2],
            "seeds": [0, 1],
            "num_images": 200,
        },
        "fast": {
            "per_class": FAST_DATA,
            "num_examples": 64,
            "batch_sizes": [16, 2],
            "seeds": [0, 1],
            "num_images": 20,
        },
    },
}


def sizes(notebook: str, **full: Any) -> Any:
    """Return a notebook's sizes for the current run mode.

    Parameters
    ----------
    notebook : str
        ``"03"`` for lesson 03, ``"03 solutions"`` for its solutions: the key
        of :data:`SMALLER`.
    **full
        Each size at full scale, e.g. ``num_epochs=5``.

    Returns
    -------
    object or tuple
        The one size when one is given, else a tuple in the order given.
        Full mode returns `full` unchanged; live and fast mode replace the
        values :data:`SMALLER` lists for them and print one line naming them.

    Raises
    ------
    ValueError
        If no size is given, or :data:`SMALLER` lists, for this notebook and
        mode, a size that the call does not name (a typo would otherwise
        leave the run at full size without a word).
    KeyError
        If `notebook` has no entry in :data:`SMALLER` outside full mode.
    """
    if not full:
        raise ValueError("sizes() needs at least one size, e.g. num_epochs=5")
    mode = config.mode()
    values = dict(full)
    if mode != "full":
        if notebook not in SMALLER:
            raise KeyError(
                f"bnlesson.core.sizes.SMALLER has no entry {notebook!r}: add the "
                f"{mode}-mode sizes of {sorted(full)} there"
            )
        smaller = SMALLER[notebook].get(mode, {})
        unknown = sorted(set(smaller) - set(full))
        if unknown:
            raise ValueError(
                f"SMALLER[{notebook!r}][{mode!r}] lists {unknown}, which "
                f"sizes() was not given (it was given {sorted(full)}): fix the "
                "name in one of the two"
            )
        values.update(smaller)
        changed = [f"{k} {values[k]} (full: {full[k]})" for k in smaller
                   if values[k] != full[k]]  # fmt: skip
        if changed:
            print(f"Smaller sizes for a {mode} run: " + ", ".join(changed))
    result = tuple(values.values())
    return result[0] if len(result) == 1 else result
