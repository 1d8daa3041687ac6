"""Gradient descent on quadratics, where every rate is known in closed form.

On ``f(w) = ½ Σ_i λ_i w_i²`` gradient descent with step ``η`` multiplies coordinate ``i``
by ``1 − ηλ_i`` each step, so it converges iff ``0 < η λ_max < 2`` and the error shrinks
by ``max_i |1 − ηλ_i|`` per step.
"""

from __future__ import annotations

import numpy as np
from ..validation import check_int, check_lr, check_number, check_positive_array


__all__ = ["gd_quadratic", "quadratic_grad", "quadratic_spectrum"]


def _curvatures(curvatures) -> np.ndarray:
    """The Hessian's eigenvalues: a non-empty 1-D array (a number counts), finite and ``> 0``."""
    lam = np.atleast_1d(check_positive_array("curvatures", curvatures))
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"Invalid curvatures: shape {lam.shape} (must be a non-empty 1-D array)")
    return lam


def gd_quadratic(curvatures, lr: float, steps: int, w0=None) -> np.ndarray:
    """Run gradient descent on ``f(w) = ½ Σ λ_i w_i²``.

    Parameters
    ----------
    curvatures : array_like of float, shape (d,)
        The eigenvalues ``λ_i > 0`` of the Hessian.
    lr : float
        Step size ``η > 0``.
    steps : int
        Number of steps, ``>= 0``.
    w0 : array_like, shape (d,), optional
        Starting point; defaults to all ones.

    Returns
    -------
    ndarray, shape (steps + 1, d)
        The iterates ``w_0, …, w_steps``.

    Examples
    --------
    >>> gd_quadratic([1.0], lr=0.5, steps=2)[:, 0]
    array([1.  , 0.5 , 0.25])
    """
    lam = _curvatures(curvatures)
    lr = check_lr(lr, schedule=False)
    steps = check_int("steps", steps, 0)
    w = np.ones_like(lam) if w0 is None else np.asarray(w0, dtype=float).copy()
    if w.shape != lam.shape:
        raise ValueError(f"w0 has shape {w.shape}, curvatures have shape {lam.shape}")
    out = np.empty((int(steps) + 1, lam.size))
    out[0] = w
    for t in range(int(steps)):
        w = w - lr * (lam * w)
        out[t + 1] = w
    return out


def quadratic_grad(curvatures):
    """Gradient ``w ↦ λ ⊙ w`` of ``f(w) = ½ Σ λ_i w_i²`` (λ > 0).

    Examples
    --------
    >>> quadratic_grad([1.0, 2.0])(np.ones(2))
    array([1., 2.])
    """
    lam = _curvatures(curvatures)
    return lambda w: lam * w


def quadratic_spectrum(kappa: float, d: int = 20, mu: float = 1.0) -> np.ndarray:
    """``d`` eigenvalues spread geometrically over ``[μ, κμ]`` (both ends included)."""
    kappa = check_number(kappa, "kappa", 1.0)
    d = check_int("d", d, 2)
    return check_number(mu, "mu", 0.0, low_open=True) * np.geomspace(1.0, kappa, d)
