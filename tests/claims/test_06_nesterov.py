"""Claims of chapters/06-nesterov.md (slide "Nesterov accelerated gradient"). Same functions
and settings as the chapter; references: the slide's loop written out, torch.optim.SGD,
numpy eigenvalues, and the closed forms of Polyak and Lessard–Recht–Packard."""

import numpy as np
import pytest
import torch

from lec4lib.problems.quadratic import quadratic_spectrum
from lec4lib.theory.momentum import heavy_ball_radius, nesterov_radius
from lec4lib.optim.torch_mapping import torch_trajectory
from lec4lib.problems.objectives import minimum_of
from lec4lib.problems.datasets import load_breast_cancer_pm1
from lec4lib.problems.objectives import LogisticRegression
from lec4lib.optim.driver import run
from lec4lib.optim.momentum import HeavyBall
from lec4lib.optim.nesterov import Nesterov


@pytest.fixture(scope="module")
def problem():
    X, y = load_breast_cancer_pm1(standardize=True)
    obj = LogisticRegression(X, y, l2=1e-2)
    w_star, f_star = minimum_of(obj)
    return obj, obj.smoothness(), w_star, f_star


def test_nesterov_follows_the_slides_lookahead_loop(problem):
    obj, L, _, _ = problem
    alpha, beta = 1.0 / L, 0.9
    w, v = np.zeros(30), np.zeros(30)
    ours = run(Nesterov(alpha, beta), obj.grad, np.zeros(30), 300)
    for t in range(300):
        v = beta * v + alpha * obj.grad(w - beta * v)
        w = w - v
        np.testing.assert_allclose(ours[t + 1], w, rtol=0, atol=1e-14)


def test_torch_nesterov_iterate_is_the_lookahead_point(problem):
    obj, L, _, _ = problem
    alpha, beta = 1.0 / L, 0.9
    ours, look, theirs = torch_trajectory(
        Nesterov(alpha, beta), lambda p: torch.optim.SGD(p, lr=alpha, momentum=beta, nesterov=True),
        obj.grad, np.zeros(30), 300)
    assert np.max(np.abs(look - theirs)) < 1e-12          # torch's p_t = w_t − β v_{t−1}
    assert np.max(np.abs(ours - theirs)) > 1e-2           # and not w_t


def test_nesterov_beats_heavy_ball_at_step_one_over_L_for_large_beta(problem):
    obj, L, w_star, f_star = problem
    curv = np.linalg.eigvalsh(obj.hessian(w_star))
    gn = lambda w: float(np.linalg.norm(obj.grad(w)))  # noqa: E731
    for b in (0.9, 0.95, 0.99):
        assert nesterov_radius(1.0 / L, b, curv) < heavy_ball_radius(1.0 / L, b, curv)
        hb = run(HeavyBall(1.0 / L, b), obj.grad, np.zeros(30), 400, record=gn)[-1]
        nag = run(Nesterov(1.0 / L, b), obj.grad, np.zeros(30), 400, record=gn)[-1]
        assert nag < hb
    # at β = 0.99 by more than a factor 5
    hb = run(HeavyBall(1.0 / L, 0.99), obj.grad, np.zeros(30), 400, record=gn)[-1]
    nag = run(Nesterov(1.0 / L, 0.99), obj.grad, np.zeros(30), 400, record=gn)[-1]
    assert nag < hb / 5


def test_nesterov_kills_the_steepest_mode_heavy_ball_rings_at_sqrt_beta():
    for b in (0.3, 0.9):
        # λ = L = 1/α: heavy ball's roots solve z² − βz + β = 0 → |z| = √β; Nesterov's z = 0
        assert heavy_ball_radius(1.0, b, [1.0]) == pytest.approx(np.sqrt(b))
        assert nesterov_radius(1.0, b, [1.0]) == pytest.approx(0.0, abs=1e-12)


def test_radii_are_the_spectral_radius_of_the_loops_iteration_matrix():
    # independent reference: on f = λw²/2 one step of each loop is a linear map of (w, v),
    # written out here from the loops above; its spectral radius is the convergence rate.
    #   heavy ball: v' = βv + αλw,        w' = w − v'
    #   Nesterov:   v' = βv + αλ(w − βv), w' = w − v'
    rng = np.random.default_rng(0)
    alpha, beta, lam = rng.uniform(0.01, 1.5, 300), rng.uniform(0.0, 0.99, 300), rng.uniform(0.1, 2.0, 300)
    for a, b, l in zip(alpha, beta, lam):
        q = 1 - a * l
        hb = np.array([[q, -b], [a * l, b]])
        nag = np.array([[q, -b * q], [a * l, b * q]])
        # a double root (a defective matrix) is found by eig only to about √eps ≈ 1.5e-8
        assert heavy_ball_radius(a, b, [l]) == pytest.approx(np.max(np.abs(np.linalg.eigvals(hb))), rel=1e-6)
        assert nesterov_radius(a, b, [l]) == pytest.approx(np.max(np.abs(np.linalg.eigvals(nag))), rel=1e-6)


@pytest.mark.slow
def test_tuned_heavy_ball_beats_tuned_nesterov_on_quadratics():
    kappa = 100.0
    lam = quadratic_spectrum(kappa, d=20)
    A, B = np.meshgrid(np.linspace(0.5, 4.0, 400) / kappa, np.linspace(0.3, 0.99, 400))
    best_hb = float(np.min(heavy_ball_radius(A, B, lam)))
    best_nag = float(np.min(nesterov_radius(A, B, lam)))
    assert best_hb == pytest.approx((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1), rel=2e-3)
    assert best_nag == pytest.approx(1 - 2 / np.sqrt(3 * kappa + 1), rel=2e-3)
    assert best_hb < best_nag
