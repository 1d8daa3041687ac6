"""Claims of chapters/02-step-size.md: a fixed step cannot converge (noise floor ∝ η, equal to
ησ²/(μ(2−ημ)) on the noisy quadratic), η₀t^(−a) converges for a in (1/2, 1] and stalls for a > 1,
the schedules equal torch's, and schedules that end small beat a constant step. Beyond the
slides: Σηₜ² < ∞ is sufficient, not necessary (a <= 1/2 still converges on the quadratic);
ηₜ = c/t gives O(1/t) iff c > 1/(2μ); the tail average of a constant step converges."""

import numpy as np
import pytest
import torch

from lec4lib.problems.datasets import load_breast_cancer_pm1
from lec4lib.theory.measure import loglog_slope
from lec4lib.theory.noise_floor import (averaged_second_moment_recursion, second_moment_recursion,
                                        simulate_averaged_sgd, simulate_noisy_quadratic,
                                        stationary_second_moment)
from lec4lib.problems.objectives import LogisticRegression
from lec4lib.optim.schedules import (Constant, CosineAnnealing, CosineWarmRestarts,
                                     CyclicTriangular, Polynomial, StepDecay)
from lec4lib.optim.torch_mapping import torch_scheduler_values
from lec4lib.optim.driver import sgd
from lec4lib.studies.ch02_step_size import asymptotic_constants, mean_squared_distance, stationary_gap


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


# ---------------------------------------------------------------- Robbins–Monro: sufficient, not necessary
def _recursion_by_hand(eta, w0):
    m = [w0 ** 2]
    for e in eta:
        m.append((1 - e) ** 2 * m[-1] + e ** 2)   # μ = σ = 1
    return np.array(m)


@pytest.mark.parametrize("a", [0.1, 0.25, 0.5])
def test_sum_of_squared_steps_diverges_yet_the_error_goes_to_zero(a):
    """a <= 1/2 violates Σ η_t² < ∞, yet on the noisy quadratic E w_t² decreases at every
    late step and equals the noise floor of the current step (which goes to zero)."""
    T = 20_000
    eta = 0.8 * (1.0 + np.arange(T)) ** -a               # η_t = η0 (1+t)^(−a), written out
    exact = second_moment_recursion(Polynomial(0.8, power=a), 1.0, 1.0, T, w0=10.0)
    np.testing.assert_allclose(exact, _recursion_by_hand(eta, 10.0), rtol=1e-12)
    assert np.all(np.diff(exact[T // 10:]) < 0)
    floor_now = eta[-1] / (2 - eta[-1])                   # ησ²/(μ(2 − ημ)) at the last step
    # the chain lags the shrinking step by O(a/(t η_t μ)) <= 0.5 %, far inside 1 %
    assert exact[-1] == pytest.approx(floor_now, rel=0.01)
    assert exact[-1] < 2e-3 * exact[0]
    sq = np.cumsum(eta ** 2)
    assert sq[-1] > 1.2 * sq[T // 10 - 1]                 # Σ η_t² keeps growing (it diverges)


# ---------------------------------------------------------------- η_t = c/t: O(1/t) iff c > 1/(2μ)
def test_one_over_t_step_rate_threshold_on_noisy_quadratic():
    T = 100_000
    t = np.arange(T + 1)
    for c in (0.1, 0.25, 0.4):                            # below: E w_t² ~ t^(−2cμ)
        m = second_moment_recursion(Polynomial(c, 1.0), 1.0, 1.0, T, w0=10.0)
        assert loglog_slope(t[T // 10:], m[T // 10:]) == pytest.approx(-2 * c, abs=0.01)
        # t E w_t² keeps growing, by 10^(1−2cμ) from T/10 to T: never O(1/t)
        assert (T * m[-1]) / ((T // 10) * m[T // 10]) == pytest.approx(10 ** (1 - 2 * c), rel=0.02)
    for c, rel in ((1.0, 1e-6), (2.0, 1e-4), (0.75, 0.03)):  # above: t E w_t² → c²σ²/(2cμ − 1)
        m = second_moment_recursion(Polynomial(c, 1.0), 1.0, 1.0, T, w0=10.0)
        assert T * m[-1] == pytest.approx(c * c / (2 * c - 1), rel=rel)  # gap ∝ t^(1−2cμ)
        assert loglog_slope(t[T // 10:], m[T // 10:]) == pytest.approx(-1.0, abs=0.02)
    for c in (0.25, 1.0, 2.0):  # 1000 chains: standard error √(2/1000) ≈ 4.5 %, so 15 % is > 3σ
        sim = simulate_noisy_quadratic(Polynomial(c, 1.0), 1.0, 1.0, 20_000, n_chains=1000, seed=0, w0=10.0)
        m = second_moment_recursion(Polynomial(c, 1.0), 1.0, 1.0, 20_000, w0=10.0)
        assert sim[-1] == pytest.approx(m[-1], rel=0.15)


def _logistic_H_and_C(obj, w):
    """Hessian and per-sample gradient covariance of the l2 logistic loss, written out here."""
    X, y = obj.X, obj.y
    p = 1 / (1 + np.exp(-X @ w))
    H = (X * (p * (1 - p))[:, None]).T @ X / len(y) + obj.l2 * np.eye(X.shape[1])
    G = (-y / (1 + np.exp(y * (X @ w))))[:, None] * X + obj.l2 * w
    Gc = G - G.mean(0)
    return H, Gc.T @ Gc / len(y)


@pytest.mark.slow
def test_one_over_t_step_rate_threshold_on_logistic_regression(problem):
    obj, w_star = problem
    H, C = _logistic_H_and_C(obj, w_star)
    lam, Q = np.linalg.eigh(H)
    cq = np.diag(Q.T @ C @ Q)
    T, t0 = 20_000, 10                                    # the chapter's settings
    late, growth = {}, {}
    for cm in (0.25, 1.0, 2.0):
        c = cm / lam[0]
        steps, msd, _ = mean_squared_distance(obj, w_star, Polynomial(c / t0, 1.0, t0=t0), n_steps=T,
                                              seeds=range(8), record_every=200)
        scaled, steps = steps[1:] * msd[1:], steps[1:]
        late[cm] = np.mean(scaled[steps >= T // 2])
        growth[cm] = late[cm] / np.mean(scaled[(steps >= T // 20) & (steps <= T // 10)])
        if cm > 0.5:   # linearised limit c² Σ C_ii/(2cλ_i − 1), eight seeds: within 15 %
            assert late[cm] == pytest.approx(c * c * np.sum(cq / (2 * c * lam - 1)), rel=0.15)
            assert asymptotic_constants(obj, w_star, c)[0] == pytest.approx(
                c * c * np.sum(cq / (2 * c * lam - 1)), rel=1e-9)
    assert growth[0.25] > 1.5 and growth[1.0] < 1.3 and growth[2.0] < 1.3
    assert late[0.25] > 5 * late[1.0]
    assert asymptotic_constants(obj, w_star, 0.25 / lam[0])[0] == float("inf")


# ---------------------------------------------------------------- Polyak–Ruppert averaging
def test_averaged_recursion_equals_the_explicit_linear_map():
    """w_t = b_t + Σ_s A_ts ξ_s is linear in the noise: E w̄² = (mean b)² + σ² ‖mean rows of A‖²."""
    mu, sigma, T, a, w0 = 0.7, 1.3, 40, 5, 2.0
    for sched in (Constant(0.3), Polynomial(0.9, 0.6)):
        eta = sched.values(T)
        b = np.empty(T + 1)
        A = np.zeros((T + 1, T))
        b[0] = w0
        for t in range(T):                                # w_{t+1} = (1 − η_t μ) w_t − η_t σ ξ_t
            b[t + 1] = (1 - eta[t] * mu) * b[t]
            A[t + 1] = (1 - eta[t] * mu) * A[t]
            A[t + 1, t] = -eta[t] * sigma
        exact = averaged_second_moment_recursion(sched, mu, sigma, T, average_from=a, w0=w0)
        for t_end in (a, a + 1, T):
            rows = slice(a, t_end + 1)
            ref = b[rows].mean() ** 2 + np.sum(A[rows].mean(0) ** 2)
            assert exact[t_end] == pytest.approx(ref, rel=1e-12)
        assert np.all(np.isnan(exact[:a]))


def test_tail_average_of_a_constant_step_converges_at_sigma2_over_mu2_n():
    T, a = 20_000, 2_000                                  # the chapter's settings
    n = T - a + 1
    for lr in (0.1, 0.5):
        exact = averaged_second_moment_recursion(lr, 1.0, 1.0, T, average_from=a, w0=10.0)
        # Polyak & Juditsky: n E w̄² → σ²/μ², the deviation is O(1/(ημn)) <= 6e-4
        assert n * exact[-1] == pytest.approx(1.0, rel=2e-3)
        last, avg = simulate_averaged_sgd(lr, 1.0, 1.0, T, average_from=a, n_chains=2000, seed=0, w0=10.0)
        assert avg == pytest.approx(exact[-1], rel=0.1)   # 2000 chains: standard error ≈ 3.2 %
        assert last == pytest.approx(lr / (2 - lr), rel=0.1)  # the last iterate stays at its floor
    best = second_moment_recursion(Polynomial(1.0, 1.0), 1.0, 1.0, T, w0=10.0)
    assert T * best[-1] == pytest.approx(1.0, rel=1e-6)  # c = 1/μ: the same constant σ²/μ²


@pytest.mark.slow
def test_averaged_constant_step_on_logistic_regression(problem):
    obj, w_star = problem
    H, C = _logistic_H_and_C(obj, w_star)
    Hinv = np.linalg.inv(H)
    pj = np.trace(Hinv @ C @ Hinv)
    assert asymptotic_constants(obj, w_star, 1.0)[1] == pytest.approx(pj, rel=1e-9)
    T, a = 20_000, 2_000
    n = T - a + 1
    scaled = {}
    for lr in (0.02, 0.05, 0.2):
        _, msd, msd_avg = mean_squared_distance(obj, w_star, lr, n_steps=T, seeds=range(8),
                                                record_every=T, average_from=a)
        assert msd_avg < msd[-1] / 100                    # far below the last iterate's floor
        scaled[lr] = n * msd_avg
    assert pj < scaled[0.02] < 1.5 * pj                   # near the Polyak–Juditsky limit
    # the excess is a bias O(η): squared, it grows like η², a factor 16 from 0.05 to 0.2
    # (η itself would give 4, η³ 64)
    assert 8 < (scaled[0.2] - pj) / (scaled[0.05] - pj) < 32
