"""The perceptron as SGD on the loss ``ℓ(w; x, y) = max(0, −y wᵀx)``.

The loss is piecewise linear in ``w``:

* case I, ``y wᵀx > 0`` (correct): ``ℓ = 0`` and its gradient is ``0``;
* case II, ``y wᵀx < 0`` (wrong): ``ℓ = −y wᵀx`` and its gradient is ``−y x``;
* on the boundary ``y wᵀx = 0`` the loss has a kink; every vector ``−θ y x`` with
  ``θ ∈ [0, 1]`` is a subgradient. The classic perceptron picks ``θ = 1`` (a point on the
  boundary counts as a mistake, ``at_zero="mistake"``); the slides' rule ``y wᵀx >= 0 →
  no update`` picks ``θ = 0`` (``at_zero="correct"``), which never moves from ``w = 0``.

SGD with one sample and step ``η`` is then ``w ← w + η y x`` on a mistake and nothing
otherwise — Rosenblatt's rule. On data separable with margin ``γ`` by a unit vector ``u``
(``y_n uᵀx_n >= γ``) and radius ``R = max ‖x_n‖``, started at ``w = 0``, it makes at most
``(R/γ)²`` mistakes, whatever the order and the step (Novikoff, 1962).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import check_int, check_lr

__all__ = ["perceptron_loss", "perceptron_subgradient", "PerceptronRun", "sgd_perceptron",
           "classic_perceptron", "margin_and_radius", "is_linearly_separable", "accuracy"]

_AT_ZERO = ("mistake", "correct")


def _xy(X, y):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if not np.all(np.isin(y, [-1.0, 1.0])):
        raise ValueError(f"y must hold labels in {{-1, +1}}, got values {np.unique(y)[:5]}")
    return X, y


def perceptron_loss(w, X, y) -> float:
    """Mean perceptron loss ``(1/N) Σ max(0, −y_n wᵀx_n)``.

    Examples
    --------
    >>> import numpy as np
    >>> perceptron_loss(np.array([1.0]), np.array([[2.0], [1.0]]), np.array([1.0, -1.0]))
    0.5
    """
    X, y = _xy(X, y)
    w = np.asarray(w, dtype=float)
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},), got {w.shape}")
    return float(np.mean(np.maximum(0.0, -y * (X @ w))))


def perceptron_subgradient(w, x, y: float, at_zero: str = "mistake") -> np.ndarray:
    """A subgradient of ``max(0, −y wᵀx)`` with respect to ``w``.

    Parameters
    ----------
    w, x : array_like, shape (d,)
    y : {-1, +1}
    at_zero : {"mistake", "correct"}
        Which subgradient to return on the kink ``y wᵀx = 0``: ``−y x`` or ``0``.

    Returns
    -------
    ndarray, shape (d,)
        ``0`` when ``y wᵀx > 0``, ``−y x`` when ``y wᵀx < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> perceptron_subgradient(np.array([1.0, 0.0]), np.array([-1.0, 2.0]), 1.0)
    array([ 1., -2.])
    """
    w = np.asarray(w, dtype=float)
    x = np.asarray(x, dtype=float)
    if w.shape != x.shape or w.ndim != 1:
        raise ValueError(f"w and x must be 1-D of the same shape, got {w.shape} and {x.shape}")
    if y not in (-1, 1):
        raise ValueError(f"y must be -1 or +1, got {y!r}")
    if at_zero not in _AT_ZERO:
        raise ValueError(f"at_zero must be one of {_AT_ZERO}, got {at_zero!r}")
    m = y * (w @ x)
    if m < 0 or (m == 0 and at_zero == "mistake"):
        return -y * x
    return np.zeros_like(w)


@dataclass
class PerceptronRun:
    """Result of :func:`sgd_perceptron` or :func:`classic_perceptron`.

    Attributes
    ----------
    w : ndarray, shape (d,)
        Final weights.
    n_mistakes : int
        Updates made (each one a mistake).
    mistakes_per_epoch : ndarray of int
        Mistakes in each pass over the data.
    converged : bool
        True when a whole pass made no mistake (the data are then separated by ``w``).
    w_avg : ndarray, shape (d,)
        Average of ``w`` over all visited samples (the averaged perceptron).
    path : ndarray, shape (n_mistakes + 1, d)
        ``w`` after each update (starting from ``w0``).
    w_per_epoch : ndarray, shape (epochs_run, d)
        ``w`` at the end of each pass.
    """

    w: np.ndarray
    n_mistakes: int
    mistakes_per_epoch: np.ndarray
    converged: bool
    w_avg: np.ndarray
    path: np.ndarray
    w_per_epoch: np.ndarray


def _orders(N, epochs, seed, shuffle):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        yield rng.permutation(N) if shuffle else np.arange(N)


def sgd_perceptron(X, y, lr: float = 1.0, epochs: int = 100, seed: int = 0, shuffle: bool = True,
                   at_zero: str = "mistake", w0=None) -> PerceptronRun:
    """SGD with batch size 1 on the perceptron loss, using :func:`perceptron_subgradient`.

    Each step samples ``n`` (a fresh permutation each epoch) and sets
    ``w ← w − lr · subgradient``. Stops after the first pass without a mistake.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,), values in {−1, +1}
    lr : float, default 1
        Step size ``> 0``.
    epochs : int, default 100
        Maximum passes over the data.
    seed : int
    shuffle : bool, default True
        Visit the samples in a random order each epoch (else in index order).
    at_zero : {"mistake", "correct"}
        Subgradient on the kink (see module docstring).
    w0 : array_like, optional
        Start; zeros when omitted.

    Returns
    -------
    PerceptronRun

    Examples
    --------
    >>> import numpy as np
    >>> run = sgd_perceptron(np.array([[1.0, 0.0], [-1.0, 0.5]]), np.array([1.0, -1.0]))
    >>> run.converged, run.n_mistakes, run.w.tolist()
    (True, 1, [1.0, 0.0])
    """
    X, y = _xy(X, y)
    lr = check_lr(lr, schedule=False)
    epochs = check_int("epochs", epochs)
    N, d = X.shape
    w = np.zeros(d) if w0 is None else np.array(w0, dtype=float)
    if w.shape != (d,):
        raise ValueError(f"w0 must have shape ({d},), got {w.shape}")
    path, per_epoch, w_sum, visits, ends = [w.copy()], [], np.zeros(d), 0, []
    for order in _orders(N, epochs, seed, shuffle):
        mistakes = 0
        for n in order:
            g = perceptron_subgradient(w, X[n], y[n], at_zero)
            if g.any():
                w = w - lr * g
                path.append(w.copy())
                mistakes += 1
            w_sum += w
            visits += 1
        per_epoch.append(mistakes)
        ends.append(w.copy())
        if mistakes == 0:
            break
    return PerceptronRun(w=w, n_mistakes=len(path) - 1, mistakes_per_epoch=np.array(per_epoch),
                         converged=per_epoch[-1] == 0, w_avg=w_sum / visits, path=np.array(path),
                         w_per_epoch=np.array(ends))


def classic_perceptron(X, y, epochs: int = 100, seed: int = 0, shuffle: bool = True) -> PerceptronRun:
    """Rosenblatt's perceptron: ``if y wᵀx <= 0: w ← w + y x``, written out as the textbook does.

    The same visiting order as :func:`sgd_perceptron` with the same ``seed`` and ``shuffle``,
    so the two can be compared update by update.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,), values in {−1, +1}
    epochs : int, default 100
    seed : int
    shuffle : bool, default True

    Returns
    -------
    PerceptronRun

    Examples
    --------
    >>> import numpy as np
    >>> classic_perceptron(np.array([[1.0, 0.0], [-1.0, 0.5]]), np.array([1.0, -1.0])).w.tolist()
    [1.0, 0.0]
    """
    X, y = _xy(X, y)
    epochs = check_int("epochs", epochs)
    N, d = X.shape
    w = np.zeros(d)
    path, per_epoch, w_sum, visits, ends = [w.copy()], [], np.zeros(d), 0, []
    for order in _orders(N, epochs, seed, shuffle):
        mistakes = 0
        for n in order:
            if y[n] * (w @ X[n]) <= 0:
                w = w + y[n] * X[n]
                path.append(w.copy())
                mistakes += 1
            w_sum += w
            visits += 1
        per_epoch.append(mistakes)
        ends.append(w.copy())
        if mistakes == 0:
            break
    return PerceptronRun(w=w, n_mistakes=len(path) - 1, mistakes_per_epoch=np.array(per_epoch),
                         converged=per_epoch[-1] == 0, w_avg=w_sum / visits, path=np.array(path),
                         w_per_epoch=np.array(ends))


def margin_and_radius(X, y, u):
    """Radius ``R = max ‖x_n‖`` and margin ``γ = min_n y_n uᵀx_n / ‖u‖`` of a separator ``u``.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,), values in {−1, +1}
    u : array_like, shape (d,)
        A nonzero direction; it must separate the data (``γ > 0``).

    Returns
    -------
    R, gamma, bound : float
        ``bound = (R/γ)²``, Novikoff's bound on the number of mistakes.

    Examples
    --------
    >>> import numpy as np
    >>> margin_and_radius(np.array([[2.0, 0.0], [-1.0, 0.0]]), np.array([1.0, -1.0]), np.array([1.0, 0.0]))
    (2.0, 1.0, 4.0)
    """
    X, y = _xy(X, y)
    u = np.asarray(u, dtype=float)
    if u.shape != (X.shape[1],) or not np.any(u):
        raise ValueError(f"u must be a nonzero vector of shape ({X.shape[1]},), got {u}")
    gamma = float(np.min(y * (X @ u)) / np.linalg.norm(u))
    if gamma <= 0:
        raise ValueError(f"u does not separate the data (min margin {gamma:.3g} <= 0)")
    R = float(np.max(np.linalg.norm(X, axis=1)))
    return R, gamma, (R / gamma) ** 2


def is_linearly_separable(X, y) -> bool:
    """Whether some ``w`` has ``y_n wᵀx_n > 0`` for all ``n`` (a hyperplane through the origin).

    Decided exactly as a linear-programming feasibility problem: find ``w`` with
    ``y_n wᵀx_n >= 1`` for all ``n`` (any strict separator can be scaled to satisfy it),
    solved by SciPy's HiGHS.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,), values in {−1, +1}

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> is_linearly_separable(np.array([[1.0], [-2.0]]), np.array([1.0, -1.0]))
    True
    >>> is_linearly_separable(np.array([[1.0], [2.0]]), np.array([1.0, -1.0]))
    False
    """
    from scipy.optimize import linprog

    X, y = _xy(X, y)
    N, d = X.shape
    res = linprog(np.zeros(d), A_ub=-(y[:, None] * X), b_ub=-np.ones(N),
                  bounds=[(None, None)] * d, method="highs")
    if res.status not in (0, 2):
        raise RuntimeError(f"linprog failed: {res.message}")
    return res.status == 0


def accuracy(w, X, y) -> float:
    """Fraction of examples with ``y_n wᵀx_n > 0`` (a point on the boundary counts as an error)."""
    X, y = _xy(X, y)
    return float(np.mean(y * (X @ np.asarray(w, dtype=float)) > 0))
