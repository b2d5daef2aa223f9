r"""Lesson 04: Gluon's ``nn.BatchNorm``, checked against ours, and what it costs.

The code of ``notebooks/04_gluon_batchnorm_and_cost.ipynb``; a comment above
each definition names the section that shows it.

:func:`compare` checks that lesson 02's :class:`~bnlesson.lesson02.BatchNorm`
and Gluon's ``nn.BatchNorm`` compute the same training-mode output
:math:`y = \gamma (x - \mu_B)/\sqrt{\sigma_B^2 + \epsilon} + \beta`, the same
running statistics :math:`\hat\mu \leftarrow 0.9\,\hat\mu + 0.1\,\mu_B` (and
likewise :math:`\hat\sigma^2`), and the same prediction-mode output.
:func:`profile` times a computation and each MXNet operator it runs with
MXNet's profiler; lesson 08 uses it too.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Callable

import numpy as onp
from mxnet import autograd, np, npx, profiler
from mxnet.gluon import nn

from bnlesson.lesson02 import BatchNorm


# Shown in lesson 04, "Same numbers as our Block"
def compare(shape: tuple, device, steps: int = 3) -> float:
    r"""Largest gap between lesson 02's ``BatchNorm`` and ``nn.BatchNorm``.

    Both layers start from the same state on `device`. Each of `steps`
    training steps feeds them one batch :math:`X \sim \mathcal N(3, 2^2)` of
    `shape` (2-D ``(N, C)`` or 4-D ``(N, C, H, W)``, drawn from MXNet's
    generator), runs Gluon's backward pass (which is when MXNet's CPU kernel
    moves its running statistics; cuDNN, on a GPU, already moved them in the
    forward pass) and takes

    .. math:: \max |Y - Y_\text{Gluon}|,\ \max |\hat\mu - \hat\mu_\text{Gluon}|,
        \ \max |\hat\sigma^2 - \hat\sigma^2_\text{Gluon}|;

    a last prediction-mode pass on the last batch adds
    :math:`\max |Y - Y_\text{Gluon}|` with the running statistics.

    Returns
    -------
    gap : float
        The largest of these, about :math:`10^{-7}` in float32 with MXNet's
        CPU kernel. On a GPU, cuDNN blends the *unbiased* batch variance
        into its running variance (apache/mxnet#18751), so the running
        variances, and the prediction-mode outputs, differ by up to a factor
        :math:`m/(m-1)` in the variance's batch term.

    Raises
    ------
    ValueError
        If `shape` is neither 2-D nor 4-D (from ``BatchNorm``).
    """
    ours = BatchNorm(shape[1], len(shape))
    ref = nn.BatchNorm(in_channels=shape[1])
    for layer in (ours, ref):
        layer.initialize(ctx=device)
    worst = 0.0
    for _ in range(steps):
        X = np.random.normal(3, 2, size=shape, ctx=device)
        with autograd.record():
            pairs = [(ours(X), ref(X))]
        pairs[0][1].backward()  # Gluon's running statistics move here
        pairs += [(ours.moving_mean, ref.running_mean.data()),
                  (ours.moving_var, ref.running_var.data())]  # fmt: skip
        for a, b in pairs:
            worst = max(worst, float(np.abs(a.reshape(b.shape) - b).max()))
    return max(worst, float(np.abs(ours(X) - ref(X)).max()))


# Shown in lesson 04, "Where the time goes: MXNet's profiler"
def profile(forward: Callable, dY=None, repeat: int = 10) -> tuple:
    """Time ``forward()`` (and its backward pass) with MXNet's profiler.

    One uncounted pass (it allocates memory), then `repeat` passes under
    ``mx.profiler`` with ``aggregate_stats=True``. With a head gradient `dY`
    each pass records ``forward()`` and runs ``backward(dY)`` (training
    mode); without, it runs ``forward()`` alone, in the caller's mode (wrap
    the call in ``autograd.train_mode()`` to time a training forward pass).

    Returns
    -------
    ms : float
        Median wall-clock milliseconds of one pass.
    ops : dict of str to float
        Milliseconds per pass of each operator the engine ran (names starting
        with ``::`` ran inside an ``autograd.Function``'s backward).

    Raises
    ------
    ValueError
        If `repeat` is below 1.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    times = []
    # The profiler writes its trace from its own thread, even after "stop":
    # one file in the temporary folder, overwritten by every call, so no
    # folder has to be removed while that thread may still write into it.
    trace = os.path.join(tempfile.gettempdir(), "bnlesson_profile.json")
    profiler.set_config(profile_all=True, aggregate_stats=True, filename=trace)
    try:
        for i in range(repeat + 1):
            if i == 1:
                profiler.set_state("run")
            start = time.perf_counter()
            one_pass(forward, dY)
            times.append(1000 * (time.perf_counter() - start))
    finally:
        profiler.set_state("stop")
    stats = json.loads(profiler.dumps(reset=True, format="json"))["Time"]
    ops = {**stats.get("operator", {}), **stats.get("Custom Operator", {})}
    # WaitForVar and DeleteVariable are the engine's bookkeeping, not operators
    ms = {k: v["Total"] / repeat for k, v in ops.items()
          if k not in ("WaitForVar", "DeleteVariable")}  # fmt: skip
    return float(onp.median(times[1:])), ms


# Shown in lesson 04, "Where the time goes: MXNet's profiler"
def one_pass(forward: Callable, dY=None) -> None:
    """``forward()``, then ``backward(dY)`` if `dY` is given; waits for the engine."""
    if dY is None:
        forward()
    else:
        with autograd.record():
            Y = forward()
        Y.backward(dY)
    npx.waitall()  # MXNet is asynchronous: wait until the work is done
