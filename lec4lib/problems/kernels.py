"""A single-pass full gradient for the linear-model objectives, compiled with Numba.

The full gradient of ``f(w) = (1/N) Σ_n φ(x_nᵀw, y_n)`` is ``(1/N) Σ_n φ'(x_nᵀw, y_n) x_n``:
every row ``x_n`` is used twice, once for the margin ``z_n = x_nᵀw`` and once to add
``r_n x_n`` with ``r_n = φ'(z_n, y_n)``. NumPy can only express this as two matrix-vector
products, ``r = φ'(Xw)`` and then ``rᵀX``, so ``X`` is streamed through the processor twice
(or, in cache-sized row blocks, once from memory and once from cache, plus the cost of a
Python loop over the blocks). The kernel here does both uses of a row while the row is in
the L1 cache, so ``X`` is read from memory exactly once and the pass runs at the speed of
memory (``benchmarks/bench_full_gradient.py`` compares it with copying the matrix).

One thread, no parallelism: the result is deterministic. The sums are reassociated
(``fastmath={"reassoc", "contract"}``, so that the margin's dot product is vectorised), which
changes rounding in the last bits relative to NumPy's order of summation but keeps IEEE
semantics for ``inf`` and ``NaN``. Compiled on first use and cached on disk by Numba
(``cache=True``), so later processes load the machine code instead of compiling again.

:func:`available` tells whether Numba can be imported; when it cannot,
:class:`lec4lib.problems.objectives.LogisticRegression` and ``LeastSquares`` fall back to the blocked
NumPy gradient (same values up to rounding, slower).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOGISTIC", "SQUARES", "available", "grad_sum"]

#: Loss codes of :func:`grad_sum`: ``φ(z, y) = log(1 + exp(−y z))`` and ``φ(z, y) = ½ (z − y)²``.
LOGISTIC, SQUARES = 0, 1

_compiled = None
_import_error: ImportError | None = None


def available() -> bool:
    """Whether the Numba kernel can be used (Numba imports); compiles nothing.

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return _kernel() is not None


def _kernel():
    """The jitted kernel, built on the first call; ``None`` when Numba cannot be imported."""
    global _compiled, _import_error
    if _compiled is None and _import_error is None:
        try:
            import numba
        except ImportError as exc:  # the library still works, on the NumPy path
            _import_error = exc
            return None

        @numba.njit(fastmath={"reassoc", "contract"}, cache=True, nogil=True, boundscheck=False)
        def _grad_sum(X, y, w, loss):
            n, d = X.shape
            g = np.zeros(d)
            for i in range(n):
                z = 0.0
                for j in range(d):
                    z += X[i, j] * w[j]
                if loss == 0:
                    # d/dz log(1 + exp(-y z)) = -y σ(-y z). With e = exp(-|t|) <= 1 (no overflow
                    # for any margin), σ(t) = 1/(1+e) for t >= 0 and e/(1+e) for t < 0; written
                    # as a select, not a branch, which the signs of the margins would mispredict
                    t = -y[i] * z
                    e = np.exp(-abs(t))
                    r = -y[i] * (1.0 if t >= 0.0 else e) / (1.0 + e)
                else:
                    r = z - y[i]
                for j in range(d):
                    g[j] += r * X[i, j]
            return g

        _compiled = _grad_sum
    return _compiled


def grad_sum(X, y, w, loss: int) -> np.ndarray:
    """``Σ_n φ'(x_nᵀw, y_n) x_n`` in one pass over the rows of ``X`` (the unscaled full gradient).

    Parameters
    ----------
    X : ndarray of float64, shape (N, d), C-contiguous
    y : ndarray of float64, shape (N,)
        Labels in ``{−1, +1}`` for :data:`LOGISTIC`, real targets for :data:`SQUARES`.
    w : ndarray of float64, shape (d,)
    loss : int
        :data:`LOGISTIC` or :data:`SQUARES`.

    Returns
    -------
    ndarray, shape (d,)

    Raises
    ------
    ValueError
        On shapes, dtypes or memory layout the kernel does not take, or an unknown ``loss``.
    ImportError
        When Numba is not installed (check :func:`available` first).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> grad_sum(X, np.array([1.0, 1.0]), np.zeros(2), SQUARES)  # Σ (0 − 1) x_n
    array([-4., -6.])
    """
    if loss not in (LOGISTIC, SQUARES):
        raise ValueError(f"loss must be LOGISTIC ({LOGISTIC}) or SQUARES ({SQUARES}), got {loss!r}")
    for name, a, ndim in (("X", X, 2), ("y", y, 1), ("w", w, 1)):
        if not isinstance(a, np.ndarray) or a.dtype != np.float64 or a.ndim != ndim:
            raise ValueError(f"{name} must be a {ndim}-D float64 ndarray")
        if not a.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous")
    if y.shape[0] != X.shape[0] or w.shape[0] != X.shape[1]:
        raise ValueError(f"shapes do not match: X {X.shape}, y {y.shape}, w {w.shape}")
    kernel = _kernel()
    if kernel is None:
        raise ImportError("lec4lib.problems.kernels.grad_sum needs numba") from _import_error
    return kernel(X, y, w, loss)
