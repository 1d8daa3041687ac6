"""Seeded data: real datasets that scikit-learn ships, and synthetic problems with a known truth.

Nothing here downloads anything: :func:`load_breast_cancer_pm1` and :func:`load_digits_pm1`
read files bundled with scikit-learn, and the generators draw from ``numpy.random.default_rng(seed)``,
so the same seed always gives the same arrays.
"""

from __future__ import annotations

import numpy as np
from ..validation import check_int, check_number

__all__ = [
    "load_breast_cancer_pm1",
    "load_digits_pm1",
    "make_logistic_data",
    "make_linear_regression_data",
    "make_separable_data",
    "train_test_split_seeded",
    "standardize_columns",
]


def standardize_columns(X) -> np.ndarray:
    """Scale each column to mean 0 and standard deviation 1 (constant columns are only centred).

    Examples
    --------
    >>> import numpy as np
    >>> standardize_columns(np.array([[1.0], [3.0]])).ravel()
    array([-1.,  1.])
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    return (X - X.mean(axis=0)) / sd


def load_breast_cancer_pm1(standardize: bool = True):
    """The Wisconsin breast-cancer data (569 × 30, shipped with scikit-learn), labels in {−1, +1}.

    Parameters
    ----------
    standardize : bool, default True
        Scale each feature to mean 0 and standard deviation 1.

    Returns
    -------
    X : ndarray, shape (569, 30)
    y : ndarray, shape (569,)
        ``+1`` for benign, ``−1`` for malignant.

    Examples
    --------
    >>> X, y = load_breast_cancer_pm1()
    >>> X.shape, sorted(set(y.tolist()))
    ((569, 30), [-1.0, 1.0])
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X = np.asarray(data.data, dtype=float)
    y = np.where(data.target == 1, 1.0, -1.0)
    return (standardize_columns(X) if standardize else X), y


def load_digits_pm1(positive=(0,), negative=None, standardize: bool = True):
    """Handwritten digits (8×8 images, shipped with scikit-learn) as a ±1 problem.

    Parameters
    ----------
    positive : sequence of int
        Digits labelled ``+1``.
    negative : sequence of int, optional
        Digits labelled ``−1``; all the others when omitted.
    standardize : bool, default True
        Scale each pixel column to mean 0 and standard deviation 1.

    Returns
    -------
    X : ndarray, shape (n, 64)
    y : ndarray, shape (n,), values in {−1, +1}

    Examples
    --------
    >>> X, y = load_digits_pm1(positive=[0, 1, 2, 3, 4])
    >>> X.shape, int((y == 1).sum())
    ((1797, 64), 901)
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    pos = set(int(d) for d in positive)
    neg = set(range(10)) - pos if negative is None else set(int(d) for d in negative)
    if not pos or not neg or pos & neg or not (pos | neg) <= set(range(10)):
        raise ValueError(f"positive and negative must be disjoint non-empty sets of digits 0..9, "
                         f"got {sorted(pos)} and {sorted(neg)}")
    keep = np.isin(data.target, sorted(pos | neg))
    X = np.asarray(data.data[keep], dtype=float)
    y = np.where(np.isin(data.target[keep], sorted(pos)), 1.0, -1.0)
    return (standardize_columns(X) if standardize else X), y


def make_logistic_data(n_samples: int, n_features: int, seed: int = 0, *, scale: float = 1.0,
                       intercept: bool = False):
    """Gaussian features and labels drawn from a logistic model with a known ``w_true``.

    ``x_n ~ N(0, I)``, ``P(y_n = +1 | x_n) = σ(w_trueᵀ x_n)`` with ``w_true ~ N(0, I)·scale/√d``
    (so the margin ``w_trueᵀx`` has standard deviation about ``scale``).

    Parameters
    ----------
    n_samples, n_features : int
        ``N >= 1`` and ``d >= 1``.
    seed : int
        Seed of ``numpy.random.default_rng``.
    scale : float, default 1
        Scale of ``w_true`` (larger means less label noise); ``> 0``.
    intercept : bool, default False
        Make the last feature a constant 1 (a bias term).

    Returns
    -------
    X : ndarray, shape (N, d)
    y : ndarray, shape (N,), values in {−1, +1}
    w_true : ndarray, shape (d,)
        The parameter that generated the labels (not the minimiser of the empirical loss).

    Examples
    --------
    >>> X, y, w = make_logistic_data(5, 3, seed=0)
    >>> X.shape, y.shape, w.shape
    ((5, 3), (5,), (3,))
    """
    N = check_int("n_samples", n_samples)
    d = check_int("n_features", n_features)
    scale = check_number(scale, "scale", 0.0, low_open=True)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d))
    if intercept:
        X[:, -1] = 1.0
    w_true = rng.standard_normal(d) * scale / np.sqrt(d)  # so w_trueᵀx has std ≈ scale
    p = 1.0 / (1.0 + np.exp(-np.clip(X @ w_true, -500, 500)))
    y = np.where(rng.random(N) < p, 1.0, -1.0)
    return X, y, w_true


def make_linear_regression_data(n_samples: int, n_features: int, seed: int = 0, *,
                                noise: float = 0.5):
    """Gaussian features and targets ``y = X w_true + noise·ε`` with a known ``w_true``.

    Parameters
    ----------
    n_samples, n_features : int
        ``N >= 1`` and ``d >= 1``.
    seed : int
        Seed of ``numpy.random.default_rng``.
    noise : float, default 0.5
        Standard deviation of the Gaussian target noise (``>= 0``).

    Returns
    -------
    X : ndarray, shape (N, d)
    y : ndarray, shape (N,)
    w_true : ndarray, shape (d,)

    Examples
    --------
    >>> X, y, w = make_linear_regression_data(4, 2, seed=1, noise=0.0)
    >>> bool(np.allclose(X @ w, y))
    True
    """
    N = check_int("n_samples", n_samples)
    d = check_int("n_features", n_features)
    noise = check_number(noise, "noise", 0.0)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d))
    w_true = rng.standard_normal(d)
    y = X @ w_true + noise * rng.standard_normal(N)
    return X, y, w_true


def make_separable_data(n_samples: int, n_features: int, margin: float, seed: int = 0, *,
                        radius: float = 1.0):
    """Linearly separable ±1 data through the origin with a guaranteed margin.

    Points are drawn uniformly in the ball of radius ``radius``; those with
    ``|uᵀx| < margin`` (``u`` a random unit vector) are rejected and redrawn, and
    ``y = sign(uᵀx)``. So ``‖x_n‖ <= radius`` and ``y_n uᵀx_n >= margin`` for all ``n``.

    Parameters
    ----------
    n_samples, n_features : int
        ``N >= 1`` and ``d >= 2``.
    margin : float
        ``0 < margin < radius``.
    seed : int
    radius : float, default 1

    Returns
    -------
    X : ndarray, shape (N, d)
    y : ndarray, shape (N,), values in {−1, +1}
    u : ndarray, shape (d,)
        The unit separating direction.

    Examples
    --------
    >>> X, y, u = make_separable_data(20, 2, margin=0.1, seed=0)
    >>> bool(np.min(y * (X @ u)) >= 0.1), bool(np.max(np.linalg.norm(X, axis=1)) <= 1.0)
    (True, True)
    """
    N = check_int("n_samples", n_samples)
    d = check_int("n_features", n_features, 2)
    radius = check_number(radius, "radius", 0.0, low_open=True)
    margin = check_number(margin, "margin", 0.0, radius, low_open=True)   # 0 < margin < radius
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    out = np.empty((0, d))
    while out.shape[0] < N:
        g = rng.standard_normal((2 * N, d))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        r = radius * rng.random(2 * N) ** (1.0 / d)
        pts = g * r[:, None]
        out = np.vstack([out, pts[np.abs(pts @ u) >= margin]])
    X = out[:N]
    y = np.where(X @ u > 0, 1.0, -1.0)
    return X, y, u


def train_test_split_seeded(X, y, test_fraction: float = 0.25, seed: int = 0):
    """Shuffle with a seed and split into train and test parts.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,)
    test_fraction : float, default 0.25
        In ``(0, 1)``; the test part has ``round(test_fraction·N)`` samples (at least 1).
    seed : int

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray

    Examples
    --------
    >>> parts = train_test_split_seeded(np.zeros((8, 2)), np.arange(8.0), 0.25, seed=0)
    >>> [p.shape[0] for p in parts]
    [6, 2, 6, 2]
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be (N, d) and y (N,), got shapes {X.shape} and {y.shape}")
    test_fraction = check_number(test_fraction, "test_fraction", 0.0, 1.0, low_open=True)
    N = X.shape[0]
    n_test = max(1, int(round(test_fraction * N)))
    if n_test >= N:
        raise ValueError(f"test_fraction={test_fraction} leaves no training sample for N={N}")
    perm = np.random.default_rng(seed).permutation(N)
    te, tr = perm[:n_test], perm[n_test:]
    return X[tr], X[te], y[tr], y[te]
