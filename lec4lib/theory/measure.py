"""Measuring helpers: fitted slopes, convergence rates, steps to a tolerance, ULP distance.
"""

from __future__ import annotations

import numpy as np

__all__ = ["central_difference_grad", "loglog_slope", "measured_contraction", "measured_rate", "rate_between", "steps_to_tolerance", "ulp_distance"]


def central_difference_grad(f, w, h: float = 1e-6) -> np.ndarray:
    """The gradient of ``f`` at ``w`` by central differences, ``(f(w + h e_i) − f(w − h e_i)) / 2h``.

    Examples
    --------
    >>> central_difference_grad(lambda v: float(v @ v), np.array([1.0, -2.0])).round(6)
    array([ 2., -4.])
    """
    w = np.asarray(w, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"w must be a 1-D array, got shape {w.shape}")
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"Invalid h: {h!r} (must be finite and > 0)")
    return np.array([(f(w + h * e) - f(w - h * e)) / (2 * h) for e in np.eye(len(w))])


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (the exponent ``p`` in ``y ∝ x^p``).

    Examples
    --------
    >>> round(loglog_slope([1, 2, 4, 8], [3, 6, 12, 24]), 12)
    1.0
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"x and y must be 1-D of the same length >= 2, got {x.shape} and {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be > 0 for a log-log fit")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _per_step(start: float, end: float, steps: int) -> float:
    """The geometric rate from ``start`` to ``end`` in ``steps`` steps: ``(end/start)^(1/steps)``.

    The one formula behind :func:`measured_contraction`, :func:`measured_rate` and
    :func:`rate_between`, which differ only in the two points of the run they compare.
    """
    return float((end / start) ** (1.0 / steps))


def measured_contraction(iterates: np.ndarray) -> float:
    """Per-step contraction measured from iterates: ``(‖w_T‖ / ‖w_0‖)^(1/T)``."""
    it = np.asarray(iterates, dtype=float)
    if it.ndim != 2 or it.shape[0] < 2:
        raise ValueError(f"iterates must have shape (T+1, d) with T >= 1, got {it.shape}")
    T = it.shape[0] - 1
    return _per_step(np.linalg.norm(it[0]), np.linalg.norm(it[-1]), T)


def measured_rate(iterates: np.ndarray) -> float:
    """Per-step contraction over the second half of a run, ``(‖w_T‖/‖w_{T/2}‖)^{2/T}``.

    The second half avoids the transient; for a double root the norm behaves like
    ``t ρ^t`` and the estimate exceeds ρ by a factor of at most ``2^{2/T}``.
    """
    it = np.asarray(iterates, dtype=float)
    if it.ndim != 2 or it.shape[0] < 3:
        raise ValueError(f"iterates must have shape (T+1, d) with T >= 2, got {it.shape}")
    T = it.shape[0] - 1
    h = T // 2
    return _per_step(np.linalg.norm(it[h]), np.linalg.norm(it[T]), T - h)


def rate_between(norms, hi: float = 1e-2, lo: float = 1e-10) -> float:
    """Geometric rate of a decreasing sequence between two relative levels.

    With ``t₁`` the first index where ``norms ≤ hi·norms[0]`` and ``t₂`` the first where
    ``norms ≤ lo·norms[0]``, returns ``(norms[t₂]/norms[t₁])^{1/(t₂ − t₁)}``. Used with
    gradient norms, which need no reference minimiser.
    """
    n = np.asarray(norms, dtype=float)
    if not 0 < lo < hi:
        raise ValueError(f"need 0 < lo < hi, got lo={lo}, hi={hi}")
    t1 = np.nonzero(n <= hi * n[0])[0]
    t2 = np.nonzero(n <= lo * n[0])[0]
    if t1.size == 0 or t2.size == 0:
        raise ValueError("the sequence never reaches the requested levels; run longer")
    t1, t2 = int(t1[0]), int(t2[0])
    return _per_step(n[t1], n[t2], t2 - t1)


def steps_to_tolerance(iterates: np.ndarray, tol: float) -> int:
    """First ``t`` with ``‖w_t‖ ≤ tol·‖w_0‖`` (``-1`` if never reached).

    ``iterates`` has shape ``(T+1, …)``: the iterates, or a 1-D array of their norms (or of
    any non-negative error measure, such as gradient norms).

    Examples
    --------
    >>> steps_to_tolerance(0.5 ** np.arange(10), 0.1)
    4
    >>> steps_to_tolerance([1.0, 0.9], 0.1)
    -1
    """
    it = np.asarray(iterates, dtype=float)
    n = np.linalg.norm(it.reshape(it.shape[0], -1), axis=1)
    hit = np.nonzero(n <= tol * n[0])[0]
    return int(hit[0]) if hit.size else -1


def ulp_distance(a, b) -> np.ndarray:
    """Distance in units in the last place between float arrays of the same dtype."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != b.dtype or a.dtype.kind != "f":
        raise ValueError(f"a and b must be float arrays of one dtype, got {a.dtype} and {b.dtype}")
    it = {4: np.int32, 8: np.int64}[a.dtype.itemsize]

    def ordered(x):
        i = x.view(it).astype(np.int64)
        return np.where(i < 0, np.iinfo(it).min - i, i)

    return np.abs(ordered(a) - ordered(b))
