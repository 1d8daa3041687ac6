"""The experiments of :ref:`chapter 02 <ch02>` (step sizes); the claim tests call the same functions.
"""

from __future__ import annotations

import numpy as np

from ..optim.driver import sgd
from ..validation import check_int, check_number

__all__ = ["asymptotic_constants", "mean_squared_distance", "stationary_gap"]


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


def mean_squared_distance(objective, w_star: np.ndarray, lr, *, n_steps: int, seeds,
                          record_every: int, average_from: int | None = None):
    """Seed-average of ``‖w_t − w*‖²`` for SGD with one example a step, drawn with replacement.

    Runs :func:`~lec4lib.optim.driver.sgd` from ``w = 0`` once per seed (independent draws:
    the model of the step-size theory) and averages the recorded squared distances.

    Parameters
    ----------
    objective : finite-sum objective
    w_star : array
        Its minimiser.
    lr : float or callable
        Step size or schedule.
    n_steps, record_every
        As for :func:`~lec4lib.optim.driver.sgd`.
    seeds : iterable of int
        At least two.
    average_from : int, optional
        Also average ``‖w̄ − w*‖²`` of the iterate average (``sgd``'s ``average_from``).

    Returns
    -------
    (steps, msd, msd_avg)
        The recorded steps, the seed mean of ``‖w_t − w*‖²`` there, and the seed mean of
        ``‖w̄_T − w*‖²`` (``None`` without ``average_from``).
    """
    seeds = list(seeds)
    check_int("number of seeds", len(seeds), 2)
    runs = [sgd(objective, lr=lr, batch_size=1, n_steps=n_steps, seed=s, sampling="replace",
                w_star=w_star, record_every=record_every, average_from=average_from) for s in seeds]
    msd = np.mean([r.history.dist ** 2 for r in runs], axis=0)
    msd_avg = None if average_from is None else float(
        np.mean([np.sum((r.w_avg - w_star) ** 2) for r in runs]))
    return runs[0].history.step, msd, msd_avg


def asymptotic_constants(objective, w_star: np.ndarray, c: float) -> tuple[float, float]:
    """Limits of ``t·E‖w_t − w*‖²`` near ``w*`` (linearised SGD, one example a step).

    With ``H = ∇²f(w*) = Q diag(λ) Qᵀ`` and ``C`` the covariance of one sampled gradient at
    ``w*``, the linearised recursion decouples in the eigenbasis of ``H``:

    * step ``η_t ≈ c/t``: ``c² Σ_i (QᵀCQ)_ii / (2cλ_i − 1)``, finite only if ``2cλ_min > 1``
      (``inf`` otherwise);
    * iterate average with a small constant step: ``tr(H⁻¹ C H⁻¹)`` per averaged step, the
      Polyak–Juditsky (1992) limit, the smallest any unbiased estimator reaches.

    Returns
    -------
    (one_over_t, polyak_juditsky) : tuple of float
    """
    c = check_number(c, "c", 0.0, low_open=True)
    G = objective.per_sample_grads(w_star)
    C = np.cov(G.T, bias=True)
    H = objective.hessian(w_star)
    lam, Q = np.linalg.eigh(H)
    cq = np.einsum("ij,jk,ki->i", Q.T, C, Q)
    one_over_t = float("inf") if 2 * c * lam[0] <= 1 else float(c * c * np.sum(cq / (2 * c * lam - 1)))
    Hinv = np.linalg.inv(H)
    return one_over_t, float(np.trace(Hinv @ C @ Hinv))
