"""The experiments of chapter 02 (step sizes); the claim tests call the same functions.
"""

from __future__ import annotations

import numpy as np

from ..optim.driver import sgd

__all__ = ["stationary_gap"]


def stationary_gap(objective, w_star: np.ndarray, lr: float, sampling: str, *, epochs: float,
                   record_every: int, seed: int = 0) -> float:
    """SGD's stationary loss gap at a fixed step: one example a step, started at ``w*``.

    Runs :func:`~lec4lib.optim.driver.sgd` with ``batch_size=1`` from ``w_star`` and returns
    the mean of ``f(w_t) − f(w*)`` over the recorded points of the last three quarters of the
    run (the first quarter is the transient away from ``w*``).

    Parameters
    ----------
    objective : finite-sum objective
        For example :class:`~lec4lib.problems.objectives.LogisticRegression`.
    w_star : array
        Its minimiser (the start, and the reference loss).
    lr : float
        The constant step size.
    sampling : {"replace", "shuffle"}
        Independent draws with replacement (the model the theory assumes), or epoch-wise
        shuffling (``sgd``'s default).
    epochs, record_every, seed
        As for :func:`~lec4lib.optim.driver.sgd`.
    """
    f_star = objective.loss(w_star)
    run = sgd(objective, w_star, lr=lr, batch_size=1, epochs=epochs, seed=seed, sampling=sampling,
              record_every=record_every)
    gap = run.history.loss - f_star
    return float(np.mean(gap[len(gap) // 4:]))
