r"""The numbers behind lesson 01's sliders: batch statistics, by hand, in NumPy.

* :func:`normalize` and :func:`moved`: one feature normalized over a batch,
  and the batch with one example moved.
* :func:`batch_statistics` and :func:`mean_noise`: the means and variances
  of random batches of a population, and the spread a batch mean has.
* :func:`moving_average`, :func:`batches_for_share` and
  :func:`settled_noise`: the moving average batch norm keeps, how many
  batches it remembers and how much it still wobbles.

The sliders and their figures are :mod:`bnlesson.plots.batchsliders`.
"""

from __future__ import annotations

import math

import numpy as onp

EPS = 1e-5


def normalize(x, eps: float = EPS) -> onp.ndarray:
    r"""The normalized values of one feature over a batch, as batch norm trains.

    .. math:: \hat x_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}

    with the batch mean :math:`\mu_B` and the biased batch variance
    :math:`\sigma_B^2` of the values `x` (shape ``(m,)``).
    """
    x = onp.asarray(x, dtype=onp.float64)
    return (x - x.mean()) / onp.sqrt(x.var() + eps)


def moved(x, index: int, shift: float) -> onp.ndarray:
    """A copy of the batch `x` with example `index` moved by `shift`."""
    x = onp.array(x, dtype=onp.float64)
    x[index] += shift
    return x


def batch_statistics(population, batch_size: int, batches: int = 1000, seed=0):
    """Means and biased variances of random batches of `population`.

    Batches are drawn as a shuffled loader draws them: each epoch is a new
    permutation of the population cut into consecutive batches of
    `batch_size` (so no value is drawn twice in one batch), for as many
    epochs as `batches` need.

    Returns
    -------
    means, variances : numpy.ndarray, shape (batches,)
    """
    population = onp.asarray(population, dtype=onp.float64)
    n = len(population)
    if not 2 <= batch_size <= n:
        raise ValueError(f"batch_size must be in [2, {n}], not {batch_size}")
    rng = onp.random.default_rng(seed)
    per_epoch = n // batch_size
    epochs = math.ceil(batches / per_epoch)
    order = onp.concatenate(
        [rng.permutation(n)[: per_epoch * batch_size] for _ in range(epochs)]
    )
    values = population[order].reshape(-1, batch_size)[:batches]
    return values.mean(axis=1), values.var(axis=1)


def mean_noise(population, batch_size: int) -> float:
    r"""The standard deviation of a batch mean, batches drawn without replacement.

    .. math:: \frac{\sigma}{\sqrt B}\sqrt{\frac{N - B}{N - 1}}

    for a population of :math:`N` values with standard deviation
    :math:`\sigma` and batches of :math:`B` (the square root is the finite
    population correction, near 1 for :math:`B \ll N`).
    """
    n = len(population)
    sigma = float(onp.std(population))
    return sigma / math.sqrt(batch_size) * math.sqrt((n - batch_size) / (n - 1))


def moving_average(values, momentum: float, start: float = 0.0) -> onp.ndarray:
    r"""The moving average after each of `values`, as batch norm keeps it.

    :math:`s_t = \lambda s_{t-1} + (1 - \lambda) v_t` with
    :math:`\lambda` = `momentum`, from :math:`s_0` = `start`.
    """
    out, s = [], float(start)
    for v in onp.asarray(values, dtype=onp.float64):
        s = momentum * s + (1 - momentum) * v
        out.append(s)
    return onp.array(out)


def batches_for_share(momentum: float, share: float = 0.9) -> int:
    r"""How many of the latest batches carry `share` of the moving average's weight.

    Batch :math:`j` batches ago weighs :math:`(1-\lambda)\lambda^j`, so the
    latest :math:`k` carry :math:`1 - \lambda^k`; the answer is the smallest
    :math:`k` with :math:`1 - \lambda^k \ge` `share`.
    """
    if momentum == 0:
        return 1
    return math.ceil(math.log(1 - share) / math.log(momentum) - 1e-9)


def settled_noise(batch_std: float, momentum: float) -> float:
    r"""The standard deviation of a settled moving average of independent values.

    :math:`\mathrm{sd}\,\sum_j (1-\lambda)\lambda^j v_j =
    s\,\sqrt{(1-\lambda)/(1+\lambda)}` for values of standard deviation
    :math:`s` = `batch_std`.
    """
    return batch_std * math.sqrt((1 - momentum) / (1 + momentum))
