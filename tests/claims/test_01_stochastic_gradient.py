"""Claims of chapters/01-stochastic-gradient.md: cost of a full gradient, the minibatch gradient
is unbiased with the predicted variance, the slide's logistic gradient, SGD reaches the optimum."""

import numpy as np
import pytest

from tests.conftest import rows_read
import torch
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from lec4lib.problems.datasets import load_breast_cancer_pm1
from lec4lib.theory.measure import loglog_slope
from lec4lib.theory.gradient_noise import (all_subsets_mean_gradient, gradient_spread,
                                           minibatch_variance_measured, minibatch_variance_theory,
                                           monte_carlo_mean_error)
from lec4lib.problems.objectives import LogisticRegression
from lec4lib.optim.schedules import Polynomial
from lec4lib.optim.driver import sgd


@pytest.fixture(scope="module")
def data():
    return load_breast_cancer_pm1()


def test_full_gradient_reads_every_row_minibatch_gradient_reads_only_its_batch():
    # the operation count behind the slide's cost claim (the wall times, and their slope,
    # are printed by benchmarks/bench_full_gradient.py, never asserted): a full gradient
    # reads all N rows, a minibatch gradient the |B| rows of its batch, whatever N is
    from lec4lib.problems.datasets import make_logistic_data
    X, y, _ = make_logistic_data(1024, 16, seed=0)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(16) * 0.1
    ns = np.array([128, 256, 512, 1024])
    for n in ns:
        obj = LogisticRegression(X[:n], y[:n])
        idx = rng.choice(n, size=64, replace=False)
        read_full = rows_read(lambda: obj.grad(w), obj.X)
        read_mini = rows_read(lambda: obj.minibatch_grad(w, idx), obj.X)
        np.testing.assert_array_equal(read_full, np.arange(n))    # all N rows: linear in N
        np.testing.assert_array_equal(read_mini, np.sort(idx))    # its 64 rows, whatever N is


def test_minibatch_gradient_is_unbiased_over_all_subsets(data):
    X, y = data
    small = LogisticRegression(X[:12], y[:12])
    w = np.random.default_rng(2).standard_normal(30) * 0.3
    mean, k = all_subsets_mean_gradient(small, w, 4)
    assert k == 495  # C(12, 4)
    # reference: the full gradient of the 12 examples written out here, not by lec4lib
    z = X[:12] @ w
    ref = np.mean((-y[:12] / (1 + np.exp(y[:12] * z)))[:, None] * X[:12], axis=0)
    np.testing.assert_allclose(mean, ref, rtol=0, atol=20 * np.finfo(float).eps)


def test_monte_carlo_error_of_the_mean_shrinks_like_one_over_sqrt_samples(data):
    X, y = data
    obj = LogisticRegression(X, y)
    counts = np.array([10, 30, 100, 300, 1000])
    err = monte_carlo_mean_error(obj, np.zeros(30), 8, counts, n_repeats=50, seed=0)
    assert loglog_slope(counts, err) == pytest.approx(-0.5, abs=0.05)
    # and the level is the predicted one: sqrt(var(g_B) / K)
    pred = np.sqrt(minibatch_variance_theory(obj, np.zeros(30), 8, replace=False) / counts)
    np.testing.assert_allclose(err, pred, rtol=0.15)


@pytest.mark.parametrize("replace", [True, False])
def test_minibatch_variance_matches_sigma2_over_b_with_finite_population_correction(data, replace):
    X, y = data
    obj = LogisticRegression(X, y)
    N = len(y)
    # reference σ² computed here from the slide's per-sample gradient (at w = 0 it is −y x / 2)
    G = -y[:, None] * X / 2
    sigma2 = np.mean(np.sum((G - G.mean(0)) ** 2, axis=1))
    assert gradient_spread(obj, np.zeros(30)) == pytest.approx(sigma2, rel=1e-12)
    for b in [1, 4, 16, 64, 256]:
        formula = sigma2 / b * (1.0 if replace else (N - b) / (N - 1))
        measured = minibatch_variance_measured(obj, np.zeros(30), b, 10_000, seed=1, replace=replace)
        assert measured == pytest.approx(formula, rel=0.04)
        assert minibatch_variance_theory(obj, np.zeros(30), b, replace) == pytest.approx(formula, rel=1e-12)


def test_logistic_per_sample_gradient_equals_torch_autograd(data):
    X, y = data
    obj = LogisticRegression(X, y)
    w = np.random.default_rng(1).standard_normal(30)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    jac = torch.autograd.functional.jacobian(
        lambda v: torch.nn.functional.softplus(-yt * (Xt @ v)), torch.tensor(w))
    np.testing.assert_allclose(obj.per_sample_grads(w), jac.numpy(), rtol=1e-10, atol=1e-15)


def test_logistic_loss_and_gradient_finite_at_margin_1e3():
    obj = LogisticRegression(np.array([[1.0], [-1.0]]), np.array([1.0, 1.0]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, grad = obj.loss(np.array([1e3])), obj.grad(np.array([1e3]))
    assert loss == pytest.approx(500.0, rel=1e-15)
    assert grad[0] == pytest.approx(0.5, rel=1e-15)


def test_sgd_reaches_the_newton_optimum_confirmed_by_sklearn(data):
    X, y = data
    N, l2 = len(y), 1e-2
    obj = LogisticRegression(X, y, l2=l2)
    w_star = obj.solve()
    # independent reference: scikit-learn's lbfgs on the same objective (C = 1/(N λ))
    sk = SkLogisticRegression(C=1 / (N * l2), fit_intercept=False, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(w_star, sk.coef_.ravel(), atol=1e-6)
    run = sgd(obj, lr=Polynomial(1.0, power=1.0, t0=100), batch_size=1, epochs=50, seed=0, w_star=w_star)
    assert run.history.loss[-1] - obj.loss(w_star) < 1e-5
    assert run.history.dist[-1] / np.linalg.norm(w_star) < 0.02
    assert run.history.loss[-1] < 0.01 * (run.history.loss[0] - obj.loss(w_star)) + obj.loss(w_star)
