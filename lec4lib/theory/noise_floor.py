"""SGD on the one-dimensional quadratic ``f(w) = μw²/2`` with additive gradient noise.

The stochastic gradient is ``g_t = μ w_t + σ ξ_t`` with ``ξ_t`` i.i.d. standard normal, so
``w_{t+1} = (1 − η_t μ) w_t − η_t σ ξ_t``. Squaring and taking expectations,

    E w_{t+1}² = (1 − η_t μ)² E w_t² + η_t² σ²,

an exact recursion (:func:`second_moment_recursion`). With a constant step ``0 < η < 2/μ``
the fixed point is the *noise floor*

    E w_∞² = η σ² / (μ (2 − η μ))    (about ησ²/(2μ) for small η),

proportional to ``η``: constant-step SGD does not converge to ``w* = 0``, it hovers at a
distance that shrinks only with the step.

One simulator measures it, for any lec4lib optimizer: :func:`noisy_quadratic_second_moments`
runs many independent chains at once (the optimizers act per coordinate) and returns the
chain average of ``w_t²``. :func:`simulate_noisy_quadratic` is that for SGD with a step or
schedule, :func:`measured_noise_floor` its time average after a burn-in, and
:func:`stationary_second_moment` the SGD floor with a burn-in scaled to the step.
"""

from __future__ import annotations

import numpy as np

from ..optim.optimizer import Optimizer
from ..optim.schedules import as_schedule
from ..optim.sgd import SGD
from .momentum import momentum_noise_floor
from ..validation import check_int, check_number

__all__ = ["measured_noise_floor", "noise_floor_theory", "noisy_quadratic_second_moments",
           "second_moment_recursion", "simulate_noisy_quadratic", "stationary_second_moment"]


def _check(mu, sigma):
    return (check_number(mu, "mu", 0.0, low_open=True), check_number(sigma, "sigma", 0.0))


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
    lr = check_number(lr, "lr", 0.0, 2 / mu, low_open=True)   # (0, 2/μ): a stationary state exists
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


def noisy_quadratic_second_moments(optimizer: Optimizer, mu: float, sigma: float, n_steps: int, *,
                                   n_chains: int = 1000, seed: int = 0, w0: float = 1.0) -> np.ndarray:
    """Run ``optimizer`` on ``n_chains`` independent noisy quadratics; the chain average of ``w_t²``.

    Every chain is one coordinate of the optimizer's parameter vector, with the gradient
    ``μ w + σ ξ`` (``ξ`` standard normal, drawn from ``numpy.random.default_rng(seed)``, one
    vector per step). The optimizer is :meth:`~lec4lib.optim.optimizer.Optimizer.reset` first.

    Parameters
    ----------
    optimizer : lec4lib.optim.optimizer.Optimizer
        Any numpy optimizer of lec4lib (SGD, the momentum forms, Adagrad, Adam, ...).
    mu, sigma : float
        Curvature ``> 0`` and noise level ``>= 0``.
    n_steps : int
        ``>= 1``.
    n_chains : int, default 1000
        ``>= 1``.
    seed : int
    w0 : float, default 1
        The start of every chain.

    Returns
    -------
    ndarray, shape (n_steps + 1,)
        ``(1/n_chains) Σ_chains w_t²`` for ``t = 0..n_steps``.

    Examples
    --------
    >>> from lec4lib.optim.sgd import SGD
    >>> noisy_quadratic_second_moments(SGD(0.5), 1.0, 0.0, 2).tolist()  # no noise: w halves
    [1.0, 0.25, 0.0625]
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be a lec4lib Optimizer, got {type(optimizer).__name__}")
    mu, sigma = _check(mu, sigma)
    T = check_int("n_steps", n_steps)
    n_chains = check_int("n_chains", n_chains)
    rng = np.random.default_rng(seed)
    w = np.full(n_chains, float(w0))
    optimizer.reset()
    out = np.empty(T + 1)
    out[0] = float(np.mean(w ** 2))
    for t in range(T):
        optimizer.step(w, lambda u: mu * u + sigma * rng.standard_normal(u.size))
        out[t + 1] = float(np.mean(w ** 2))
    return out


def simulate_noisy_quadratic(lr, mu: float, sigma: float, n_steps: int, n_chains: int = 1000,
                             seed: int = 0, w0: float = 1.0) -> np.ndarray:
    """SGD with step or schedule ``lr``: :func:`noisy_quadratic_second_moments` of ``SGD(lr)``.

    Parameters
    ----------
    lr : float or lec4lib.optim.schedules.Schedule
        Step size ``η_t``.
    mu, sigma, n_steps, n_chains, seed, w0
        As for :func:`noisy_quadratic_second_moments`.

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
    T = check_int("n_steps", n_steps)
    eta = as_schedule(lr).values(T)     # a schedule's values, computed as the recursion does
    return noisy_quadratic_second_moments(SGD(lambda t: eta[t]), mu, sigma, T, n_chains=n_chains,
                                          seed=seed, w0=w0)


def measured_noise_floor(optimizer: Optimizer, mu: float, sigma: float, *, steps: int,
                         burn_in: int, n_chains: int, seed: int = 0) -> float:
    """Measured stationary ``E w²`` of ``optimizer``: chains from ``w = 0``, averaged after ``burn_in``.

    The mean over ``t = burn_in + 1 .. steps`` of :func:`noisy_quadratic_second_moments`
    (started at ``w0 = 0``).

    Parameters
    ----------
    optimizer : lec4lib.optim.optimizer.Optimizer
    mu, sigma : float
        Curvature ``> 0`` and noise level ``>= 0``.
    steps : int
        Steps in all, ``>= 2``.
    burn_in : int
        Steps left out at the start, in ``[0, steps)``.
    n_chains : int
    seed : int
    """
    steps = check_int("steps", steps, 2)
    burn_in = check_int("burn_in", burn_in, 0, steps - 1)
    m = noisy_quadratic_second_moments(optimizer, mu, sigma, steps, n_chains=n_chains, seed=seed,
                                       w0=0.0)
    return float(np.mean(m[burn_in + 1:]))


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
    window = check_int("window", window)
    return measured_noise_floor(SGD(lr), mu, sigma, steps=burn + window, burn_in=burn,
                                n_chains=n_chains, seed=seed)
