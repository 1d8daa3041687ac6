"""Argument checks shared by lec4lib's public functions and classes.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = []


def _check_beta(name: str, beta) -> float:
    if not isinstance(beta, (int, float, np.floating, np.integer)) or not (0.0 <= beta < 1.0):
        raise ValueError(f"Invalid {name}: {beta!r} (must be in [0, 1))")
    return float(beta)


def _check_eps(name: str, eps) -> float:
    if not isinstance(eps, (int, float, np.floating, np.integer)) or not (
            math.isfinite(eps) and eps > 0):
        raise ValueError(f"Invalid {name}: {eps!r} (must be finite and > 0)")
    return float(eps)


def _check_lr(lr):
    if callable(lr):
        return lr
    if not isinstance(lr, (int, float, np.floating, np.integer)) or not (
            math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr!r} (must be finite and > 0, "
                         "or a schedule lr(t))")
    return float(lr)


def _pos_int(name, x, minimum=1):
    if int(x) != x or x < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {x}")
    return int(x)


def _pos(name, x):
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {x}")
    return x


def _beta(name, b):
    b = np.asarray(b, dtype=float)
    if not np.all(np.isfinite(b)) or np.any(b < 0) or np.any(b >= 1):
        raise ValueError(f"{name} must be in [0, 1), got {b}")
    return b
