"""lec4lib.problems.datasets: seeded, shaped as documented, ground truth honoured, bad input rejected."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from lec4lib.problems.datasets import (load_breast_cancer_pm1, load_digits_pm1,
                                       make_linear_regression_data, make_logistic_data,
                                       make_separable_data, standardize_columns,
                                       train_test_split_seeded)


def test_breast_cancer_labels_and_standardization():
    X, y = load_breast_cancer_pm1()
    raw = load_breast_cancer()
    assert X.shape == (569, 30)
    assert set(np.unique(y)) == {-1.0, 1.0}
    assert int((y == 1).sum()) == int((raw.target == 1).sum())
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1.0, rtol=1e-12)
    Xr, _ = load_breast_cancer_pm1(standardize=False)
    np.testing.assert_array_equal(Xr, raw.data)


def test_digits_pm1():
    X, y = load_digits_pm1(positive=[3], negative=[8])
    assert X.shape[1] == 64 and set(np.unique(y)) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="disjoint"):
        load_digits_pm1(positive=[3], negative=[3])


def test_generators_are_seeded():
    a = make_logistic_data(20, 3, seed=5)
    b = make_logistic_data(20, 3, seed=5)
    c = make_logistic_data(20, 3, seed=6)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    # and the labels follow the stated model P(y = +1 | x) = σ(w_trueᵀx): the residuals
    # y − E[y|x] = y − tanh(w_trueᵀx / 2) have mean 0 and are uncorrelated with x. Each of
    # the d + 1 sample means has standard error ≤ 1/√N = 0.005; five standard errors
    X, y, w = make_logistic_data(40_000, 3, seed=0, scale=3.0)
    r = y - np.tanh(X @ w / 2)
    assert abs(r.mean()) < 5 / np.sqrt(len(y))
    assert np.all(np.abs(r @ X / len(y)) < 5 / np.sqrt(len(y)))
    # x ~ N(0, I): the margin's standard deviation is ‖w_true‖ (sample std of N = 40,000
    # normals: relative standard error 1/√(2N) = 0.35%; six of them)
    assert np.std(X @ w) == pytest.approx(np.linalg.norm(w), rel=0.02)


def test_linear_regression_ground_truth_is_recovered():
    X, y, w = make_linear_regression_data(20000, 4, seed=0, noise=0.1)
    w_ls = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(w_ls, w, atol=5e-3)


def test_logistic_labels_follow_the_model():
    X, y, w = make_logistic_data(40000, 3, seed=1, scale=2.0)
    from sklearn.linear_model import LogisticRegression as SkLR
    w_hat = SkLR(C=1e6, fit_intercept=False, max_iter=1000).fit(X, y).coef_.ravel()
    np.testing.assert_allclose(w_hat, w, atol=0.08)


def test_separable_data_has_the_margin_and_radius():
    X, y, u = make_separable_data(300, 3, margin=0.2, seed=0)
    assert np.min(y * (X @ u)) >= 0.2
    assert np.max(np.linalg.norm(X, axis=1)) <= 1.0
    assert np.linalg.norm(u) == pytest.approx(1.0)


def test_split_and_standardize():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10.0)
    Xtr, Xte, ytr, yte = train_test_split_seeded(X, y, 0.3, seed=0)
    assert len(Xte) == 3 and len(Xtr) == 7
    assert sorted(np.concatenate([ytr, yte]).tolist()) == y.tolist()
    np.testing.assert_array_equal(Xtr[:, 0] / 2, ytr)
    np.testing.assert_allclose(standardize_columns(np.array([[1.0, 5.0], [3.0, 5.0]])), [[-1, 0], [1, 0]])


def test_data_rejects_bad_input():
    with pytest.raises(ValueError, match="n_samples"):
        make_logistic_data(0, 3)
    with pytest.raises(ValueError, match="n_features"):
        make_linear_regression_data(3, 1.5)
    with pytest.raises(ValueError, match="noise"):
        make_linear_regression_data(3, 2, noise=-1)
    with pytest.raises(ValueError, match="scale"):
        make_logistic_data(3, 2, scale=0)
    with pytest.raises(ValueError, match="margin"):
        make_separable_data(3, 2, margin=1.5)
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split_seeded(np.ones((4, 1)), np.ones(4), test_fraction=1.0)
    with pytest.raises(ValueError, match="X must be"):
        train_test_split_seeded(np.ones((4, 1)), np.ones(3))
