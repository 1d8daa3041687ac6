"""Claims of chapters/04-perceptron.md: the two subgradient cases, SGD = the perceptron rule,
Novikoff's mistake bound on separable data, endless updates on non-separable data."""

import numpy as np
import pytest
from sklearn.linear_model import Perceptron as SkPerceptron

from lec4lib.problems.datasets import load_breast_cancer_pm1, make_separable_data
from lec4lib.optim.perceptron import (accuracy, classic_perceptron, is_linearly_separable,
                                      margin_and_radius, perceptron_subgradient, sgd_perceptron)


def test_perceptron_gradient_two_cases_match_finite_differences():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        w, x, y = rng.standard_normal(5), rng.standard_normal(5), rng.choice([-1.0, 1.0])
        loss = lambda v: max(0.0, -y * (v @ x))  # the slide's loss, written here
        fd = np.array([(loss(w + 1e-6 * e) - loss(w - 1e-6 * e)) / 2e-6 for e in np.eye(5)])
        case = y * (w @ x) > 0
        seen.add(case)
        expected = np.zeros(5) if case else -y * x   # case I: 0, case II: −y x
        np.testing.assert_allclose(perceptron_subgradient(w, x, y), expected, atol=0)
        np.testing.assert_allclose(fd, expected, atol=1e-8)
    assert seen == {True, False}


def test_sgd_update_equals_classic_perceptron_rule():
    X, y, _ = make_separable_data(500, 5, margin=0.1, seed=0)
    a = sgd_perceptron(X, y, lr=1.0, epochs=200, seed=0)
    b = classic_perceptron(X, y, epochs=200, seed=0)
    assert a.n_mistakes == b.n_mistakes > 0
    np.testing.assert_array_equal(a.path, b.path)
    c = sgd_perceptron(X, y, lr=0.01, epochs=200, seed=0)
    np.testing.assert_allclose(c.path / 0.01, a.path, rtol=1e-12, atol=1e-12)
    # scikit-learn's Perceptron (no regularisation, no intercept, same data order, eta0 = 1)
    # applies the same rule; in index order its weights after one pass equal ours
    sk = SkPerceptron(fit_intercept=False, shuffle=False, max_iter=1, tol=None, eta0=1.0).fit(X, y)
    ours = classic_perceptron(X, y, epochs=1, shuffle=False)
    np.testing.assert_allclose(sk.coef_.ravel(), ours.w, rtol=1e-12)


def test_slide_rule_with_ties_as_correct_never_moves_from_zero():
    X, y, _ = make_separable_data(500, 5, margin=0.1, seed=0)
    stuck = sgd_perceptron(X, y, epochs=5, seed=0, at_zero="correct")
    assert stuck.n_mistakes == 0 and not np.any(stuck.w)
    assert accuracy(stuck.w, X, y) == 0.0


@pytest.mark.parametrize("margin", [0.05, 0.1, 0.2, 0.4])
def test_perceptron_mistakes_at_most_R_over_gamma_squared(margin):
    X, y, u = make_separable_data(1000, 5, margin=margin, seed=1)
    R, gamma, bound = margin_and_radius(X, y, u)
    # independent R and γ
    assert R == pytest.approx(np.max(np.sqrt(np.sum(X**2, axis=1))))
    assert gamma == pytest.approx(np.min(y * (X @ u)) / np.linalg.norm(u)) and gamma >= margin
    for s in range(10):
        run = sgd_perceptron(X, y, epochs=1000, seed=s)
        assert run.converged
        assert np.all(y * (X @ run.w) > 0)
        assert run.n_mistakes <= bound


def test_perceptron_on_non_separable_data_never_settles():
    X, y = load_breast_cancer_pm1()
    assert not is_linearly_separable(X, y)
    Xs, ys, _ = make_separable_data(100, 3, margin=0.1, seed=0)
    assert is_linearly_separable(Xs, ys)
    run = sgd_perceptron(X, y, epochs=50, seed=0)
    assert not run.converged and run.mistakes_per_epoch.min() > 0
    acc = np.array([accuracy(w, X, y) for w in run.w_per_epoch])
    assert acc[10:].max() - acc[10:].min() > 0.01   # keeps jumping
    assert np.linalg.norm(run.w_per_epoch[-1]) > np.linalg.norm(run.w_per_epoch[9])
