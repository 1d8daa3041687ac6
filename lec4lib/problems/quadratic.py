"""Gradient descent on quadratics, where every rate is known in closed form.

On ``f(w) = ½ Σ_i λ_i w_i²`` gradient descent with step ``η`` multiplies coordinate ``i``
by ``1 − ηλ_i`` each step, so it converges iff ``0 < η λ_max < 2`` and the error shrinks
by ``max_i |1 − ηλ_i|`` per step.
"""

from __future__ import annotations

import numpy as np
from ..validation import check_positive_array


__all__ = ["gd_quadratic", "quadratic_grad", "quadratic_spectrum"]


def _curvatures(curvatures) -> np.ndarray:
    lam = np.atleast_1d(np.asarray(curvatures, dtype=float))
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"curvatures must be a non-empty 1-D array, got shape {lam.shape}")
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError(f"curvatures must be finite and > 0, got {lam}")
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
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr} (must be > 0)")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
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
    lam = np.asarray(curvatures, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or np.any(~np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError(f"curvatures must be a non-empty 1-D array of finite values > 0, got {lam}")
    return lambda w: lam * w


def quadratic_spectrum(kappa: float, d: int = 20, mu: float = 1.0) -> np.ndarray:
    """``d`` eigenvalues spread geometrically over ``[μ, κμ]`` (both ends included)."""
    kappa = float(check_positive_array("kappa", kappa))
    if kappa < 1:
        raise ValueError(f"kappa must be >= 1, got {kappa}")
    if int(d) != d or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d}")
    return float(check_positive_array("mu", mu)) * np.geomspace(1.0, kappa, int(d))
