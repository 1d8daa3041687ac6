"""The experiments of :ref:`chapter 03 <ch03>` (SGD against GD); the claim tests call the same functions.
"""

from __future__ import annotations

import numpy as np

from ..optim.driver import sgd

__all__ = ["mean_final_gap"]


def mean_final_gap(objective, lr, *, batch_size: int, epochs: float, seeds, f_star: float,
                   record_every: int | None = None) -> float:
    """Mean over ``seeds`` of SGD's final ``f(w) − f*``, from ``w = 0`` (one point of a tuning grid).

    Parameters
    ----------
    objective : finite-sum objective
    lr : float or callable
        Step size or schedule, as for :func:`~lec4lib.optim.driver.sgd`.
    batch_size, epochs, record_every
        As for :func:`~lec4lib.optim.driver.sgd`.
    seeds : iterable of int
        One run per seed.
    f_star : float
        The optimal loss.
    """
    finals = [sgd(objective, lr=lr, batch_size=batch_size, epochs=epochs, seed=s,
                  record_every=record_every).history.loss[-1] - f_star for s in seeds]
    if not finals:
        raise ValueError("seeds must not be empty")
    return float(np.mean(finals))
