"""The minibatch gradient as a random estimate of the full gradient: mean, error and variance.

For a finite sum ``f = (1/N) Σ f_n`` with per-sample gradients ``g_n = ∇f_n(w)`` and full
gradient ``ḡ = ∇f(w)``, let ``σ² = (1/N) Σ_n ‖g_n − ḡ‖²`` (the spread of the per-sample
gradients). The minibatch gradient ``g_B = (1/b) Σ_{n∈B} g_n`` satisfies

* ``E g_B = ḡ`` (unbiased) for a uniform subset of size ``b`` and for ``b`` uniform draws
  with replacement;
* ``E‖g_B − ḡ‖² = σ²/b`` with replacement, and ``σ²/b · (N − b)/(N − 1)`` for a uniform
  subset without replacement (the finite-population correction; it is 0 at ``b = N``).

The functions below compute these quantities exactly (all subsets, small N) or by sampling.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from ..validation import check_int, check_number

__all__ = ["all_subsets_mean_gradient", "gradient_spread", "minibatch_variance", "minibatch_variance_theory",
           "sample_minibatch_gradients", "minibatch_variance_measured", "monte_carlo_mean_error"]


def _check_b(objective, batch_size):
    return check_int("batch_size", batch_size, 1, objective.n_samples)


def all_subsets_mean_gradient(objective, w, batch_size: int, max_subsets: int = 200_000):
    """Average of the minibatch gradient over *every* subset of size ``batch_size``.

    Parameters
    ----------
    objective : lec4lib.problems.objectives.LogisticRegression or LeastSquares
    w : array_like, shape (d,)
    batch_size : int
        ``b`` in ``1..N``.
    max_subsets : int, default 200000
        Refuse (``ValueError``) when ``C(N, b)`` exceeds this.

    Returns
    -------
    mean : ndarray, shape (d,)
        ``(1/C(N,b)) Σ_B g_B`` — equal to ``∇f(w)`` up to rounding.
    n_subsets : int
        ``C(N, b)``.

    Examples
    --------
    >>> import numpy as np
    >>> from lec4lib.problems.objectives import LeastSquares
    >>> obj = LeastSquares(np.arange(6.0).reshape(3, 2), np.array([1.0, 0.0, 2.0]))
    >>> m, k = all_subsets_mean_gradient(obj, np.zeros(2), 2)
    >>> k, bool(np.allclose(m, obj.grad(np.zeros(2))))
    (3, True)
    """
    b = _check_b(objective, batch_size)
    N = objective.n_samples
    k = math.comb(N, b)
    if k > max_subsets:
        raise ValueError(f"C(N, b) = C({N}, {b}) = {k} subsets exceeds max_subsets = {max_subsets}")
    G = objective.per_sample_grads(w)
    subsets = np.array(list(itertools.combinations(range(N), b)))
    means = G[subsets].mean(axis=1)  # (k, d): each subset's minibatch gradient
    return means.mean(axis=0), k


def gradient_spread(objective, w) -> float:
    """``σ² = (1/N) Σ_n ‖∇f_n(w) − ∇f(w)‖²``, the total variance of one sampled gradient.

    Parameters
    ----------
    objective : lec4lib.problems.objectives.LogisticRegression or LeastSquares
    w : array_like, shape (d,)

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from lec4lib.problems.objectives import LeastSquares
    >>> gradient_spread(LeastSquares(np.eye(2), np.array([1.0, -1.0])), np.zeros(2))
    0.5
    """
    G = objective.per_sample_grads(w)
    return float(np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1)))


def minibatch_variance_theory(objective, w, batch_size: int, replace: bool) -> float:
    """``E‖g_B − ∇f(w)‖²``: ``σ²/b`` with replacement, ``σ²/b·(N−b)/(N−1)`` without.

    Parameters
    ----------
    objective, w
        As in :func:`gradient_spread`.
    batch_size : int
        ``b`` in ``1..N``.
    replace : bool
        Sampling with replacement (i.i.d. indices) or a uniform subset.

    Returns
    -------
    float
    """
    b = _check_b(objective, batch_size)
    return minibatch_variance(gradient_spread(objective, w), objective.n_samples, b, replace)


def minibatch_variance(spread: float, n_samples: int, batch_size: int, replace: bool) -> float:
    """``E‖g_B − ∇f‖²`` from the spread ``σ² = tr Σ`` of one sampled gradient (the formula alone).

    ``σ²/b`` with replacement; without, times the finite-population factor ``(N − b)/(N − 1)``
    (``0`` for ``N = 1``: the only batch is the whole set).

    Examples
    --------
    >>> minibatch_variance(2.0, 10, 4, replace=True)
    0.5
    >>> minibatch_variance(2.0, 10, 10, replace=False)   # the whole set: no noise
    0.0
    """
    N = check_int("n_samples", n_samples)
    b = check_int("batch_size", batch_size, 1, None if replace else N)
    spread = check_number(spread, "spread", 0.0)
    if replace:
        return spread / b
    return spread / b * (N - b) / (N - 1) if N > 1 else 0.0


def sample_minibatch_gradients(objective, w, batch_size: int, n_draws: int, seed: int = 0,
                               replace: bool = False) -> np.ndarray:
    """``n_draws`` independent minibatch gradients.

    Parameters
    ----------
    objective, w
        As in :func:`gradient_spread`.
    batch_size : int
        ``b`` in ``1..N``.
    n_draws : int
        ``>= 1``.
    seed : int
    replace : bool, default False
        i.i.d. indices (True) or a uniform subset of distinct indices (False).

    Returns
    -------
    ndarray, shape (n_draws, d)
    """
    b = _check_b(objective, batch_size)
    K = check_int("n_draws", n_draws)
    N = objective.n_samples
    G = objective.per_sample_grads(w)
    rng = np.random.default_rng(seed)
    out = np.empty((K, G.shape[1]))
    chunk = max(1, 2_000_000 // N)
    for s in range(0, K, chunk):
        k = min(chunk, K - s)
        if replace:
            idx = rng.integers(0, N, size=(k, b))
        elif b == N:
            idx = np.broadcast_to(np.arange(N), (k, N))
        else:  # the b smallest of N i.i.d. uniforms sit at a uniformly random b-subset
            idx = np.argpartition(rng.random((k, N)), b - 1, axis=1)[:, :b]
        out[s:s + k] = G[idx].mean(axis=1)
    return out


def minibatch_variance_measured(objective, w, batch_size: int, n_draws: int, seed: int = 0,
                                replace: bool = False) -> float:
    """Monte Carlo estimate of ``E‖g_B − ∇f(w)‖²`` from ``n_draws`` minibatches.

    Parameters
    ----------
    objective, w, batch_size, n_draws, seed, replace
        As in :func:`sample_minibatch_gradients`.

    Returns
    -------
    float
        The mean of ``‖g_B − ∇f(w)‖²`` over the draws; compare with
        :func:`minibatch_variance_theory`.

    Examples
    --------
    >>> import numpy as np
    >>> from lec4lib.problems.objectives import LeastSquares
    >>> obj = LeastSquares(np.eye(3), np.array([1.0, 2.0, 3.0]))
    >>> minibatch_variance_measured(obj, np.zeros(3), 3, n_draws=5)  # b = N: no noise
    0.0
    """
    draws = sample_minibatch_gradients(objective, w, batch_size, n_draws, seed, replace)
    full = objective.grad(w)
    return float(np.mean(np.sum((draws - full) ** 2, axis=1)))


def monte_carlo_mean_error(objective, w, batch_size: int, sample_counts, n_repeats: int = 50,
                           seed: int = 0, replace: bool = False) -> np.ndarray:
    """Root-mean-square error ``‖(1/K) Σ_k g_{B_k} − ∇f(w)‖`` of the average of ``K`` minibatch gradients.

    Parameters
    ----------
    objective, w, batch_size
        As in :func:`sample_minibatch_gradients`.
    sample_counts : sequence of int
        The values of ``K`` (each ``>= 1``).
    n_repeats : int, default 50
        Independent averages per ``K`` over which the squared error is averaged.
    seed : int
    replace : bool, default False

    Returns
    -------
    ndarray, shape (len(sample_counts),)
        The RMS error for each ``K``; it falls like ``1/√K`` (exactly
        ``sqrt(E‖g_B − ∇f‖² / K)`` in expectation).
    """
    counts = [check_int("sample_counts entries", k) for k in np.atleast_1d(sample_counts)]
    R = check_int("n_repeats", n_repeats)
    full = objective.grad(w)
    rng = np.random.default_rng(seed)
    out = []
    for K in counts:
        draws = sample_minibatch_gradients(objective, w, batch_size, K * R,
                                           seed=int(rng.integers(2**31)), replace=replace)
        means = draws.reshape(R, K, -1).mean(axis=1)
        out.append(np.sqrt(np.mean(np.sum((means - full) ** 2, axis=1))))
    return np.array(out)
