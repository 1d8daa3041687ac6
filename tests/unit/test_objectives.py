"""lec4lib.problems.objectives: gradients against torch autograd and finite differences, stability, validation."""

import numpy as np
import pytest
import torch

from lec4lib.problems.datasets import make_linear_regression_data, make_logistic_data
from lec4lib.problems.objectives import LeastSquares, log1pexp, LogisticRegression, sigmoid


@pytest.fixture
def logreg():
    X, y, _ = make_logistic_data(50, 4, seed=3)
    return LogisticRegression(X, y, l2=0.1)


def _torch_logreg(X, y, w, l2):
    Xt, yt = torch.tensor(X), torch.tensor(y)
    wt = torch.tensor(w, requires_grad=True)
    loss = torch.nn.functional.softplus(-yt * (Xt @ wt)).mean() + 0.5 * l2 * (wt @ wt)
    loss.backward()
    return loss.item(), wt.grad.numpy()


def test_logistic_loss_and_grad_match_torch_autograd(logreg):
    w = np.random.default_rng(0).standard_normal(4)
    ref_loss, ref_grad = _torch_logreg(logreg.X, logreg.y, w, logreg.l2)
    assert logreg.loss(w) == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(logreg.grad(w), ref_grad, rtol=1e-10, atol=1e-14)


def test_minibatch_grad_matches_torch_on_the_same_indices(logreg):
    w = np.random.default_rng(1).standard_normal(4)
    idx = np.array([3, 3, 7, 11, 40])
    _, ref = _torch_logreg(logreg.X[idx], logreg.y[idx], w, logreg.l2)
    np.testing.assert_allclose(logreg.minibatch_grad(w, idx), ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(logreg.per_sample_grads(w, idx).mean(axis=0), ref, rtol=1e-10, atol=1e-14)
    assert logreg.per_sample_grads(w).shape == (50, 4)


def test_least_squares_grad_matches_finite_differences_and_solve_is_stationary():
    X, y, _ = make_linear_regression_data(30, 3, seed=2)
    obj = LeastSquares(X, y, l2=0.05)
    w = np.array([0.3, -1.0, 2.0])
    eps = 1e-6
    fd = np.array([(obj.loss(w + eps * e) - obj.loss(w - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(obj.grad(w), fd, rtol=1e-6)
    np.testing.assert_allclose(obj.grad(obj.solve()), 0.0, atol=1e-12)
    ref = np.linalg.solve(X.T @ X / 30 + 0.05 * np.eye(3), X.T @ y / 30)
    np.testing.assert_allclose(obj.solve(), ref, rtol=1e-10)


def test_logistic_is_finite_at_huge_margins():
    X = np.array([[1.0], [-1.0]])
    y = np.array([1.0, 1.0])
    obj = LogisticRegression(X, y)
    w = np.array([1e3])  # margins +1e3 and -1e3
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        assert obj.loss(w) == pytest.approx(0.5 * 1e3)  # log(1+e^-1000)≈0, log(1+e^1000)≈1000
        g = obj.grad(w)
    np.testing.assert_allclose(g, [0.5], rtol=1e-12)  # -y x σ(-y z): only the wrong one counts
    assert float(log1pexp(800.0)) == 800.0 and float(sigmoid(-800.0)) == 0.0


def test_logistic_rejects_labels_outside_pm1():
    with pytest.raises(ValueError, match="y must hold labels"):
        LogisticRegression(np.ones((2, 1)), np.array([0.0, 1.0]))


@pytest.mark.parametrize("cls", [LogisticRegression, LeastSquares])
def test_objectives_validate_shapes_and_indices(cls):
    X, y = np.ones((4, 2)), np.array([1.0, -1.0, 1.0, -1.0])
    with pytest.raises(ValueError, match="X must be a 2-D"):
        cls(np.ones(4), y)
    with pytest.raises(ValueError, match="len\\(y\\)"):
        cls(X, y[:3])
    with pytest.raises(ValueError, match="l2"):
        cls(X, y, l2=-1.0)
    with pytest.raises(ValueError, match="finite"):
        cls(np.full((4, 2), np.nan), y)
    obj = cls(X, y)
    with pytest.raises(ValueError, match="w must have shape"):
        obj.grad(np.ones(3))
    with pytest.raises(ValueError, match="idx entries"):
        obj.minibatch_grad(np.ones(2), np.array([0, 4]))
    with pytest.raises(ValueError, match=r"^Invalid idx: shape \(0,\) \(must be a non-empty 1-D array of indices\)$"):
        obj.minibatch_grad(np.ones(2), np.array([], dtype=int))
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match=r"^Invalid l2: .* \(must be finite and >= 0\)$"):
            cls(X, y, l2=bad)
    with pytest.raises(ValueError, match=r"^Invalid l2: True \(must be a number\)$"):
        cls(X, y, l2=True)
    with pytest.raises(ValueError, match="integers"):
        obj.minibatch_grad(np.ones(2), np.array([0.5]))
    assert obj.n_samples == 4 and obj.n_features == 2
