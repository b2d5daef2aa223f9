"""What MXNet 1.9.1 needs of numpy that numpy 1.24+ removed or changed.

:data:`RESTORED` rebuilds, from the installed numpy, every name MXNet reads
that some numpy >= 1.24 lacks; :data:`NUMPY2_FIXES` patches MXNet functions
with a bug only numpy 2 exposes. :mod:`bnlesson.env.compat` hands them to
MXNet's modules, and only to them.
"""

from __future__ import annotations

import builtins
import math
import types


def _builtin(name):
    return lambda np: getattr(builtins, name)


def _constant(value):
    return lambda np: value


def _wrapper(name, target, doc, call):
    # A new function per name, never the target itself: MXNet registers its
    # operators for numpy's dispatch by function object, and an alias would
    # re-route numpy.any, numpy.prod, ... to the operator of the old name.
    def factory(np):
        def restored(*args, **kwargs):
            return call(np, *args, **kwargs)

        restored.__name__ = restored.__qualname__ = name
        restored.__doc__ = f"numpy.{name} as numpy < 2 had it: {doc} ({target})."
        return restored

    return factory


def _compat_module(np):
    # numpy.compat (removed in 2.0); MXNet's pad() reads compat.basestring.
    module = types.ModuleType("numpy.compat")
    module.basestring = str
    return module


def _financial(name):
    # numpy 1.20-1.23 kept these as stubs that raise when called (NEP 32).
    def factory(np):
        def removed(*args, **kwargs):
            raise NotImplementedError(
                f"numpy.{name} was removed in numpy 1.20 (NEP 32); "
                f"use numpy_financial.{name} (pip install numpy-financial)"
            )

        removed.__name__ = name
        return removed

    return factory


#: Every name MXNet 1.9.1 reads from numpy that some numpy >= 1.24 lacks, and
#: how to rebuild it from the installed numpy. tests/env/test_compat.py checks
#: this against MXNet's source, both ways.
RESTORED = {
    # Builtin aliases, removed in 1.24 (numpy 2 has its own ``numpy.bool``).
    "bool": _builtin("bool"),  # boolean indexing, mxnet/numpy/multiarray.py
    "int": _builtin("int"),  # mxnet/test_utils.py
    # Constants, removed in 2.0 (mxnet/numpy/utils.py)
    "PZERO": _constant(0.0),
    "NZERO": _constant(-0.0),
    "PINF": _constant(math.inf),
    "NINF": _constant(-math.inf),
    "NAN": _constant(math.nan),
    "NaN": _constant(math.nan),
    "Inf": _constant(math.inf),
    # Functions removed in 2.0 or later (mxnet/numpy/fallback.py and the
    # operator list in mxnet/numpy_dispatch_protocol.py)
    "alltrue": _wrapper("alltrue", "numpy.all", "same as all",
                        lambda np, *a, **k: np.all(*a, **k)),
    "sometrue": _wrapper("sometrue", "numpy.any", "same as any",
                         lambda np, *a, **k: np.any(*a, **k)),
    "product": _wrapper("product", "numpy.prod", "same as prod",
                        lambda np, *a, **k: np.prod(*a, **k)),
    "round_": _wrapper("round_", "numpy.round", "same as round",
                       lambda np, *a, **k: np.round(*a, **k)),
    "in1d": _wrapper("in1d", "numpy.isin", "isin of the flattened input",
                     lambda np, a, *r, **k: np.isin(a, *r, **k).ravel()),
    "msort": _wrapper("msort", "numpy.sort", "sort along the first axis",
                      lambda np, a: np.sort(a, axis=0)),
    "trapz": _wrapper("trapz", "numpy.trapezoid", "the trapezoidal rule",
                      lambda np, *a, **k: np.trapezoid(*a, **k)),
    "compat": _compat_module,
    **{name: _financial(name) for name in ("mirr", "npv", "pmt", "ppmt", "pv", "rate")},
}  # fmt: skip


def split_at_python_ints(multiarray: types.ModuleType) -> None:
    """Make ``mxnet.numpy.split`` take numpy integers as split points (idempotent).

    MXNet 1.9.1's ``gluon.utils.split_data`` (so ``split_and_load``) hands
    ``split`` its split points as numpy integers. MXNet passes them to the
    operator as ``str([0, x])``, which numpy 2 makes ``'[0, np.int64(128)]'``
    and MXNet refuses (``Invalid Parameter format for indices``); Python
    ints print as MXNet expects. `multiarray` is ``mxnet.numpy.multiarray``,
    patched before ``mxnet.numpy`` re-exports ``split`` and before MXNet
    registers it for numpy's dispatch, so every path to it sees the fix.
    """
    import functools
    import operator

    split = multiarray.split
    if getattr(split, "python_ints", False):
        return

    @functools.wraps(split)
    def split_at_ints(ary, indices_or_sections, axis=0):
        if isinstance(indices_or_sections, (list, set, tuple)):
            # operator.index, not int: a float split point stays an error
            indices_or_sections = [operator.index(i) for i in indices_or_sections]
        return split(ary, indices_or_sections, axis=axis)

    split_at_ints.python_ints = True
    multiarray.split = split_at_ints


#: MXNet modules with a bug that only numpy >= 2 exposes, and the function
#: that fixes each, run right after the module executes.
NUMPY2_FIXES = {"mxnet.numpy.multiarray": split_at_python_ints}
