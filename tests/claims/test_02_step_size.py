"""Claims of chapters/02-step-size.md: a fixed step cannot converge (noise floor ∝ η, equal to
ησ²/(μ(2−ημ)) on the noisy quadratic), η₀t^(−a) converges for a in (1/2, 1] and stalls for a > 1,
the schedules equal torch's, and schedules that end small beat a constant step."""

import numpy as np
import pytest
import torch

from lec4lib.problems.datasets import load_breast_cancer_pm1
from lec4lib.theory.measure import loglog_slope
from lec4lib.theory.noise_floor import (second_moment_recursion, simulate_noisy_quadratic,
                                        stationary_second_moment)
from lec4lib.problems.objectives import LogisticRegression
from lec4lib.optim.schedules import (Constant, CosineAnnealing, CosineWarmRestarts,
                                     CyclicTriangular, Polynomial, StepDecay)
from lec4lib.optim.torch_mapping import torch_scheduler_values
from lec4lib.optim.driver import sgd
from lec4lib.studies.ch02_step_size import stationary_gap


@pytest.fixture(scope="module")
def problem():
    X, y = load_breast_cancer_pm1()
    obj = LogisticRegression(X, y, l2=1.0)
    return obj, obj.solve()


def test_minibatch_gradient_at_optimum_is_not_zero(problem):
    obj, w_star = problem
    assert np.linalg.norm(obj.grad(w_star)) < 1e-12
    rng = np.random.default_rng(0)
    norms = [np.linalg.norm(obj.minibatch_grad(w_star, rng.choice(obj.n_samples, 8, replace=False)))
             for _ in range(500)]
    assert min(norms) > 1e-3  # no batch of 8 has a zero gradient at the optimum
    away = sgd(obj, w_star, lr=0.01, batch_size=1, n_steps=obj.n_samples, seed=0, w_star=w_star)
    assert away.history.dist[-1] > 0.01  # started at w*, SGD moved away


def test_fixed_step_sgd_stalls_at_noise_floor():
    mu, sigma = 1.0, 1.0
    lrs = np.array([0.01, 0.03, 0.1, 0.3, 1.0])
    measured = np.array([stationary_second_moment(lr, mu, sigma, n_chains=2000, seed=0) for lr in lrs])
    formula = lrs * sigma**2 / (mu * (2 - lrs * mu))  # written out here, not lec4lib's
    np.testing.assert_allclose(measured, formula, rtol=0.05)
    assert loglog_slope(lrs[:3], measured[:3]) == pytest.approx(1.0, abs=0.05)


def test_stationary_error_proportional_to_step_on_real_data(problem):
    obj, w_star = problem
    f_star = obj.loss(w_star)
    lrs = np.array([0.001, 0.002, 0.004, 0.008, 0.016])
    gaps = [stationary_gap(obj, w_star, lr, "replace", epochs=20, record_every=57) for lr in lrs]
    assert loglog_slope(lrs, gaps) == pytest.approx(1.0, abs=0.15)
    # level: second-order prediction η tr(C)/4, tr C from per-sample gradients computed here
    X, y = obj.X, obj.y
    G = (-y / (1 + np.exp(y * (X @ w_star))))[:, None] * X + obj.l2 * w_star
    trC = np.mean(np.sum((G - G.mean(0)) ** 2, axis=1))
    assert gaps[0] == pytest.approx(lrs[0] * trC / 4, rel=0.3)


@pytest.mark.parametrize("a", [0.75, 1.0])
def test_decreasing_steps_converge_for_a_in_half_to_one(a):
    T = 20_000
    sched = Polynomial(0.8, power=a)
    exact = second_moment_recursion(sched, 1.0, 1.0, T, w0=10.0)
    sim = simulate_noisy_quadratic(sched, 1.0, 1.0, T, n_chains=1000, seed=0, w0=10.0)
    assert sim[-1] == pytest.approx(exact[-1], rel=0.1)  # simulation agrees with the recursion
    t = np.arange(T + 1)
    assert loglog_slope(t[T // 10:], exact[T // 10:]) == pytest.approx(-a, abs=0.05)
    assert exact[-1] < 1e-5 * exact[0]  # far below the start (w0² = 100) ...
    late = 1 + t[T // 10:]
    if a < 1:  # ... and follows the step: E w_t² ≈ η_t σ²/(2μ)
        np.testing.assert_allclose(exact[T // 10:], 0.8 * late ** -a / 2, rtol=0.1)
    else:      # for η_t = c/t: E w_t² ≈ c²σ²/((2cμ − 1) t), which needs cμ > 1/2
        np.testing.assert_allclose(exact[T // 10:], 0.64 / (0.6 * late), rtol=0.05)


@pytest.mark.parametrize("a", [1.5, 2.0])
def test_steps_decaying_faster_than_one_over_t_stall(a):
    T = 20_000
    eta = 0.8 * (1 + np.arange(T)) ** -a
    bias = 100.0 * np.prod((1 - eta) ** 2)  # the deterministic part, w0² Π(1 − η_t μ)²
    exact = second_moment_recursion(Polynomial(0.8, power=a), 1.0, 1.0, T, w0=10.0)
    assert exact[-1] >= bias > 0.1
    t = np.arange(T + 1)
    assert abs(loglog_slope(t[T // 10:], exact[T // 10:])) < 0.05  # no progress any more


def test_constant_step_sits_at_the_floor_and_slow_power_is_slow():
    T = 20_000
    const = second_moment_recursion(Polynomial(0.8, power=0.0), 1.0, 1.0, T, w0=10.0)
    assert const[-1] == pytest.approx(0.8 / 1.2, rel=1e-9)
    slow = second_moment_recursion(Polynomial(0.8, power=0.25), 1.0, 1.0, T, w0=10.0)
    fast = second_moment_recursion(Polynomial(0.8, power=1.0), 1.0, 1.0, T, w0=10.0)
    assert slow[-1] > 100 * fast[-1]


def test_schedules_equal_torch_lr_scheduler():
    S, n = torch.optim.lr_scheduler, 300  # the chapter's settings
    pairs = [
        (StepDecay(0.5, 60, 0.3), lambda o: S.StepLR(o, 60, 0.3), 0.5),
        (CyclicTriangular(0.01, 0.5, 40), lambda o: S.CyclicLR(o, 0.01, 0.5, step_size_up=40, mode="triangular",
                                                               cycle_momentum=False), 0.01),
        (CosineAnnealing(0.5, n), lambda o: S.CosineAnnealingLR(o, n), 0.5),
        (CosineWarmRestarts(0.5, 50, 2), lambda o: S.CosineAnnealingWarmRestarts(o, 50, 2), 0.5),
    ]
    for ours, make, lr0 in pairs:
        np.testing.assert_allclose(ours.values(n), torch_scheduler_values(make, lr0, n), rtol=1e-12, atol=1e-15)


def test_schedules_that_end_small_beat_a_constant_step():
    X, y = load_breast_cancer_pm1()
    obj = LogisticRegression(X, y, l2=1e-2)
    f_star = obj.loss(obj.solve())
    batch, epochs, peak, N = 8, 20, 0.5, len(y)
    pe = -(-N // batch)
    schedules = {
        "constant": Constant(peak), "1/t": Polynomial(peak, 1.0, t0=pe), "t^-0.75": Polynomial(peak, 0.75, t0=pe),
        "step": StepDecay(peak, 5 * pe, 0.2), "triangular": CyclicTriangular(0.01, peak, 2 * pe),
        "cosine": CosineAnnealing(peak, epochs * pe), "restarts": CosineWarmRestarts(peak, 4 * pe),
    }
    gap = {k: np.mean([sgd(obj, lr=s, batch_size=batch, epochs=epochs, seed=sd, record_every=pe // 4)
                       .history.loss[-1] - f_star for sd in range(3)]) for k, s in schedules.items()}
    for k, v in gap.items():
        if k != "constant":
            assert v < gap["constant"] / 5, (k, v, gap["constant"])
