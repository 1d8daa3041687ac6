"""Claims of chapters/05-momentum.md (slides "Momentum", "Momentum gradient descent",
"Why momentum works?"). Same functions, same seeds and settings as the chapter; references
are brute force, closed forms, numpy eigenvalues, scipy and torch."""

import numpy as np
import pytest
import torch

from lec4lib.problems.quadratic import quadratic_spectrum
from lec4lib.theory.momentum import (ema_momentum_radius, ema_weights, gd_optimal, heavy_ball_optimal,
                                     heavy_ball_radius, momentum_noise_floor, nesterov_radius,
                                     stability_limit)
from lec4lib.optim.torch_mapping import torch_trajectory
from lec4lib.problems.objectives import minimum_of
from lec4lib.problems.quadratic import quadratic_grad
from lec4lib.studies.ch05_momentum import (direction_variance, ema_of_gradients, momentum_forms_gap,
                                           stability_boundary, trajectory_direction_noise)
from lec4lib.theory.measure import rate_between, steps_to_tolerance
from lec4lib.theory.noise_floor import measured_noise_floor
from lec4lib.problems.datasets import load_breast_cancer_pm1
from lec4lib.problems.objectives import LogisticRegression
from lec4lib.optim.driver import run
from lec4lib.optim.momentum import HeavyBall, MomentumEMA
from lec4lib.optim.sgd import SGD


@pytest.fixture(scope="module")
def problem():
    X, y = load_breast_cancer_pm1(standardize=True)
    obj = LogisticRegression(X, y, l2=1e-2)
    w_star, f_star = minimum_of(obj)
    return obj, obj.smoothness(), w_star


# ---------------------------------------------------------------- slides "Momentum" 1 and 2
def test_velocity_responds_to_old_gradient_by_its_weight():
    """Momentum uses previous gradients: changing the gradient seen k steps ago by δ changes
    v_t by exactly (1−β)β^k δ; with β = 0 only the current gradient counts."""
    rng = np.random.default_rng(5)
    grads = rng.standard_normal((30, 3))
    for beta in (0.0, 0.5, 0.9):
        base = ema_of_gradients(grads, beta)[-1]
        for k in (0, 1, 7):
            bumped = grads.copy()
            bumped[-1 - k] += 1.0
            dv = ema_of_gradients(bumped, beta)[-1] - base
            expected = (1 - beta) * beta ** k
            np.testing.assert_allclose(dv, expected, rtol=1e-9, atol=1e-12)


def test_velocity_is_moving_average_of_past_gradients():
    rng = np.random.default_rng(5)                     # the chapter's seed
    beta = 0.9
    grads = rng.standard_normal((60, 4))
    v_lib = ema_of_gradients(grads, beta)[-1]
    brute = sum((1 - beta) * beta ** k * grads[-1 - k] for k in range(60))
    np.testing.assert_allclose(v_lib, brute, rtol=0, atol=1e-13)
    assert ema_weights(beta, 60).sum() == pytest.approx(1 - beta ** 60, rel=1e-13)


# ---------------------------------------------------------------- slide "Momentum" 3
def test_two_momentum_forms_agree_with_constant_step(problem):
    obj, L, _ = problem
    gap = momentum_forms_gap(obj.grad, np.zeros(30), 1.0 / L, 0.9, 200)
    assert gap < 1e-12


def test_two_momentum_forms_differ_under_schedule(problem):
    obj, L, _ = problem
    gap = momentum_forms_gap(obj.grad, np.zeros(30), lambda t: (1.0 / L) / (1 + t / 10), 0.9, 200)
    assert gap > 1e-2


def test_ema_form_is_torch_sgd_also_under_schedule_heavy_ball_is_not(problem):
    obj, L, _ = problem
    beta = 0.9
    sched = lambda t: (1.0 / L) / (1 + t / 10)  # noqa: E731
    factory = lambda p: torch.optim.SGD(p, lr=1.0, momentum=beta)  # noqa: E731
    ours, _, theirs = torch_trajectory(MomentumEMA(sched, beta), factory, obj.grad,
                                          np.zeros(30), 200, torch_lr=lambda t: sched(t) * (1 - beta))
    assert np.max(np.abs(ours - theirs)) < 1e-12
    ours, _, theirs = torch_trajectory(HeavyBall(lambda t: sched(t) * (1 - beta), beta), factory,
                                          obj.grad, np.zeros(30), 200,
                                          torch_lr=lambda t: sched(t) * (1 - beta))
    assert np.max(np.abs(ours - theirs)) > 1e-2


# ---------------------------------------------------------------- slide "Momentum gradient descent" 1
def test_momentum_gd_converges_at_theory_rate_and_beats_gd_on_breast_cancer(problem):
    obj, L, w_star = problem
    curv = np.linalg.eigvalsh(obj.hessian(w_star))
    mu = curv[0]
    a_gd, _ = gd_optimal(mu, L)
    a_hb, b_hb, r_hb = heavy_ball_optimal(mu, L)
    gn = lambda w: float(np.linalg.norm(obj.grad(w)))  # noqa: E731
    gd = run(SGD(a_gd), obj.grad, np.zeros(30), 3000, record=gn)
    hb = run(HeavyBall(a_hb, b_hb), obj.grad, np.zeros(30), 3000, record=gn)
    steps_gd = steps_to_tolerance(gd, 1e-8)
    steps_hb = steps_to_tolerance(hb, 1e-8)
    assert steps_gd > 0 and 0 < steps_hb < steps_gd / 5
    # closed form (√κ−1)/(√κ+1), κ = L/μ
    k = L / mu
    assert rate_between(hb, 1e-2, 1e-10) == pytest.approx((np.sqrt(k) - 1) / (np.sqrt(k) + 1), rel=2e-3)


# ---------------------------------------------------------------- slide "Why momentum works?"
def test_heavy_ball_radius_equals_companion_matrix_eigenvalues():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b, lam = rng.uniform(0.01, 4), rng.uniform(0, 0.99), rng.uniform(0.1, 2)
        M = np.array([[1 + b - a * lam, -b], [1.0, 0.0]])
        assert heavy_ball_radius(a, b, [lam]) == pytest.approx(np.max(np.abs(np.linalg.eigvals(M))), rel=1e-7)
        N = np.array([[(1 + b) * (1 - a * lam), -b * (1 - a * lam)], [1.0, 0.0]])
        assert nesterov_radius(a, b, [lam]) == pytest.approx(np.max(np.abs(np.linalg.eigvals(N))), rel=1e-7, abs=1e-12)


def test_heavy_ball_stable_iff_alpha_lambda_below_2_plus_2beta():
    betas = np.linspace(0.0, 0.95, 20)                  # the chapter's grid
    boundary = np.array([stability_boundary(b) for b in betas])
    np.testing.assert_allclose(boundary, 2 + 2 * betas, atol=1e-9)
    g = quadratic_grad([1.0])
    for b in betas:
        assert abs(run(HeavyBall(0.99 * (2 + 2 * b), b), g, [1.0], 2000)[-1, 0]) < 1e-3
        assert abs(run(HeavyBall(1.01 * (2 + 2 * b), b), g, [1.0], 2000)[-1, 0]) > 1e3


@pytest.mark.parametrize("kappa", [10, 100, 1000])
def test_optimal_heavy_ball_rate_is_sqrt_kappa_rate_vs_gd_kappa_rate(kappa):
    lam = quadratic_spectrum(kappa, d=20)
    g = quadratic_grad(lam)
    a_gd, r_gd = gd_optimal(1.0, kappa)
    a_hb, b_hb, r_hb = heavy_ball_optimal(1.0, kappa)
    assert r_gd == pytest.approx((kappa - 1) / (kappa + 1))
    assert r_hb == pytest.approx((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1))
    n_hb = np.linalg.norm(run(HeavyBall(a_hb, b_hb), g, np.ones(20), int(400 / -np.log(r_hb))), axis=1)
    n_gd = np.linalg.norm(run(SGD(a_gd), g, np.ones(20), int(30 / -np.log(r_gd))), axis=1)
    # ρ_GD is the worst case, reached by the two extreme curvatures; interior ones still
    # decay inside the window, so the measured rate is at most ρ and (here) within 0.1 % of it
    m_gd = rate_between(n_gd, 1e-3, 1e-12)
    assert r_gd * (1 - 1e-3) <= m_gd <= r_gd * (1 + 1e-12)
    # double roots at the spectrum's ends: t·ρ^t, so the measured rate is ρ times a factor < 1 %
    m_hb = rate_between(n_hb, 1e-3, 1e-140)
    assert r_hb * (1 - 1e-9) <= m_hb <= r_hb * 1.01


def test_momentum_removes_zigzag_on_narrow_valley():
    g = quadratic_grad([1.0, 20.0])
    gd = run(SGD(1.8 / 20), g, [-8.0, 1.5], 300)
    hb = run(HeavyBall(1.8 / 20, 0.5), g, [-8.0, 1.5], 300)
    assert 0 < steps_to_tolerance(hb, 1e-6) < steps_to_tolerance(gd, 1e-6) / 3
    assert np.sum(np.abs(np.diff(hb[:, 1]))) < 0.6 * np.sum(np.abs(np.diff(gd[:, 1])))
    # gradient descent's y-coordinate flips sign at every step (1 − αL = −0.8)
    assert np.all(np.diff(np.sign(gd[:40, 1])) != 0)


# ---------------------------------------------------------------- slide "Momentum gradient descent" 2
@pytest.mark.slow
@pytest.mark.parametrize("beta", [0.5, 0.9, 0.99])
def test_momentum_reduces_variance_of_update_direction(problem, beta):
    obj, _, w_star = problem
    var_g, var_v = direction_variance(obj, w_star, beta=beta, batch_size=8,
                                         steps=int(10 / (1 - beta)), chains=2000, seed=0)
    # Monte-Carlo standard error of a variance from 2000 streams is ≤ √(2/2000) ≈ 3 %
    assert var_v / var_g == pytest.approx((1 - beta) / (1 + beta), rel=0.1)


@pytest.mark.parametrize("kind", ["sgd", "ema", "hb"])
def test_noise_floor_of_momentum_matches_ar2_theory(kind):
    alpha, beta, lam, sigma = 0.1, 0.9, 1.0, 1.0
    opt = {"sgd": SGD(alpha), "ema": MomentumEMA(alpha, beta), "hb": HeavyBall(alpha, beta)}[kind]
    measured = measured_noise_floor(opt, lam, sigma, steps=2000, burn_in=1000, n_chains=4000, seed=1)
    # closed forms written out here (AR(1)/AR(2) stationary variances)
    theory = {"sgd": alpha * sigma ** 2 / (lam * (2 - alpha * lam)),
              "ema": (1 + beta) * alpha * sigma ** 2 / (lam * (2 + 2 * beta - alpha * (1 - beta) * lam)),
              "hb": (1 + beta) * alpha * sigma ** 2 / ((1 - beta) * lam * (2 + 2 * beta - alpha * lam))}[kind]
    assert measured == pytest.approx(theory, rel=0.05)
    assert momentum_noise_floor(alpha, 0.0 if kind == "sgd" else beta, lam, sigma,
                                   form="ema" if kind == "ema" else "velocity") == pytest.approx(theory)


# ---------------------------------------------------------------- stability of the slide's moving-average form
def test_moving_average_form_stable_iff_alpha_lambda_below_2_1_plus_beta_over_1_minus_beta():
    rng = np.random.default_rng(1)
    for _ in range(50):   # its own iteration matrix on (w, v), written out here
        a, b, lam = rng.uniform(0.01, 40), rng.uniform(0, 0.99), rng.uniform(0.1, 2)
        M = np.array([[1 - a * (1 - b) * lam, -a * b], [(1 - b) * lam, b]])
        assert ema_momentum_radius(a, b, [lam]) == pytest.approx(np.max(np.abs(np.linalg.eigvals(M))), rel=1e-7)
    betas = np.linspace(0.0, 0.95, 20)                  # the chapter's grid
    closed = 2 * (1 + betas) / (1 - betas)
    bisected = np.array([stability_boundary(b, hi=1000.0, form="ema") for b in betas])
    np.testing.assert_allclose(bisected, closed, rtol=1e-9)
    np.testing.assert_allclose([stability_limit(b, form="ema") for b in betas], closed, rtol=1e-15)
    np.testing.assert_allclose([stability_limit(b) for b in betas], 2 + 2 * betas, rtol=1e-15)
    g = quadratic_grad([1.0])
    for b, lim in zip(betas, closed):
        assert abs(run(MomentumEMA(0.99 * lim, b), g, [1.0], 2000)[-1, 0]) < 1e-3
        assert abs(run(MomentumEMA(1.01 * lim, b), g, [1.0], 2000)[-1, 0]) > 1e3
        # the heavy-ball bound 2 + 2β is not the bound of this form: at 1.01 (2 + 2β) it converges
        if b > 0.05:
            assert abs(run(MomentumEMA(1.01 * (2 + 2 * b), b), g, [1.0], 2000)[-1, 0]) < 1e-3


# ---------------------------------------------------------------- "reduces variance", along training
def test_momentum_reduces_direction_variance_along_a_training_run(problem):
    obj, L, _ = problem
    beta = 0.9
    r = trajectory_direction_noise(obj, np.zeros(30), 0.5 / L, beta, batch_size=8, steps=300, chains=500, seed=0)
    settled, early = slice(100, 300), slice(0, 10)      # the chapter's windows
    ratio = lambda k: np.mean(r[f"mom_{k}"][settled]) / np.mean(r[f"sgd_{k}"][settled])  # noqa: E731
    theory = (1 - beta) / (1 + beta)
    # 500 runs: a variance has standard error √(2/500) ≈ 6 % per step, and 200 steps average it
    assert ratio("var") == pytest.approx(theory, rel=0.1)
    assert np.mean(r["mom_noise"][settled]) / np.mean(r["sgd_err"][settled]) == pytest.approx(theory, rel=0.1)
    # against ∇f at the current point v_t is worse than its variance alone (stale gradients) ...
    assert ratio("var") < ratio("err") < 1.5 * theory
    # ... and in the first steps, while v fills from 0, worse than SGD's own gradient
    assert np.mean(r["mom_err"][early]) > np.mean(r["sgd_err"][early])
