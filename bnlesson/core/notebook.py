"""What every lesson does first, and how it prints numbers.

Printed outputs are compared by nbval, so they must read the same on every
run: figures are PNG, at twice the pixels (nbval does not compare images,
but it does compare SVG text, which embeds ids and dates) and numbers are
rounded.
"""

from __future__ import annotations

import numpy as onp

from bnlesson.core import config


def setup(seed: int = 0) -> None:
    """Prepare a lesson: numpy-style MXNet, PNG figures, seeds, version line."""
    from mxnet import npx

    npx.set_np()
    use_png()
    # Plain decimals, not 1.4e-02, for arrays with mixed magnitudes.
    onp.set_printoptions(suppress=True)
    config.set_seed(seed)
    config.print_versions()


def use_png() -> None:
    """Show inline figures as sharp PNG (d2l's helpers switch to SVG).

    matplotlib-inline's ``"retina"`` format: a PNG drawn at 2x the figure's
    dpi, displayed at its usual size (the output's metadata holds that
    size), so that a figure stays sharp when a deck or a projector enlarges
    it. PNG, not SVG: nbval does not compare images, but it would compare
    SVG text, which embeds ids that change from run to run.

    The format is also written into the inline backend's configuration:
    IPython activates that backend lazily, at the first figure, and
    activating it applies the configured formats again (plain PNG unless
    told), which would undo a format set only on the display formatter.
    """
    try:
        from matplotlib_inline import backend_inline
    except ImportError:  # pragma: no cover - matplotlib-inline ships with ipykernel
        return
    backend_inline.InlineBackend.instance().figure_formats = {"retina"}
    backend_inline.set_matplotlib_formats("retina")


def rounded(x, decimals: int = 3) -> onp.ndarray:
    """Return `x` as a NumPy array rounded to `decimals`, with -0.0 shown as 0.0.

    Tiny values of either sign round to zero; adding 0.0 turns a negative
    zero positive so the printed text does not depend on the last bit.
    """
    if hasattr(x, "asnumpy"):
        x = x.asnumpy()
    return onp.round(onp.asarray(x, dtype=onp.float64), decimals) + 0.0
