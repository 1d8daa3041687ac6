"""Momentum on quadratics: spectral radii, stability regions, optimal parameters, noise floors.

On ``f(w) = ½ Σ λ_i w_i²`` every coordinate evolves on its own. Heavy ball in the velocity
form (``v ← βv + αλw``, ``w ← w − v``; torch's ``SGD(lr=α, momentum=β)``) gives the
two-term recurrence

    w_{t+1} = (1 + β − αλ) w_t − β w_{t−1},

whose characteristic polynomial is ``z² − (1 + β − αλ) z + β``; Nesterov's look-ahead
gives ``w_{t+1} = (1 + β)(1 − αλ) w_t − β(1 − αλ) w_{t−1}``. The error shrinks like
``ρ^t`` where ``ρ`` is the larger root modulus, maximised over the eigenvalues.
All step sizes here are in the velocity form; the moving-average form with step ``α'``
is the same method with ``α = α'(1 − β)``.

References: B. T. Polyak (1964), "Some methods of speeding up the convergence of
iteration methods"; G. Goh (2017), "Why momentum really works", Distill.
"""

from __future__ import annotations

import numpy as np

from ..problems.quadratic import _curvatures
from ..validation import check_int, check_number, check_positive_array, check_unit_interval_array

__all__ = ["heavy_ball_radius", "ema_momentum_radius", "stability_limit", "nesterov_radius", "gd_optimal", "heavy_ball_optimal",
           "momentum_noise_floor", "ema_variance_ratio",
           "ema_weights", "gd_contraction"]


def _max_root_modulus(b, c):
    """max |z| over the roots of z² − b z + c (elementwise, broadcasting)."""
    disc = (b * b - 4 * c).astype(complex)
    s = np.sqrt(disc)
    return np.maximum(np.abs((b + s) / 2), np.abs((b - s) / 2))


def heavy_ball_radius(alpha, beta, curvatures) -> np.ndarray:
    """Spectral radius of heavy ball (velocity form) on a quadratic.

    Parameters
    ----------
    alpha : array_like
        Step sizes ``α > 0`` (velocity form).
    beta : array_like
        Momentum ``β`` in ``[0, 1)``; broadcast against ``alpha``.
    curvatures : array_like, shape (d,)
        Eigenvalues ``λ > 0`` of the Hessian.

    Returns
    -------
    ndarray
        ``max_λ max|z|`` over the roots of ``z² − (1+β−αλ) z + β``, shape of
        ``broadcast(alpha, beta)``. It is ``< 1`` iff ``0 < αλ < 2 + 2β`` for every λ.

    Examples
    --------
    >>> float(heavy_ball_radius(0.5, 0.0, [1.0]))   # plain GD: |1 − αλ|
    0.5
    """
    a, b = np.broadcast_arrays(check_positive_array("alpha", alpha), check_unit_interval_array("beta", beta))
    lam = np.atleast_1d(check_positive_array("curvatures", curvatures))
    out = np.zeros(a.shape)
    for l in lam:
        out = np.maximum(out, _max_root_modulus(1 + b - a * l, b))
    return out


def ema_momentum_radius(alpha, beta, curvatures) -> np.ndarray:
    """Spectral radius of the slide's moving-average form on a quadratic.

    ``v_t = βv_{t−1} + (1 − β)λw_t``, ``w_{t+1} = w_t − αv_t`` moves ``(w, v)`` by the matrix
    ``[[1 − α(1−β)λ, −αβ], [(1−β)λ, β]]``, whose characteristic polynomial
    ``z² − (1 + β − α(1−β)λ) z + β`` is heavy ball's with step ``α(1 − β)``. So it is
    :func:`heavy_ball_radius` at ``α(1 − β)``: stable iff ``0 < αλ < 2(1 + β)/(1 − β)``.

    Examples
    --------
    >>> float(ema_momentum_radius(2.0, 0.5, [1.0]))   # α(1−β)λ = 1: roots of z² − 0.5z + 0.5
    0.7071067811865476
    """
    a = np.asarray(check_positive_array("alpha", alpha), dtype=float)
    b = np.asarray(check_unit_interval_array("beta", beta), dtype=float)
    return heavy_ball_radius(a * (1 - b), b, curvatures)


def stability_limit(beta: float, form: str = "velocity") -> float:
    """The largest stable ``αλ`` of momentum on a quadratic, in either of the slide's forms.

    ``2 + 2β`` in the velocity (heavy-ball) form, ``2(1 + β)/(1 − β)`` in the moving-average
    form (the same bound on its effective step ``α(1 − β)``). Jury's test for
    ``z² − (1 + β − a) z + β``: both roots inside the unit circle iff ``|β| < 1`` and
    ``0 < a < 2 + 2β``.

    Examples
    --------
    >>> stability_limit(0.5), stability_limit(0.5, form="ema")
    (3.0, 6.0)
    """
    b = float(check_unit_interval_array("beta", beta))
    if form == "velocity":
        return 2 + 2 * b
    if form == "ema":
        return 2 * (1 + b) / (1 - b)
    raise ValueError(f"form must be 'ema' or 'velocity', got {form!r}")


def nesterov_radius(alpha, beta, curvatures) -> np.ndarray:
    """Spectral radius of Nesterov's method (look-ahead form) on a quadratic.

    Roots of ``z² − (1+β)(1−αλ) z + β(1−αλ)``, maximised over λ; arguments as
    :func:`heavy_ball_radius`.

    Examples
    --------
    >>> float(nesterov_radius(1.0, 0.5, [1.0]))    # αλ = 1: one step to the minimum
    0.0
    """
    a, b = np.broadcast_arrays(check_positive_array("alpha", alpha), check_unit_interval_array("beta", beta))
    lam = np.atleast_1d(check_positive_array("curvatures", curvatures))
    out = np.zeros(a.shape)
    for l in lam:
        q = 1 - a * l
        out = np.maximum(out, _max_root_modulus((1 + b) * q, b * q))
    return out


def gd_optimal(mu: float, L: float) -> tuple[float, float]:
    """Best constant step of gradient descent on spectrum ``[μ, L]`` and its rate.

    Returns
    -------
    (alpha, rate)
        ``α = 2/(L + μ)`` and ``(κ − 1)/(κ + 1)``, ``κ = L/μ``.
    """
    mu = check_number(mu, "mu", 0.0, low_open=True)
    L = check_number(L, "L", mu)                  # the spectrum [μ, L]: L >= μ
    k = L / mu
    return 2.0 / (L + mu), (k - 1) / (k + 1)


def heavy_ball_optimal(mu: float, L: float) -> tuple[float, float, float]:
    """Polyak's optimal heavy-ball parameters on spectrum ``[μ, L]``.

    Returns
    -------
    (alpha, beta, rate)
        ``α = 4/(√L + √μ)²``, ``β = ((√κ − 1)/(√κ + 1))²``, rate ``(√κ − 1)/(√κ + 1)``.

    Examples
    --------
    >>> heavy_ball_optimal(1.0, 1.0)
    (1.0, 0.0, 0.0)
    """
    mu = check_number(mu, "mu", 0.0, low_open=True)
    L = check_number(L, "L", mu)                  # the spectrum [μ, L]: L >= μ
    sk = np.sqrt(L / mu)
    rate = (sk - 1) / (sk + 1)
    return float(4.0 / (np.sqrt(L) + np.sqrt(mu)) ** 2), float(rate ** 2), float(rate)


def momentum_noise_floor(alpha: float, beta: float, curvature: float, sigma: float,
                         form: str = "ema") -> float:
    """Stationary ``E w²`` of momentum SGD on ``f = ½λw²`` with gradient noise of variance σ².

    The gradient is ``λw + ξ``, ``ξ`` i.i.d. with mean 0 and variance ``σ²``. In the
    velocity form (step ``α``) the iterate is an AR(2) process, whose variance is

        E w² = (1 + β) α σ² / ((1 − β) λ (2 + 2β − αλ)).

    With ``β = 0`` this is SGD's ``ασ²/(λ(2 − αλ))``. In the moving-average form with
    step ``α`` substitute ``α(1 − β)``: ``E w² = (1 + β) α σ² / (λ (2 + 2β − α(1−β)λ))``.

    Parameters
    ----------
    alpha, curvature, sigma : float
        Step ``α > 0``, curvature ``λ > 0``, noise standard deviation ``σ >= 0``.
    beta : float
        Momentum in ``[0, 1)``.
    form : {"ema", "velocity"}
        Which momentum form ``alpha`` belongs to.

    Returns
    -------
    float
        The stationary second moment (``inf`` outside the stability region).
    """
    a = float(check_positive_array("alpha", alpha))
    b = float(check_unit_interval_array("beta", beta))
    lam = float(check_positive_array("curvature", curvature))
    s2 = check_number(sigma, "sigma", 0.0) ** 2
    if form == "ema":
        a = a * (1 - b)
    elif form != "velocity":
        raise ValueError(f"form must be 'ema' or 'velocity', got {form!r}")
    gap = 2 + 2 * b - a * lam
    if gap <= 0:
        return float("inf")
    return (1 + b) * a * s2 / ((1 - b) * lam * gap)


def ema_variance_ratio(beta: float) -> float:
    """Variance of the moving average ``v = βv + (1−β)g`` of i.i.d. ``g``, over Var g.

    In the stationary limit ``Var v / Var g = (1 − β)² Σ β^{2k} = (1 − β)/(1 + β)``.
    """
    b = float(check_unit_interval_array("beta", beta))
    return (1 - b) / (1 + b)


def ema_weights(beta: float, k: int) -> np.ndarray:
    """Weights ``(1 − β) β^j``, ``j = 0 … k−1``, of the gradients ``j`` steps back in ``v_t``."""
    b = float(check_unit_interval_array("beta", beta))
    k = check_int("k", k)
    return (1 - b) * b ** np.arange(k)


def gd_contraction(curvatures, lr: float) -> float:
    """Theoretical per-step contraction ``max_i |1 − η λ_i|`` of GD on the quadratic."""
    lam = _curvatures(curvatures)
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr} (must be > 0)")
    return float(np.max(np.abs(1.0 - lr * lam)))
