"""Finite-sum objectives ``f(w) = (1/N) Σ_n f_n(w) + (l2/2)‖w‖²`` with per-sample,
minibatch and full gradients.

Two linear-model losses of the lecture:

* :class:`LogisticRegression` — ``f_n(w) = log(1 + exp(−y_n wᵀx_n))`` with ``y_n ∈ {−1, +1}``;
  its gradient is the slide's ``∇f_n(w) = −y_n x_n / (1 + exp(y_n wᵀx_n))``.
* :class:`LeastSquares` — ``f_n(w) = ½ (wᵀx_n − y_n)²``.

Both are written so that a minibatch gradient is the mean of the per-sample gradients over
the index array (indices may repeat: sampling with replacement), and the full gradient is
the minibatch gradient over all ``N`` samples. The logistic loss is evaluated with
``logaddexp`` and the sigmoid without ``exp`` of a large positive number, so margins of
``|wᵀx| = 1e3`` give finite values with no overflow warnings.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from . import kernels
from ..validation import check_number

__all__ = ["LogisticRegression", "LeastSquares", "log1pexp", "sigmoid", "minimum_of"]


def log1pexp(z):
    """Stable ``log(1 + exp(z))`` for any real ``z`` (elementwise).

    Examples
    --------
    >>> float(log1pexp(1000.0))
    1000.0
    >>> float(log1pexp(-1000.0))
    0.0
    """
    return np.logaddexp(0.0, z)


def sigmoid(z):
    """Stable ``1 / (1 + exp(−z))`` (elementwise), never evaluating ``exp`` of a large positive number.

    Examples
    --------
    >>> float(sigmoid(0.0))
    0.5
    >>> float(sigmoid(-1000.0))
    0.0
    """
    # scipy's expit evaluates exp only where it cannot overflow: finite, warning-free for any z
    return expit(np.asarray(z, dtype=float))


class _FiniteSum:
    """Common validation and indexing for linear-model finite sums."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # a subclass with a loss of its own must not inherit its parent's compiled gradient
        if "_dloss" in cls.__dict__ and "_KERNEL_LOSS" not in cls.__dict__:
            cls._KERNEL_LOSS = None

    def __init__(self, X, y, l2: float = 0.0):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"X must have at least one sample and one feature, got shape {X.shape}")
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must be 1-D with len(y) == X.shape[0] = {X.shape[0]}, got shape {y.shape}")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise ValueError("X and y must be finite (no NaN or inf)")
        l2 = check_number(l2, "l2", 0.0)
        self.X = np.ascontiguousarray(X)
        self.y = np.ascontiguousarray(y)
        self.l2 = l2

    @property
    def n_samples(self) -> int:
        """Number of samples ``N``."""
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features ``d`` (the length of ``w``)."""
        return self.X.shape[1]

    def _w(self, w) -> np.ndarray:
        w = np.asarray(w, dtype=float)
        if w.shape != (self.n_features,):
            raise ValueError(f"w must have shape ({self.n_features},), got {w.shape}")
        return w

    def _idx(self, idx) -> np.ndarray:
        if idx is None:
            return None
        idx = np.asarray(idx)
        if idx.ndim != 1 or idx.size == 0:
            raise ValueError(f"Invalid idx: shape {idx.shape} (must be a non-empty 1-D array of indices)")
        if not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"idx must hold integers, got dtype {idx.dtype}")
        if idx.min() < 0 or idx.max() >= self.n_samples:
            raise ValueError(f"idx entries must lie in 0..{self.n_samples - 1}, got range "
                             f"{idx.min()}..{idx.max()}")
        return idx

    # subclasses implement: _loss_terms(z, y) and _dloss(z, y) (derivative in z)
    def _rows(self, idx):
        if idx is None:
            return self.X, self.y
        return self.X[idx], self.y[idx]

    def loss(self, w) -> float:
        """Full objective ``f(w) = (1/N) Σ_n f_n(w) + (l2/2)‖w‖²``.

        Parameters
        ----------
        w : array_like, shape (d,)

        Returns
        -------
        float
        """
        w = self._w(w)
        z = self.X @ w
        return float(np.mean(self._loss_terms(z, self.y)) + 0.5 * self.l2 * (w @ w))

    def minibatch_loss(self, w, idx) -> float:
        """Mean of ``f_n(w)`` over the index array ``idx`` (plus the L2 term)."""
        w = self._w(w)
        Xb, yb = self._rows(self._idx(idx))
        return float(np.mean(self._loss_terms(Xb @ w, yb)) + 0.5 * self.l2 * (w @ w))

    def per_sample_losses(self, w, idx=None) -> np.ndarray:
        """``f_n(w)`` for each ``n`` in ``idx`` (all samples when ``idx`` is None), without L2."""
        w = self._w(w)
        Xb, yb = self._rows(self._idx(idx))
        return self._loss_terms(Xb @ w, yb)

    def grad(self, w) -> np.ndarray:
        """Full gradient ``∇f(w) = (1/N) Σ_n ∇f_n(w) + l2·w``.

        Parameters
        ----------
        w : array_like, shape (d,)

        Returns
        -------
        ndarray, shape (d,)

        Examples
        --------
        >>> import numpy as np
        >>> obj = LeastSquares(np.eye(2), np.array([1.0, 2.0]))
        >>> obj.grad(np.zeros(2))
        array([-0.5, -1. ])
        """
        w = self._w(w)
        X, y = self.X, self.y
        rows = self._block_rows()
        if rows >= self.n_samples:  # X fits in one cache-sized block: two BLAS calls
            g = self._dloss(X @ w, y) @ X
        elif self._KERNEL_LOSS is not None and kernels.available():
            # one pass over X, each row used twice while it is in L1 (lec4lib.problems.kernels)
            g = kernels.grad_sum(X, y, np.ascontiguousarray(w), self._KERNEL_LOSS)
        else:
            g = self._blocked_grad_sum(w, rows)
        return g / self.n_samples + self.l2 * w

    def _blocked_grad_sum(self, w, rows: int) -> np.ndarray:
        """``Σ_n ∇f_n(w)`` without L2 in NumPy, over blocks of ``rows`` rows that stay in cache:
        ``z = X_b w`` reads a block from memory and ``r_b @ X_b`` reads it again from cache.
        The fallback of :meth:`grad` when Numba is missing."""
        X, y = self.X, self.y
        g = np.zeros(self.n_features)
        for s in range(0, self.n_samples, rows):
            Xb = X[s:s + rows]
            g += self._dloss(Xb @ w, y[s:s + rows]) @ Xb
        return g

    #: Loss code of the compiled single-pass gradient (:mod:`lec4lib.problems.kernels`), ``None`` for none.
    _KERNEL_LOSS = None

    #: Bytes of X up to which the full gradient is two plain BLAS calls (the matrix stays in
    #: cache between them), and the block size of the NumPy fallback: half of a typical
    #: per-core L2 cache (1-2 MB).
    BLOCK_BYTES = 2 ** 19

    def _block_rows(self) -> int:
        return max(64, self.BLOCK_BYTES // (8 * self.n_features))

    def minibatch_grad(self, w, idx, *, check: bool = True) -> np.ndarray:
        """Minibatch gradient ``(1/|B|) Σ_{n∈B} ∇f_n(w) + l2·w`` over the index array ``idx``.

        Parameters
        ----------
        w : array_like, shape (d,)
        idx : array_like of int, shape (b,)
            Sample indices in ``0..N−1``; repeats are allowed (sampling with replacement).
        check : bool, default True
            Validate ``w`` and ``idx``. An inner loop that built ``idx`` itself (the
            training loop of :func:`lec4lib.optim.driver.minibatch`) passes False.

        Returns
        -------
        ndarray, shape (d,)
        """
        if check:
            w = self._w(w)
            idx = self._idx(idx)
        Xb = self.X[idx]
        r = self._dloss(Xb @ w, self.y[idx])
        g = (r @ Xb) / idx.size
        if self.l2:
            g += self.l2 * w
        return g

    def per_sample_grads(self, w, idx=None) -> np.ndarray:
        """The per-sample gradients ``∇f_n(w) + l2·w``, one row per index.

        Parameters
        ----------
        w : array_like, shape (d,)
        idx : array_like of int, shape (b,), optional
            Sample indices; all ``N`` samples when omitted.

        Returns
        -------
        ndarray, shape (b, d)
            Row ``k`` is ``∇f_{idx[k]}(w)``; the mean of the rows is :meth:`minibatch_grad`.
        """
        w = self._w(w)
        Xb, yb = self._rows(self._idx(idx))
        r = self._dloss(Xb @ w, yb)
        return r[:, None] * Xb + self.l2 * w[None, :]

    def row_grads(self, W, idx, *, check: bool = True) -> np.ndarray:
        """Row ``k`` is ``∇f_{idx[k]}(W[k]) + l2·W[k]``: one example for each of many parameter vectors.

        The gradient that ``len(idx)`` independent runs of SGD with one example a step take
        at once, run ``k`` at ``W[k]`` on example ``idx[k]`` (for one run it is
        :meth:`minibatch_grad` with a single index; the two agree to rounding).

        Parameters
        ----------
        W : array_like, shape (k, d)
        idx : array_like of int, shape (k,)
            Sample indices in ``0..N−1``.
        check : bool, default True
            Validate ``W`` and ``idx``; a loop that built both itself passes False.

        Returns
        -------
        ndarray, shape (k, d)

        Examples
        --------
        >>> obj = LeastSquares(np.eye(2), np.array([1.0, 2.0]))
        >>> obj.row_grads(np.zeros((3, 2)), [0, 1, 1])     # x_n (x_n·w − y_n)
        array([[-1., -0.],
               [-0., -2.],
               [-0., -2.]])
        """
        if check:
            W = np.asarray(W, dtype=float)
            idx = self._idx(idx)
            if W.shape != (idx.size, self.n_features):
                raise ValueError(f"W must have shape ({idx.size}, {self.n_features}) (one row "
                                 f"per index), got {W.shape}")
        Xb = self.X[idx]
        r = self._dloss(np.einsum("kd,kd->k", Xb, W), self.y[idx])
        g = r[:, None] * Xb
        if self.l2:
            g += self.l2 * W
        return g


class LogisticRegression(_FiniteSum):
    """Logistic regression ``f(w) = (1/N) Σ log(1 + exp(−y_n wᵀx_n)) + (l2/2)‖w‖²``.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Features.
    y : array_like, shape (N,)
        Labels in ``{−1, +1}``.
    l2 : float, default 0
        L2 regularisation strength (``>= 0``); with ``l2 > 0`` the objective is strongly convex.

    Examples
    --------
    >>> import numpy as np
    >>> obj = LogisticRegression(np.array([[1.0], [2.0]]), np.array([1, -1]))
    >>> round(obj.loss(np.zeros(1)), 6)  # log 2
    0.693147
    """

    def __init__(self, X, y, l2: float = 0.0):
        super().__init__(X, y, l2)
        labels = np.unique(self.y)
        if not np.all(np.isin(labels, [-1.0, 1.0])):
            raise ValueError(f"y must hold labels in {{-1, +1}}, got values {labels[:5]}")

    _KERNEL_LOSS = kernels.LOGISTIC

    @staticmethod
    def _loss_terms(z, y):
        return log1pexp(-y * z)

    def hessian(self, w) -> np.ndarray:
        """Hessian ``(1/N) Xᵀ diag(σ(z)(1−σ(z))) X + l2·I`` with ``z = Xw``.

        Parameters
        ----------
        w : array_like, shape (d,)

        Returns
        -------
        ndarray, shape (d, d)
        """
        w = self._w(w)
        s = sigmoid(self.X @ w)
        D = s * (1.0 - s)
        return self.X.T @ (self.X * D[:, None]) / self.n_samples + self.l2 * np.eye(self.n_features)

    def smoothness(self) -> float:
        """A global smoothness constant ``L = λ_max(XᵀX)/(4N) + l2`` (the Hessian never exceeds it)."""
        return float(np.linalg.eigvalsh(self.X.T @ self.X)[-1] / (4 * self.n_samples) + self.l2)

    def solve(self, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
        """The minimiser ``w*`` by Newton's method with backtracking (needs ``l2 > 0``).

        Parameters
        ----------
        tol : float, default 1e-12
            Stop when ``‖∇f(w)‖ <= tol``.
        max_iter : int, default 100

        Returns
        -------
        ndarray, shape (d,)

        Raises
        ------
        ValueError
            When ``l2 == 0`` (the minimiser may not exist: separable data).
        RuntimeError
            When Newton's method has not reached ``tol`` after ``max_iter`` steps.
        """
        if self.l2 <= 0:
            raise ValueError("solve() needs l2 > 0 (with l2 = 0 a minimiser may not exist)")
        w = np.zeros(self.n_features)
        f = self.loss(w)
        for _ in range(int(max_iter)):
            g = self.grad(w)
            if np.linalg.norm(g) <= tol:
                return w
            step = np.linalg.solve(self.hessian(w), g)
            s = 1.0
            while s > 1e-10:
                w_new = w - s * step
                f_new = self.loss(w_new)
                if f_new <= f - 1e-4 * s * (g @ step):
                    break
                s *= 0.5
            else:  # no decrease possible at floating-point precision: we are at the optimum
                if np.linalg.norm(g) <= 1e3 * tol:
                    return w
                break
            w, f = w_new, f_new
        if np.linalg.norm(self.grad(w)) <= tol:
            return w
        raise RuntimeError(f"Newton did not reach ‖∇f‖ <= {tol} in {max_iter} steps "
                           f"(‖∇f‖ = {np.linalg.norm(self.grad(w)):.3e})")

    @staticmethod
    def _dloss(z, y):
        # d/dz log(1 + exp(-y z)) = -y / (1 + exp(y z)) = -y σ(-y z) = y (σ(y z) - 1),
        # computed in place on one temporary (this is the inner loop of the full gradient)
        r = np.multiply(y, z)
        expit(r, out=r)
        r -= 1.0
        r *= y
        return r


class LeastSquares(_FiniteSum):
    """Least squares ``f(w) = (1/N) Σ ½ (wᵀx_n − y_n)² + (l2/2)‖w‖²``.

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,)
        Real targets.
    l2 : float, default 0
        Ridge strength (``>= 0``).

    Examples
    --------
    >>> import numpy as np
    >>> obj = LeastSquares(np.eye(2), np.array([1.0, 2.0]))
    >>> obj.loss(np.array([1.0, 2.0]))
    0.0
    """

    _KERNEL_LOSS = kernels.SQUARES

    @staticmethod
    def _loss_terms(z, y):
        return 0.5 * (z - y) ** 2

    @staticmethod
    def _dloss(z, y):
        return z - y

    def smoothness(self) -> float:
        """The smoothness constant ``L = λ_max(XᵀX)/N + l2``."""
        return float(np.linalg.eigvalsh(self.X.T @ self.X)[-1] / self.n_samples + self.l2)

    def solve(self) -> np.ndarray:
        """The exact minimiser ``w* = (XᵀX/N + l2·I)⁻¹ Xᵀy/N`` (least-squares solve when singular)."""
        N, d = self.X.shape
        A = self.X.T @ self.X / N + self.l2 * np.eye(d)
        b = self.X.T @ self.y / N
        return np.linalg.lstsq(A, b, rcond=None)[0]


def minimum_of(objective, w0=None) -> tuple[np.ndarray, float]:
    """Minimiser and minimum of a smooth objective by scipy's L-BFGS (an independent reference)."""
    from scipy.optimize import minimize

    w0 = np.zeros(objective.n_features) if w0 is None else np.asarray(w0, dtype=float)
    res = minimize(objective.loss, w0, jac=objective.grad, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-12, "ftol": 1e-15})
    return res.x, float(res.fun)
