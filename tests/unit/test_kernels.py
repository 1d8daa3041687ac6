"""lec4lib.problems.kernels: the single-pass Numba full gradient against independent references, the
NumPy fallback, IEEE edge cases, input checks, and what happens without Numba."""

import sys

import numpy as np
import pytest
import torch

from lec4lib.problems import kernels
from lec4lib.problems.datasets import make_linear_regression_data, make_logistic_data
from lec4lib.problems.objectives import LeastSquares, LogisticRegression

# 5000 x 20 float64 = 800 KB: above BLOCK_BYTES (512 KiB), so grad() takes the kernel path
N, D = 5000, 20


@pytest.fixture
def spy(monkeypatch):
    """Counts calls of kernels.grad_sum made by the objectives."""
    calls = []
    real = kernels.grad_sum

    def counting(*args):
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(kernels, "grad_sum", counting)
    return calls


def test_numba_is_installed():
    assert kernels.available()  # numba is a dependency in pyproject.toml


def test_logistic_kernel_path_matches_torch_autograd(spy):
    X, y, _ = make_logistic_data(N, D, seed=4)
    obj = LogisticRegression(X, y, l2=0.01)
    assert obj.X.nbytes > obj.BLOCK_BYTES
    w = np.random.default_rng(5).standard_normal(D) * 0.5
    Xt, yt, wt = torch.tensor(X), torch.tensor(y), torch.tensor(w, requires_grad=True)
    loss = torch.nn.functional.softplus(-yt * (Xt @ wt)).mean() + 0.005 * (wt @ wt)
    loss.backward()
    np.testing.assert_allclose(obj.grad(w), wt.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert spy == [kernels.LOGISTIC]


def test_least_squares_kernel_path_matches_the_normal_equations_gradient(spy):
    X, y, _ = make_linear_regression_data(N, D, seed=6)
    obj = LeastSquares(X, y, l2=0.1)
    w = np.linspace(-1.0, 1.0, D)
    ref = (X.T @ X @ w - X.T @ y) / N + 0.1 * w  # written out here, not by lec4lib
    np.testing.assert_allclose(obj.grad(w), ref, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(obj.grad(obj.solve()), 0.0, atol=1e-12)
    assert spy == [kernels.SQUARES] * 2


@pytest.mark.parametrize("cls, data", [(LogisticRegression, make_logistic_data),
                                       (LeastSquares, make_linear_regression_data)])
def test_kernel_and_numpy_fallback_agree_and_the_kernel_is_deterministic(cls, data, monkeypatch, spy):
    X, y, _ = data(N + 7, D, seed=7)  # a last block shorter than the others
    obj = cls(X, y, l2=1e-3)
    w = np.random.default_rng(8).standard_normal(D)
    g_kernel = obj.grad(w)
    assert np.array_equal(g_kernel, obj.grad(w))  # one thread, fixed order: bit-identical
    monkeypatch.setattr(kernels, "available", lambda: False)
    g_numpy = obj.grad(w)
    assert len(spy) == 2  # the fallback call did not reach the kernel
    np.testing.assert_allclose(g_kernel, g_numpy, rtol=1e-12, atol=1e-15)


def test_kernel_path_is_finite_at_huge_margins():
    # half the rows x = +1, half x = -1, all labels +1, w = 1e3: margins of ±1e3
    X = np.repeat([[1.0], [-1.0]], 40_000, axis=0)
    obj = LogisticRegression(X, np.ones(80_000))
    assert obj.X.nbytes > obj.BLOCK_BYTES
    g = obj.grad(np.array([1e3]))
    np.testing.assert_allclose(g, [0.5], rtol=1e-12)  # only the misclassified half counts


def test_kernel_path_propagates_nan_and_inf_in_w_like_numpy(monkeypatch):
    X, y, _ = make_logistic_data(N, D, seed=9)
    obj = LogisticRegression(X, y)
    for bad in (np.nan, np.inf):
        w = np.zeros(D)
        w[3] = bad
        with np.errstate(invalid="ignore", over="ignore"):  # 0·inf in the l2 term, as in NumPy
            g_kernel = obj.grad(w)
            with monkeypatch.context() as m:
                m.setattr(kernels, "available", lambda: False)
                g_numpy = obj.grad(w)
        np.testing.assert_array_equal(np.isnan(g_kernel), np.isnan(g_numpy))
        assert np.isnan(g_kernel).any() or np.isfinite(g_kernel).all()


def test_subclass_with_its_own_loss_does_not_inherit_the_compiled_gradient(spy):
    class Cubic(LeastSquares):  # f_n = |z - y|^3 / 3, a loss the kernel does not know
        @staticmethod
        def _dloss(z, y):
            return np.abs(z - y) * (z - y)

    X, y, _ = make_linear_regression_data(N, D, seed=10)
    w = np.full(D, 0.2)
    r = X @ w - y
    np.testing.assert_allclose(Cubic(X, y).grad(w), (np.abs(r) * r) @ X / N, rtol=1e-12)
    assert spy == [] and Cubic._KERNEL_LOSS is None and LeastSquares._KERNEL_LOSS == kernels.SQUARES


def test_grad_sum_rejects_inputs_it_cannot_take():
    X, y, w = np.ones((4, 2)), np.ones(4), np.zeros(2)
    with pytest.raises(ValueError, match="loss must be"):
        kernels.grad_sum(X, y, w, 2)
    with pytest.raises(ValueError, match="X must be a 2-D float64"):
        kernels.grad_sum(X.astype(np.float32), y, w, kernels.SQUARES)
    with pytest.raises(ValueError, match="y must be a 1-D float64"):
        kernels.grad_sum(X, [1.0] * 4, w, kernels.SQUARES)
    with pytest.raises(ValueError, match="X must be C-contiguous"):
        kernels.grad_sum(np.asfortranarray(np.ones((4, 3))), y, np.zeros(3), kernels.SQUARES)
    with pytest.raises(ValueError, match="shapes do not match"):
        kernels.grad_sum(X, y, np.zeros(3), kernels.SQUARES)


def test_without_numba_the_library_falls_back_and_says_why(monkeypatch):
    monkeypatch.setattr(kernels, "_compiled", None)
    monkeypatch.setattr(kernels, "_import_error", None)
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    assert not kernels.available()
    with pytest.raises(ImportError, match="needs numba"):
        kernels.grad_sum(np.ones((2, 2)), np.ones(2), np.zeros(2), kernels.SQUARES)
    X, y, _ = make_logistic_data(N, D, seed=11)
    obj = LogisticRegression(X, y)
    w = np.full(D, 0.1)
    ref = (-y / (1 + np.exp(y * (X @ w)))) @ X / N
    np.testing.assert_allclose(obj.grad(w), ref, rtol=1e-10, atol=1e-15)
