"""Measured cost of a full gradient versus a minibatch gradient as the data set grows."""

from __future__ import annotations

import time

import numpy as np

from ..problems.datasets import make_logistic_data
from ..problems.objectives import LogisticRegression
from ..validation import check_int

__all__ = ["time_gradients"]


def _best_time(fn, repeats, number=1):
    """Fastest of ``repeats`` timings of ``number`` back-to-back calls, per call.

    The minimum, not the median: interference from other processes only ever adds time,
    so the fastest run is the best estimate of the cost itself (as :mod:`timeit` advises).
    """
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def time_gradients(n_values, n_features: int = 32, batch_size: int = 64, repeats: int = 7,
                   seed: int = 0):
    """Best-of-``repeats`` wall time of one full and one minibatch gradient, for each ``N``.

    Logistic regression on synthetic data (``make_logistic_data``) with ``N`` samples; BLAS
    is limited to one thread while timing, so the numbers do not depend on how busy the
    other cores are. Choose ``N`` large enough that ``X`` does not fit in cache
    (``N·d·8`` bytes of several MB), or the small sizes look cheaper than linear.

    Parameters
    ----------
    n_values : sequence of int
        Data-set sizes ``N`` (each ``>= batch_size``).
    n_features : int, default 32
    batch_size : int, default 64
    repeats : int, default 7
        Timings per measurement; the fastest is kept (a minibatch timing averages 100
        back-to-back gradients, each on a fresh random subset, and is repeated at least
        20 times).
    seed : int

    Returns
    -------
    full : ndarray
        Seconds per full gradient, one per ``N``.
    minibatch : ndarray
        Seconds per minibatch gradient (a fresh random subset each time), one per ``N``.
    """
    ns = [int(n) for n in np.atleast_1d(n_values)]
    batch_size = check_int("batch_size", batch_size, 1, min(ns))     # every N >= batch_size
    repeats = check_int("repeats", repeats)
    from threadpoolctl import threadpool_limits

    X, y, _ = make_logistic_data(max(ns), n_features, seed)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n_features) * 0.1
    full, mini = [], []
    with threadpool_limits(limits=1):  # one BLAS thread: the machine may be shared, keep it steady
        for n in ns:
            obj = LogisticRegression(X[:n], y[:n])
            obj.grad(w)  # warm-up
            obj.minibatch_grad(w, rng.integers(0, n, size=batch_size))  # warm-up
            full.append(_best_time(lambda: obj.grad(w), repeats))
            mini.append(_best_time(lambda: obj.minibatch_grad(w, rng.integers(0, n, size=batch_size)),
                                   max(repeats, 20), number=100))
    return np.array(full), np.array(mini)
