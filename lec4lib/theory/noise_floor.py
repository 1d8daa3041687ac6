"""SGD on the one-dimensional quadratic ``f(w) = μw²/2`` with additive gradient noise.

The stochastic gradient is ``g_t = μ w_t + σ ξ_t`` with ``ξ_t`` i.i.d. standard normal, so
``w_{t+1} = (1 − η_t μ) w_t − η_t σ ξ_t``. Squaring and taking expectations,

    E w_{t+1}² = (1 − η_t μ)² E w_t² + η_t² σ²,

an exact recursion (:func:`second_moment_recursion`). With a constant step ``0 < η < 2/μ``
the fixed point is the *noise floor*

    E w_∞² = η σ² / (μ (2 − η μ))    (about ησ²/(2μ) for small η),

proportional to ``η``: constant-step SGD does not converge to ``w* = 0``, it hovers at a
distance that shrinks only with the step. :func:`simulate_noisy_quadratic` runs many
independent chains to measure it.
"""

from __future__ import annotations

import numpy as np

from ..optim.schedules import as_schedule
from .momentum import momentum_noise_floor
from ..validation import check_int

__all__ = ["noise_floor_theory", "second_moment_recursion", "simulate_noisy_quadratic",
           "stationary_second_moment"]


def _check(mu, sigma):
    mu, sigma = float(mu), float(sigma)
    if not (np.isfinite(mu) and mu > 0):
        raise ValueError(f"mu must be a finite number > 0, got {mu}")
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    return mu, sigma


def noise_floor_theory(lr: float, mu: float, sigma: float) -> float:
    """Stationary ``E w²`` of constant-step SGD: ``η σ² / (μ (2 − η μ))``.

    Parameters
    ----------
    lr : float
        ``η`` in ``(0, 2/μ)``.
    mu : float
        Curvature ``> 0``.
    sigma : float
        Gradient-noise standard deviation ``>= 0``.

    Returns
    -------
    float

    Examples
    --------
    >>> noise_floor_theory(0.1, 1.0, 1.0)  # 0.1 / 1.9
    0.052631578947368425
    """
    mu, sigma = _check(mu, sigma)
    lr = float(lr)
    if not (0 < lr < 2 / mu):
        raise ValueError(f"lr must lie in (0, 2/mu) = (0, {2 / mu}) for a stationary state, got {lr}")
    return momentum_noise_floor(lr, 0.0, mu, sigma, form="velocity")   # SGD is momentum at β = 0


def second_moment_recursion(lr, mu: float, sigma: float, n_steps: int, w0: float = 1.0) -> np.ndarray:
    """Exact ``E w_t²`` for ``t = 0..n_steps`` from ``E w_{t+1}² = (1 − η_t μ)² E w_t² + η_t² σ²``.

    Parameters
    ----------
    lr : float or lec4lib.optim.schedules.Schedule
    mu, sigma : float
    n_steps : int
    w0 : float, default 1
        Deterministic start.

    Returns
    -------
    ndarray, shape (n_steps + 1,)

    Examples
    --------
    >>> second_moment_recursion(0.5, mu=1.0, sigma=1.0, n_steps=2).tolist()  # 1 → 1/4 + 1/4 → …
    [1.0, 0.5, 0.375]
    """
    mu, sigma = _check(mu, sigma)
    T = check_int("n_steps", n_steps)
    eta = as_schedule(lr).values(T)
    m = np.empty(T + 1)
    m[0] = float(w0) ** 2
    for t in range(T):
        m[t + 1] = (1 - eta[t] * mu) ** 2 * m[t] + eta[t] ** 2 * sigma ** 2
    return m


def simulate_noisy_quadratic(lr, mu: float, sigma: float, n_steps: int, n_chains: int = 1000,
                             seed: int = 0, w0: float = 1.0) -> np.ndarray:
    """Run ``n_chains`` independent SGD chains; return the chain average of ``w_t²``.

    Parameters
    ----------
    lr : float or lec4lib.optim.schedules.Schedule
        Step size ``η_t``.
    mu, sigma : float
        Curvature ``> 0`` and noise level ``>= 0``.
    n_steps : int
        ``>= 1``.
    n_chains : int, default 1000
    seed : int
    w0 : float, default 1

    Returns
    -------
    ndarray, shape (n_steps + 1,)
        ``(1/n_chains) Σ_chains w_t²`` for ``t = 0..n_steps``.

    Examples
    --------
    >>> m = simulate_noisy_quadratic(0.5, 1.0, 0.0, 3)  # no noise: w halves each step
    >>> m.tolist()
    [1.0, 0.25, 0.0625, 0.015625]
    """
    mu, sigma = _check(mu, sigma)
    T = check_int("n_steps", n_steps)
    if isinstance(n_chains, bool) or int(n_chains) != n_chains or n_chains < 1:
        raise ValueError(f"n_chains must be an integer >= 1, got {n_chains!r}")
    eta = as_schedule(lr).values(T)
    rng = np.random.default_rng(seed)
    w = np.full(int(n_chains), float(w0))
    out = np.empty(T + 1)
    out[0] = float(np.mean(w ** 2))
    for t in range(T):
        w = w - eta[t] * (mu * w + sigma * rng.standard_normal(w.size))
        out[t + 1] = float(np.mean(w ** 2))
    return out


def stationary_second_moment(lr: float, mu: float, sigma: float, n_chains: int = 2000,
                             seed: int = 0, burn_in_factor: float = 10.0, window: int = 500) -> float:
    """Measured noise floor of constant-step SGD: the chain- and time-average of ``w_t²``.

    The chains start at ``w* = 0``; the first ``burn_in_factor/(ημ)`` steps are dropped, then
    ``w_t²`` is averaged over ``window`` more steps.

    Parameters
    ----------
    lr : float
        ``η`` in ``(0, 2/μ)``.
    mu, sigma : float
    n_chains : int, default 2000
    seed : int
    burn_in_factor : float, default 10
    window : int, default 500

    Returns
    -------
    float
    """
    noise_floor_theory(lr, mu, sigma)  # validates lr, mu, sigma
    burn = int(np.ceil(burn_in_factor / (lr * mu)))
    m = simulate_noisy_quadratic(lr, mu, sigma, burn + int(window), n_chains, seed, w0=0.0)
    return float(np.mean(m[burn + 1:]))
