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

Two results beyond the noise floor (:ref:`chapter 02 <ch02>`, "How fast" and "Averaging"):

* with ``η_t = c/t`` the error is ``O(1/t)`` only when ``cμ > 1/2``, with the constant
  ``c²σ²/(2cμ − 1)`` (:func:`one_over_t_constant`); below, it decays like ``t^(−2cμ)``
  (Nemirovski, Juditsky, Lan & Shapiro 2009, §1; Bottou, Curtis & Nocedal 2018, §4.2);
* the average ``w̄`` of the iterates (Polyak & Juditsky 1992; Ruppert 1988) converges
  with a constant step: :func:`averaged_second_moment_recursion` gives ``E w̄²`` exactly,
  :func:`noisy_quadratic_averages` measures it. For a constant step ``T·E w̄_T² → σ²/μ²``.
"""

from __future__ import annotations

import numpy as np

from ..optim.optimizer import Optimizer
from ..optim.schedules import as_schedule
from ..optim.sgd import SGD
from .momentum import momentum_noise_floor
from ..validation import check_int, check_number

__all__ = ["averaged_second_moment_recursion", "measured_noise_floor", "noise_floor_theory",
           "noisy_quadratic_averages", "noisy_quadratic_second_moments", "one_over_t_constant",
           "second_moment_recursion", "simulate_averaged_sgd", "simulate_noisy_quadratic",
           "stationary_second_moment"]


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
    T = check_int("n_steps", n_steps)
    out = np.empty(T + 1)
    for t, w in enumerate(_chains(optimizer, mu, sigma, T, n_chains, seed, w0)):
        out[t] = float(np.mean(w ** 2))
    return out


def _chains(optimizer, mu, sigma, n_steps, n_chains, seed, w0):
    """Yield the chains' ``w_t`` (one array, updated in place) for ``t = 0..n_steps``."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be a lec4lib Optimizer, got {type(optimizer).__name__}")
    mu, sigma = _check(mu, sigma)
    T = check_int("n_steps", n_steps)
    n_chains = check_int("n_chains", n_chains)
    rng = np.random.default_rng(seed)
    w = np.full(n_chains, float(w0))
    optimizer.reset()
    yield w
    for _ in range(T):
        optimizer.step(w, lambda u: mu * u + sigma * rng.standard_normal(u.size))
        yield w


def noisy_quadratic_averages(optimizer: Optimizer, mu: float, sigma: float, n_steps: int, *,
                             average_from: int = 1, n_chains: int = 1000, seed: int = 0,
                             w0: float = 1.0) -> tuple[float, float]:
    """Last iterate and iterate average of ``optimizer`` on the noisy quadratic, over chains.

    The chains are those of :func:`noisy_quadratic_second_moments` (same seed, same draws).
    The average is ``w̄ = (1/n) Σ_{t=a}^{T} w_t`` with ``a = average_from`` and
    ``n = T − a + 1``, the iterates that :func:`lec4lib.optim.driver.minibatch` averages.

    Parameters
    ----------
    optimizer : lec4lib.optim.optimizer.Optimizer
    mu, sigma : float
    n_steps : int
        ``T >= 1``.
    average_from : int, default 1
        ``a`` in ``1..T``.
    n_chains, seed, w0
        As for :func:`noisy_quadratic_second_moments`.

    Returns
    -------
    (last, averaged) : tuple of float
        The chain means of ``w_T²`` and of ``w̄²``.

    Examples
    --------
    >>> from lec4lib.optim.sgd import SGD
    >>> noisy_quadratic_averages(SGD(0.5), 1.0, 0.0, 2, n_chains=3)  # w = 1/2, 1/4: w̄ = 3/8
    (0.0625, 0.140625)
    """
    T = check_int("n_steps", n_steps)
    a = check_int("average_from", average_from, 1, T)
    total = None
    for t, w in enumerate(_chains(optimizer, mu, sigma, T, n_chains, seed, w0)):
        if t == a:
            total = w.copy()
        elif t > a:
            total += w
    w_bar = total / (T - a + 1)
    return float(np.mean(w ** 2)), float(np.mean(w_bar ** 2))


def averaged_second_moment_recursion(lr, mu: float, sigma: float, n_steps: int, *,
                                     average_from: int = 1, w0: float = 1.0) -> np.ndarray:
    """Exact ``E w̄_t²`` of SGD's iterate average on the noisy quadratic, for every ``t``.

    ``w̄_t = (1/n_t) Σ_{s=a}^{t} w_s``, ``n_t = t − a + 1``, ``a = average_from``. With
    ``r_t = 1 − η_t μ`` and ``S_t = Σ_{s=a}^{t} w_s``, the noise of step ``t`` is independent of
    the past, so three second moments close under the recursion:

        E w_{t+1}²      = r_t² E w_t² + η_t² σ²
        E S_{t+1}w_{t+1} = r_t E S_t w_t + E w_{t+1}²
        E S_{t+1}²      = E S_t² + 2 r_t E S_t w_t + E w_{t+1}²

    Parameters
    ----------
    lr : float or lec4lib.optim.schedules.Schedule
    mu, sigma : float
    n_steps : int
    average_from : int, default 1
        ``a`` in ``1..n_steps``.
    w0 : float, default 1
        Deterministic start.

    Returns
    -------
    ndarray, shape (n_steps + 1,)
        ``E w̄_t²`` for ``t >= a``, NaN before.

    Examples
    --------
    >>> averaged_second_moment_recursion(0.5, 1.0, 0.0, 2).tolist()  # w = 1/2, 1/4
    [nan, 0.25, 0.140625]
    """
    mu, sigma = _check(mu, sigma)
    T = check_int("n_steps", n_steps)
    a = check_int("average_from", average_from, 1, T)
    eta = as_schedule(lr).values(T)
    out = np.full(T + 1, np.nan)
    m2, sw, s2 = float(w0) ** 2, 0.0, 0.0       # E w_t², E S_t w_t, E S_t²
    for t in range(T):
        r = 1 - eta[t] * mu
        m2_next = r * r * m2 + eta[t] ** 2 * sigma ** 2
        if t + 1 >= a:
            s2 = s2 + 2 * r * sw + m2_next
            sw = r * sw + m2_next
            out[t + 1] = s2 / (t + 2 - a) ** 2
        m2 = m2_next
    return out


def one_over_t_constant(c: float, mu: float, sigma: float) -> float:
    """The limit of ``t·E w_t²`` for SGD with ``η_t ≈ c/t`` on the noisy quadratic.

    ``c²σ²/(2cμ − 1)`` when ``cμ > 1/2``; ``inf`` otherwise (then ``E w_t²`` decays like
    ``t^(−2cμ)``, or like ``log t / t`` at ``cμ = 1/2``, slower than ``1/t``). Its minimum
    over ``c`` is ``σ²/μ²``, at ``c = 1/μ``.

    Examples
    --------
    >>> one_over_t_constant(1.0, 1.0, 1.0)
    1.0
    >>> one_over_t_constant(0.25, 1.0, 1.0)
    inf
    """
    mu, sigma = _check(mu, sigma)
    c = check_number(c, "c", 0.0, low_open=True)
    if 2 * c * mu <= 1:
        return float("inf")
    return c * c * sigma ** 2 / (2 * c * mu - 1)


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


def simulate_averaged_sgd(lr, mu: float, sigma: float, n_steps: int, *, average_from: int = 1,
                          n_chains: int = 1000, seed: int = 0, w0: float = 1.0) -> tuple[float, float]:
    """SGD with step or schedule ``lr``: :func:`noisy_quadratic_averages` of ``SGD(lr)``.

    Returns
    -------
    (last, averaged) : tuple of float
        The chain means of ``w_T²`` and of ``w̄²``.
    """
    T = check_int("n_steps", n_steps)
    eta = as_schedule(lr).values(T)
    return noisy_quadratic_averages(SGD(lambda t: eta[t]), mu, sigma, T, average_from=average_from,
                                    n_chains=n_chains, seed=seed, w0=w0)
