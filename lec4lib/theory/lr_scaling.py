"""Learning-rate scaling rules for larger batches, and the bound ``2/L`` they run into.
"""

from __future__ import annotations

import math

import numpy as np
from ..validation import check_number

__all__ = ["RULES", "scaled_lr", "max_stable_batch", "least_squares_curvatures"]


RULES = ("none", "sqrt", "linear")


def _rule(rule: str) -> str:
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    return rule


def scaled_lr(base_lr: float, base_batch: int, batch_size: int, rule: str) -> float:
    """Learning rate for ``batch_size`` from ``base_lr`` tuned at ``base_batch``.

    Parameters
    ----------
    base_lr : float
        Step size ``η₀ > 0`` that works at ``base_batch``.
    base_batch : int
        ``B₀ >= 1``.
    batch_size : int
        ``B >= 1``.
    rule : {"none", "sqrt", "linear"}
        ``η₀``, ``η₀·√(B/B₀)`` or ``η₀·B/B₀``.

    Returns
    -------
    float

    Examples
    --------
    >>> scaled_lr(0.1, 32, 128, "sqrt"), scaled_lr(0.1, 32, 128, "linear")
    (0.2, 0.4)
    """
    base_lr = check_number(base_lr, "base_lr", 0.0, low_open=True)
    b0, b = check_number(base_batch, "base_batch", 0.0, low_open=True), check_number(batch_size, "batch_size", 0.0, low_open=True)
    k = b / b0
    return {"none": base_lr, "sqrt": base_lr * math.sqrt(k), "linear": base_lr * k}[_rule(rule)]


def max_stable_batch(base_lr: float, base_batch: int, curvature: float, rule: str) -> float:
    """Largest batch size whose scaled step stays within the GD bound ``η <= 2/L``.

    Solves ``scaled_lr(base_lr, base_batch, B, rule) = 2 / curvature`` for ``B``:
    ``B₀·(2/(Lη₀))²`` for the square-root rule, ``B₀·2/(Lη₀)`` for the linear rule,
    and ``inf`` for no scaling when ``η₀ <= 2/L`` (``0`` when it is not).

    Examples
    --------
    >>> max_stable_batch(0.1, 32, 5.0, "linear")     # 2/L = 0.4 = 0.1 · 4
    128.0
    >>> max_stable_batch(0.1, 32, 5.0, "sqrt")
    512.0
    """
    base_lr = check_number(base_lr, "base_lr", 0.0, low_open=True)
    b0 = check_number(base_batch, "base_batch", 0.0, low_open=True)
    L = check_number(curvature, "curvature", 0.0, low_open=True)
    ratio = 2.0 / (L * base_lr)
    rule = _rule(rule)
    if rule == "none":
        return math.inf if ratio >= 1 else 0.0
    return b0 * (ratio ** 2 if rule == "sqrt" else ratio)


def least_squares_curvatures(X) -> np.ndarray:
    """Eigenvalues of the Hessian ``(2/n) XᵀX`` of ``f(w) = (1/n) ‖Xw − y‖²``, ascending.

    This is the Hessian of ``torch.nn.functional.mse_loss(X @ w, y)`` (mean over ``n``).

    Examples
    --------
    >>> least_squares_curvatures(np.array([[1.0, 0.0], [0.0, 3.0]]))
    array([1., 9.])
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}")
    return np.linalg.eigvalsh(2.0 / X.shape[0] * X.T @ X)
