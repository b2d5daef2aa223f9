"""Let MXNet 1.9.1 import and run on numpy 1.24+ without changing numpy.

MXNet 1.9.1 (2022) reads numpy names that numpy 1.24 and 2.x removed
(:data:`~bnlesson.env.restored.RESTORED`). This module gives MXNet's own
modules, and only them, a *view* of numpy: the real module plus the
missing names. numpy itself is never modified, so every other library's
``hasattr(numpy, ...)`` sees what it would see without this module.

How: :func:`activate` puts a finder first on ``sys.meta_path``. When a module
``mxnet`` or ``mxnet.*`` is imported and numpy lacks one of the names, the
finder wraps the module's loader so that the module executes with its own
``__builtins__``, whose ``__import__`` hands the view out wherever the real
numpy would be returned (``import numpy as np``, ``from numpy import x``).
Module code and the functions it defines keep that ``__builtins__``, so the
names resolve while MXNet imports and whenever its functions run later. With
numpy 1.23.5, which has every name, the finder steps aside: a no-op.

The ``.pth`` file written by :func:`bnlesson.env.install.install_pth` (``make``
and ``python -m bnlesson.env.doctor --fix`` do it) calls :func:`activate` at
every interpreter start, so a plain ``import mxnet`` works in any script or
kernel of the environment, whatever was imported first. Python 3.12 removed
``distutils``, which MXNet imports too; setuptools provides it (a dependency
on 3.12+).

numpy 2 also exposes a bug in MXNet's own code: numpy integers print as
``np.int64(128)``, and MXNet passes operator parameters as the ``str`` of
their values, which its parser then refuses.
:data:`~bnlesson.env.restored.NUMPY2_FIXES` patches the functions that hit
it, right after their module executes, only with numpy >= 2. What is
restored and what is fixed: :mod:`bnlesson.env.restored`.
Set ``BNLESSON_NO_COMPAT=1`` to switch the layer off.
"""

from __future__ import annotations

import builtins
import os
import sys
import types

from bnlesson.env.restored import NUMPY2_FIXES, RESTORED

DISABLE_ENV = "BNLESSON_NO_COMPAT"
PTH_NAME = "bnlesson-mxnet-compat.pth"
# One line, run by `site` at start-up. It does nothing once bnlesson is
# uninstalled, instead of printing an error at every start.
PTH_LINE = (
    "import importlib.util; importlib.util.find_spec('bnlesson') and "
    "__import__('bnlesson.env.compat').env.compat.activate()\n"
)


def numpy_major(np: types.ModuleType) -> int:
    """Return the major version of `np` (1 for numpy 1.23.5, 2 for 2.5.5)."""
    return int(np.__version__.split(".")[0])


def missing_names(np: types.ModuleType) -> list[str]:
    """Return the names of :data:`RESTORED` that `np` lacks, in table order."""
    import warnings

    with warnings.catch_warnings():  # numpy 1.24 warns on reading `bool`
        warnings.simplefilter("ignore")
        return [name for name in RESTORED if not hasattr(np, name)]


class NumpyView(types.ModuleType):
    """numpy as MXNet sees it: the real module plus the names it lacks.

    Every other attribute is read from the real module at each access, so the
    view never goes stale.
    """

    def __init__(self, np: types.ModuleType, names: list[str]) -> None:
        super().__init__(np.__name__, np.__doc__)
        self.__wrapped__ = np
        for name in names:
            setattr(self, name, RESTORED[name](np))

    def __getattr__(self, name: str):
        return getattr(self.__dict__["__wrapped__"], name)


def builtins_for(view: NumpyView) -> dict:
    """Return a ``__builtins__`` whose ``__import__`` returns `view` for numpy."""
    real = view.__wrapped__

    def __import__(name, globals=None, locals=None, fromlist=(), level=0):
        module = builtins.__import__(name, globals, locals, fromlist, level)
        return view if module is real else module

    namespace = dict(vars(builtins))
    namespace["__import__"] = __import__
    return namespace


# Plain classes, not importlib.abc's: this module is imported at every
# interpreter start (by the .pth file), and importlib.abc costs 15 ms there.
class _ViewLoader:
    """The module's own loader, run with the numpy view in its builtins.

    Either part may be None: the view when numpy has every name, the fix
    (from :data:`NUMPY2_FIXES`, applied once the module has run) when the
    module needs none.
    """

    def __init__(self, loader, namespace: dict | None, fix=None) -> None:
        self._loader = loader
        self._namespace = namespace
        self._fix = fix

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        if self._namespace is not None:
            module.__builtins__ = self._namespace
        self._loader.exec_module(module)
        if self._fix is not None:
            self._fix(module)

    def __getattr__(self, name: str):  # get_source, get_data, is_package, ...
        return getattr(self._loader, name)


class MXNetFinder:
    """Find ``mxnet`` and ``mxnet.*`` as usual, with the view and fixes when needed."""

    def __init__(self) -> None:
        self._namespace: dict | None = None
        self.names: list[str] | None = None  # None until MXNet is imported
        self.numpy2 = False

    def _builtins(self) -> dict | None:
        if self.names is None:
            import numpy

            self.names = missing_names(numpy)
            self.numpy2 = numpy_major(numpy) >= 2
            if self.names:
                self._namespace = builtins_for(NumpyView(numpy, self.names))
        return self._namespace

    def _fix(self, fullname: str):
        # Read at each import, not copied: a test can empty the table.
        return NUMPY2_FIXES.get(fullname) if self.numpy2 else None

    def find_spec(self, fullname, path, target=None):
        if fullname != "mxnet" and not fullname.startswith("mxnet."):
            return None
        if fullname == "mxnet":
            from bnlesson.env import cudalibs

            cudalibs.preload()
        namespace = self._builtins()
        fix = self._fix(fullname)
        if namespace is None and fix is None:
            return None  # numpy 1.23.5: import MXNet untouched
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _ViewLoader(spec.loader, namespace, fix)
                return spec
        return None


def finder() -> MXNetFinder | None:
    """Return the active finder, or None when the layer is not active."""
    return next((f for f in sys.meta_path if isinstance(f, MXNetFinder)), None)


def disabled() -> bool:
    """Return True when ``$BNLESSON_NO_COMPAT`` switches the layer off."""
    return os.environ.get(DISABLE_ENV, "").strip() not in ("", "0")


def activate() -> bool:
    """Install the finder once (idempotent). Return whether it is active.

    Does nothing when ``$BNLESSON_NO_COMPAT`` is set. MXNet modules imported
    before activation are not affected.
    """
    if disabled():
        return False
    if finder() is None:
        sys.meta_path.insert(0, MXNetFinder())
    return True
