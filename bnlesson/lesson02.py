"""Lesson 02: the ``BatchNorm`` Block, built on lesson 01's function.

:class:`BatchNorm` (with :func:`check_input`, which the lesson imports from
here) is the Block of ``notebooks/02_batchnorm_block.ipynb``;
``tests/lessons/test_lesson02.py`` checks that the two copies agree. It
refuses an input it was not built for with a message naming the likely fix.
"""

from __future__ import annotations

from mxnet import init, np
from mxnet.gluon import nn

from bnlesson.lesson01 import batch_norm


def check_input(X, shape: tuple) -> None:
    """Refuse an input that a layer with statistics of `shape` was not built for.

    A :class:`BatchNorm` built with ``num_features=C`` takes ``(N, C)``
    inputs (``num_dims=2``) or ``(N, C, H, W)`` inputs (``num_dims=4``); its
    ``gamma`` has shape `shape`, ``(1, C)`` or ``(1, C, 1, 1)``. The error
    names the expected and the actual input shape and the likely fix (another
    ``num_features`` or ``num_dims``, a channels-last input to transpose).
    """
    num_features, num_dims = shape[1], len(shape)
    if X.ndim == num_dims and X.shape[1] == num_features:
        return
    expected = "(batch, {})" if num_dims == 2 else "(batch, {}, height, width)"
    raise ValueError(
        f"this batch-norm layer (num_features={num_features}, num_dims={num_dims}) "
        f"expects an input of shape {expected.format(num_features)}, but got one "
        f"of shape {tuple(X.shape)}: {_input_hint(X, num_features, num_dims)}."
    )


#: The fix for an image batch with its channels last, ``(N, H, W, C)``.
CHANNELS_LAST_HINT = (
    "it looks channels-last (NHWC), but MXNet puts the channels on axis 1: "
    "transpose it with X.transpose(0, 3, 1, 2)"
)


def _input_hint(X, num_features: int, num_dims: int) -> str:
    if X.ndim not in (2, 4):
        return (
            "batch norm takes a 2-D (after a Dense layer) or a 4-D (after a "
            "Conv2D layer) input: flatten or reshape it"
        )
    if X.ndim != num_dims:
        return (
            f"for this {X.ndim}-D input build the layer with "
            f"num_features={X.shape[1]}, num_dims={X.ndim}"
        )
    if X.ndim == 4 and X.shape[3] == num_features:
        return CHANNELS_LAST_HINT
    unit = "features" if X.ndim == 2 else "channels"
    return (
        f"the layer before it gives {X.shape[1]} {unit}: build this one with "
        f"num_features={X.shape[1]}"
    )


# Shown in lesson 02, "The Block"
class BatchNorm(nn.Block):
    r"""Batch normalization layer built on :func:`batch_norm`.

    ``gamma`` (ones) and ``beta`` (zeros) are learnable Parameters that a
    ``Trainer`` updates; ``moving_mean`` (zeros) and ``moving_var`` (ones)
    are plain arrays, outside ``collect_params()``, updated by every
    training-mode forward pass with ``momentum=0.9`` and ``eps=1e-5``.

    Parameters
    ----------
    num_features : int
        Outputs of a Dense layer or channels of a Conv2D layer.
    num_dims : int
        2 for Dense inputs ``(N, C)``, 4 for Conv2D inputs ``(N, C, H, W)``.

    Raises
    ------
    ValueError
        If `num_features` is not an int of at least 1 or `num_dims` is
        neither 2 nor 4; from ``forward``, for an input the layer was not
        built for (:func:`check_input`) or moving statistics that
        :func:`~bnlesson.lesson01.batch_norm` refuses (an integer dtype).
    """

    def __init__(self, num_features: int, num_dims: int, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(
                f"num_features must be an int of at least 1 (the outputs of a "
                f"Dense layer or channels of a Conv2D layer), not "
                f"{num_features!r} ({type(num_features).__name__})"
            )
        if num_dims not in (2, 4):
            raise ValueError(
                f"num_dims must be 2 (after a Dense layer) or 4 (after a Conv2D "
                f"layer), not {num_dims!r}"
            )
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = self.params.get("gamma", shape=shape, init=init.One())
        self.beta = self.params.get("beta", shape=shape, init=init.Zero())
        # Created on the CPU; forward() moves them to the input's device.
        self.moving_mean = np.zeros(shape)
        self.moving_var = np.ones(shape)

    def reset_running_stats(self) -> None:
        """Start the moving statistics afresh (zeros and ones), on their device.

        ``initialize(force_reinit=True)`` resets Parameters only, and the
        moving statistics are plain arrays: :func:`bnlesson.lesson03.train`
        calls this so that a second training run starts like the first
        (Gluon's ``nn.BatchNorm`` keeps them in Parameters, reset alike).
        """
        self.moving_mean = np.zeros(self.gamma.shape, ctx=self.moving_mean.ctx)
        self.moving_var = np.ones(self.gamma.shape, ctx=self.moving_var.ctx)

    def forward(self, X):
        check_input(X, self.gamma.shape)
        if self.moving_mean.ctx != X.ctx:
            self.moving_mean = self.moving_mean.copyto(X.ctx)
            self.moving_var = self.moving_var.copyto(X.ctx)
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma.data(X.ctx), self.beta.data(X.ctx),
            self.moving_mean, self.moving_var, eps=1e-5, momentum=0.9,
        )  # fmt: skip
        return Y
