"""The experiments of :ref:`chapter 02 <ch02>` (step sizes); the claim tests call the same functions.
"""

from __future__ import annotations

import numpy as np

from ..optim.driver import sgd
from ..optim.sgd import SGD
from ..validation import check_int, check_number

__all__ = ["asymptotic_constants", "mean_squared_distance", "stationary_gap"]

#: steps of examples :func:`mean_squared_distance` draws at once, per seed
DRAW_BLOCK = 4096


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

    One run of SGD from ``w = 0`` per seed (independent draws: the model of the step-size
    theory), each the run that ``sgd(objective, lr=lr, batch_size=1, sampling="replace",
    seed=s, record_every=record_every)`` of :mod:`lec4lib.optim.driver` makes. The runs go in
    lockstep, one row each of a ``(seeds, d)`` parameter array: at every step each seed
    takes its example from its own ``numpy.random.default_rng(s)`` (the driver's draws,
    drawn a block of steps at a time), the rows' gradients come from the objective's
    :meth:`~lec4lib.problems.objectives.LogisticRegression.row_grads` and one
    :class:`~lec4lib.optim.sgd.SGD` update moves them all. It gives the driver's runs to
    rounding (``tests/unit/test_rates_averaging_trajectory.py`` compares them), in one
    vectorised loop instead of one loop per seed.

    Parameters
    ----------
    objective : finite-sum objective
        :class:`~lec4lib.problems.objectives.LogisticRegression` or
        :class:`~lec4lib.problems.objectives.LeastSquares`.
    w_star : array
        Its minimiser.
    lr : float or callable
        Step size or schedule.
    n_steps, record_every
        As for :func:`~lec4lib.optim.driver.sgd`: the distances are recorded at steps
        ``0, record_every, 2·record_every, …`` and at ``n_steps``.
    seeds : iterable of int
        At least two.
    average_from : int, optional
        Also average ``‖w̄ − w*‖²`` of the iterate average (``sgd``'s ``average_from``: the
        iterates ``w_t`` for ``max(average_from, 1) <= t <= n_steps``).

    Returns
    -------
    (steps, msd, msd_avg)
        The recorded steps, the seed mean of ``‖w_t − w*‖²`` there, and the seed mean of
        ``‖w̄_T − w*‖²`` (``None`` without ``average_from``).

    Raises
    ------
    ValueError
        Bad input, or a run whose iterate stops being finite (the step is too large).
    """
    seeds = list(seeds)
    check_int("number of seeds", len(seeds), 2)
    rngs = [np.random.default_rng(check_int("seed", s, 0)) for s in seeds]
    T = check_int("n_steps", n_steps, 0)
    record_every = check_int("record_every", record_every, 1)
    if average_from is not None:
        average_from = check_int("average_from", average_from, 0, T)
    N, d = objective.n_samples, objective.n_features
    w_star = np.asarray(w_star, dtype=float)
    if w_star.shape != (d,):
        raise ValueError(f"w_star must have shape ({d},), got {w_star.shape}")
    opt = SGD(lr)
    W = np.zeros((len(seeds), d))
    W_sum = np.zeros_like(W)
    idx = None

    def grad(U):
        return objective.row_grads(U, idx, check=False)

    steps, msd = [0], [float(np.mean(np.sum((W - w_star) ** 2, axis=1)))]
    t = 0
    while t < T:
        chunk_end = min(T, (t // record_every + 1) * record_every)
        while t < chunk_end:
            # each seed's next examples in one call: rng.integers(0, N, size=n) is the same
            # stream as n single draws (the test against the driver holds it to that)
            n = min(chunk_end - t, DRAW_BLOCK)
            block = np.stack([rng.integers(0, N, size=n) for rng in rngs], axis=1)
            for idx in block:
                opt.step(W, grad)
                t += 1
                if average_from is not None and t >= average_from:
                    W_sum += W
        if not np.all(np.isfinite(W)):
            raise ValueError(f"SGD diverged by step {t} (lr={lr!r}): an iterate is not finite")
        steps.append(t)
        msd.append(float(np.mean(np.sum((W - w_star) ** 2, axis=1))))
    msd_avg = None
    if average_from is not None:
        W_avg = W_sum / max(T - max(average_from, 1) + 1, 1)
        msd_avg = float(np.mean(np.sum((W_avg - w_star) ** 2, axis=1)))
    return np.array(steps), np.array(msd), msd_avg


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
