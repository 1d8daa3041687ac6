"""lec4lib.theory.noise_floor's averaging and 1/t helpers, driver.sgd's average_from,
studies.ch05_momentum.trajectory_direction_noise and the momentum stability helpers:
against hand-written loops, and input validation."""

import numpy as np
import pytest

from lec4lib.optim.driver import sgd
from lec4lib.optim.sgd import SGD
from lec4lib.problems.datasets import load_breast_cancer_pm1
from lec4lib.problems.objectives import LogisticRegression
from lec4lib.studies.ch02_step_size import mean_squared_distance
from lec4lib.studies.ch05_momentum import stability_boundary, trajectory_direction_noise
from lec4lib.theory.momentum import ema_momentum_radius, heavy_ball_radius, stability_limit
from lec4lib.theory.noise_floor import (averaged_second_moment_recursion, noisy_quadratic_averages,
                                        noisy_quadratic_second_moments, one_over_t_constant)


@pytest.fixture(scope="module")
def small_logreg():
    X, y = load_breast_cancer_pm1(standardize=True)
    return LogisticRegression(X[:60, :5], y[:60], l2=0.1)


def test_noisy_quadratic_averages_equal_a_hand_written_loop():
    mu, sigma, lr, T, a, n = 0.8, 0.6, 0.3, 50, 7, 40
    rng = np.random.default_rng(3)
    w = np.full(n, 2.0)
    ws = []
    for _ in range(T):
        w = w - lr * (mu * w + sigma * rng.standard_normal(n))
        ws.append(w)
    last, avg = noisy_quadratic_averages(SGD(lr), mu, sigma, T, average_from=a, n_chains=n, seed=3, w0=2.0)
    assert last == pytest.approx(np.mean(ws[-1] ** 2), rel=1e-12)
    assert avg == pytest.approx(np.mean(np.mean(ws[a - 1:], axis=0) ** 2), rel=1e-12)
    # the same chains as the second-moment simulator
    m = noisy_quadratic_second_moments(SGD(lr), mu, sigma, T, n_chains=n, seed=3, w0=2.0)
    assert m[-1] == pytest.approx(last, rel=1e-15)


def test_sgd_average_from_averages_w_t_for_t_at_least_max_of_a_and_1(small_logreg):
    obj = small_logreg
    N, T, lr = obj.n_samples, 30, 0.5
    ws = [np.zeros(obj.n_features)]
    for _ in range(T):                                   # full batch: plain gradient descent
        ws.append(ws[-1] - lr * obj.grad(ws[-1]))
    ws = np.array(ws)
    for a in (0, 1, 10, T):
        res = sgd(obj, lr=lr, batch_size=N, n_steps=T, average_from=a)
        np.testing.assert_allclose(res.w_avg, ws[max(a, 1):].mean(axis=0), rtol=1e-10, atol=1e-14)


def test_one_over_t_constant_is_smallest_at_c_one_over_mu():
    mu, sigma = 2.0, 1.5
    cs = np.linspace(0.26, 3.0, 400)
    vals = [one_over_t_constant(c, mu, sigma) for c in cs]
    assert cs[int(np.argmin(vals))] == pytest.approx(1 / mu, abs=0.01)
    assert min(vals) == pytest.approx(sigma ** 2 / mu ** 2, rel=1e-3)
    assert one_over_t_constant(1 / (2 * mu), mu, sigma) == float("inf")   # the threshold itself


def test_trajectory_direction_noise_equals_a_hand_written_loop(small_logreg):
    obj = small_logreg
    chains, steps, b, lr, beta = 4, 6, 3, 0.4, 0.7
    out = trajectory_direction_noise(obj, np.zeros(5), lr, beta, batch_size=b, steps=steps, chains=chains, seed=2)
    rng = np.random.default_rng(2)
    draws = [rng.integers(obj.n_samples, size=(chains, b)) for _ in range(steps)]
    for name in ("sgd", "mom"):
        W, V, Vf = np.zeros((chains, 5)), np.zeros((chains, 5)), np.zeros((chains, 5))
        for t in range(steps):
            G = np.array([obj.minibatch_grad(W[r], draws[t][r]) for r in range(chains)])
            F = np.array([obj.grad(W[r]) for r in range(chains)])
            V = beta * V + (1 - beta) * G
            Vf = beta * Vf + (1 - beta) * F
            D = G if name == "sgd" else V
            W = W - lr * D
            assert out[f"{name}_var"][t] == pytest.approx(np.sum(np.var(D, axis=0, ddof=1)), rel=1e-10)
            assert out[f"{name}_err"][t] == pytest.approx(np.mean(np.sum((D - F) ** 2, axis=1)), rel=1e-10)
            if name == "mom":
                assert out["mom_noise"][t] == pytest.approx(np.mean(np.sum((V - Vf) ** 2, axis=1)), rel=1e-10)


def test_ema_radius_is_heavy_ball_radius_at_the_effective_step():
    A, B = np.meshgrid(np.linspace(0.1, 30, 7), np.linspace(0, 0.95, 5))
    np.testing.assert_allclose(ema_momentum_radius(A, B, [0.5, 1.5]), heavy_ball_radius(A * (1 - B), B, [0.5, 1.5]))


@pytest.mark.parametrize("call,match", [
    (lambda: averaged_second_moment_recursion(0.1, 1.0, 1.0, 10, average_from=0),
     r"^Invalid average_from: 0 \(must be an integer in 1\.\.10\)$"),
    (lambda: averaged_second_moment_recursion(0.1, 1.0, 1.0, 10, average_from=11), "average_from"),
    (lambda: noisy_quadratic_averages(SGD(0.1), 1.0, 1.0, 5, average_from=6), "average_from"),
    (lambda: noisy_quadratic_averages("sgd", 1.0, 1.0, 5), "Optimizer"),
    (lambda: one_over_t_constant(0.0, 1.0, 1.0), r"^Invalid c: 0.0 \(must be finite and > 0\)$"),
    (lambda: one_over_t_constant(1.0, 0.0, 1.0), "mu"),
    (lambda: stability_limit(0.5, form="nesterov"), "form"),
    (lambda: stability_limit(1.0), "beta"),
    (lambda: stability_boundary(0.5, form="adam"), "form"),
    (lambda: stability_boundary(0.9, form="ema"), "hi=10"),          # 2·1.9/0.1 = 38 > 10
])
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("case", ["logreg-schedule", "logreg-constant-average", "leastsq"])
@pytest.mark.parametrize("block", [4096, 37])
def test_mean_squared_distance_equals_one_driver_run_per_seed(small_logreg, case, block, monkeypatch):
    """The lockstep runs are the driver's runs: sgd(..., sampling="replace", seed=s) per seed
    (with blocks of draws that end inside a record interval, too)."""
    from lec4lib.optim.schedules import Polynomial
    from lec4lib.studies import ch02_step_size

    monkeypatch.setattr(ch02_step_size, "DRAW_BLOCK", block)
    from lec4lib.problems.datasets import make_linear_regression_data
    from lec4lib.problems.objectives import LeastSquares

    if case == "leastsq":
        X, y, _ = make_linear_regression_data(50, 4, seed=2)
        obj, lr, avg = LeastSquares(X, y, l2=0.05), 0.02, 0
    else:
        obj = small_logreg
        lr, avg = ((Polynomial(0.5, 1.0, t0=20), None) if case == "logreg-schedule"
                   else (0.05, 150))
    w_star = obj.solve()
    T, every, seeds = 430, 100, [0, 5, 11]              # 430: the last record is a partial chunk
    steps, msd, msd_avg = mean_squared_distance(obj, w_star, lr, n_steps=T, seeds=seeds,
                                                record_every=every, average_from=avg)
    runs = [sgd(obj, lr=lr, batch_size=1, n_steps=T, seed=s, sampling="replace", w_star=w_star,
                record_every=every, average_from=avg) for s in seeds]
    assert steps.tolist() == runs[0].history.step.tolist() == [0, 100, 200, 300, 400, 430]
    np.testing.assert_allclose(msd, np.mean([r.history.dist ** 2 for r in runs], axis=0),
                               rtol=1e-10)
    assert msd[-1] < msd[0] / 2                          # the runs did move towards w*
    if avg is None:
        assert msd_avg is None
    else:
        assert msd_avg == pytest.approx(np.mean([np.sum((r.w_avg - w_star) ** 2) for r in runs]),
                                        rel=1e-10)


def test_mean_squared_distance_reports_a_diverging_step(small_logreg):
    with pytest.raises(ValueError, match="diverged by step"), np.errstate(over="ignore",
                                                                         invalid="ignore"):
        mean_squared_distance(small_logreg, np.zeros(5), 1e6, n_steps=2000, seeds=[0, 1],
                              record_every=100)


def test_row_grads_are_single_example_minibatch_gradients(small_logreg):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 5))
    idx = np.array([3, 3, 17, 59])
    G = small_logreg.row_grads(W, idx)
    for k in range(4):
        np.testing.assert_allclose(G[k], small_logreg.minibatch_grad(W[k], idx[k:k + 1]), rtol=1e-13)
    with pytest.raises(ValueError, match=r"W must have shape \(4, 5\)"):
        small_logreg.row_grads(W[:3], idx)
    with pytest.raises(ValueError, match="idx entries"):
        small_logreg.row_grads(W, [0, 1, 2, 60])


def test_study_helpers_reject_bad_input(small_logreg):
    with pytest.raises(ValueError, match="seeds"):
        mean_squared_distance(small_logreg, np.zeros(5), 0.1, n_steps=10, seeds=[0], record_every=5)
    with pytest.raises(ValueError, match="chains"):
        trajectory_direction_noise(small_logreg, np.zeros(5), 0.1, 0.9, batch_size=2, steps=3, chains=1)
