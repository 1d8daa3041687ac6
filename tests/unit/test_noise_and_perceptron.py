"""lec4lib.theory.gradient_noise, noise_floor, perceptron, gradient_cost: formulas and input validation."""

import numpy as np
import pytest

from lec4lib.problems.datasets import make_separable_data
from lec4lib.studies.ch01_stochastic_gradient import time_gradients
from lec4lib.theory.measure import loglog_slope
from lec4lib.theory.gradient_noise import (all_subsets_mean_gradient, minibatch_variance_theory,
                                           monte_carlo_mean_error, sample_minibatch_gradients)
from lec4lib.theory.noise_floor import (measured_noise_floor, noise_floor_theory,
                                        noisy_quadratic_second_moments, second_moment_recursion,
                                        simulate_noisy_quadratic, stationary_second_moment)
from lec4lib.optim.momentum import HeavyBall
from lec4lib.optim.schedules import Polynomial
from lec4lib.problems.objectives import LeastSquares
from lec4lib.optim.perceptron import (classic_perceptron, margin_and_radius, perceptron_loss,
                                      perceptron_subgradient, sgd_perceptron)


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    return LeastSquares(rng.standard_normal((6, 2)), rng.standard_normal(6))


def test_variance_formula_at_the_extremes(tiny):
    w = np.zeros(2)
    assert minibatch_variance_theory(tiny, w, 6, replace=False) == 0.0  # the whole set: no noise
    G = tiny.per_sample_grads(w)
    assert minibatch_variance_theory(tiny, w, 1, replace=False) == pytest.approx(np.mean(np.sum((G - G.mean(0)) ** 2, 1)))


def test_subset_sampler_draws_distinct_indices(tiny):
    # with b = N every subset is the full set, so every draw equals the full gradient
    d = sample_minibatch_gradients(tiny, np.zeros(2), 6, n_draws=5, replace=False)
    np.testing.assert_allclose(d, np.tile(tiny.grad(np.zeros(2)), (5, 1)), rtol=1e-12)


def test_noise_recursion_reaches_the_closed_form_floor():
    m = second_moment_recursion(0.2, mu=1.5, sigma=0.7, n_steps=2000)
    assert m[-1] == pytest.approx(noise_floor_theory(0.2, 1.5, 0.7), rel=1e-12)


def test_gradient_noise_and_floor_reject_bad_input(tiny):
    with pytest.raises(ValueError, match="batch_size"):
        all_subsets_mean_gradient(tiny, np.zeros(2), 7)
    with pytest.raises(ValueError, match="max_subsets"):
        all_subsets_mean_gradient(tiny, np.zeros(2), 3, max_subsets=10)
    with pytest.raises(ValueError, match="n_draws"):
        sample_minibatch_gradients(tiny, np.zeros(2), 2, n_draws=0)
    with pytest.raises(ValueError, match="sample_counts"):
        monte_carlo_mean_error(tiny, np.zeros(2), 2, [0, 3])
    with pytest.raises(ValueError, match=r"^Invalid lr: 2.5 \(must be in \(0, 2\)\)$"):
        noise_floor_theory(2.5, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"^Invalid mu: -1.0 \(must be finite and > 0\)$"):
        simulate_noisy_quadratic(0.1, -1.0, 1.0, 10)
    with pytest.raises(ValueError, match="sigma"):
        second_moment_recursion(0.1, 1.0, -1.0, 10)
    with pytest.raises(ValueError, match=r"^Invalid n_chains: 0 \(must be an integer >= 1\)$"):
        simulate_noisy_quadratic(0.1, 1.0, 1.0, 10, n_chains=0)
    with pytest.raises(ValueError, match=r"^Invalid lr: 0.0 \(must be in \(0, 2\)\)$"):
        stationary_second_moment(0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="log-log"):
        loglog_slope([1, 2], [0, 1])
    with pytest.raises(ValueError, match="batch_size"):
        time_gradients([10], batch_size=64)


def test_perceptron_subgradient_cases():
    x, w = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    np.testing.assert_array_equal(perceptron_subgradient(w, x, 1), 0.0)          # correct
    np.testing.assert_array_equal(perceptron_subgradient(w, x, -1), x)           # wrong: −y x
    np.testing.assert_array_equal(perceptron_subgradient(np.zeros(2), x, 1), -x)  # kink, classic
    np.testing.assert_array_equal(perceptron_subgradient(np.zeros(2), x, 1, "correct"), 0.0)
    assert perceptron_loss(w, np.array([x]), np.array([-1.0])) == 1.0


def test_perceptron_rejects_bad_input():
    X, y, u = make_separable_data(10, 2, 0.1, seed=0)
    with pytest.raises(ValueError, match="labels"):
        sgd_perceptron(X, np.zeros(10))
    with pytest.raises(ValueError, match=r"^Invalid learning rate: 0 \(must be finite and > 0\)$"):
        sgd_perceptron(X, y, lr=0)
    with pytest.raises(ValueError, match="epochs"):
        classic_perceptron(X, y, epochs=0)
    with pytest.raises(ValueError, match="at_zero"):
        perceptron_subgradient(np.zeros(2), X[0], 1, at_zero="maybe")
    with pytest.raises(ValueError, match="does not separate"):
        margin_and_radius(X, y, -u)
    with pytest.raises(ValueError, match="y must be -1 or"):
        perceptron_subgradient(np.zeros(2), X[0], 0)
    with pytest.raises(ValueError, match="w0"):
        sgd_perceptron(X, y, w0=np.ones(3))


def test_more_validation_and_separability():
    from lec4lib.optim.perceptron import accuracy, is_linearly_separable
    with pytest.raises(ValueError, match="repeats"):
        time_gradients([100], batch_size=10, repeats=0)
    X, y, u = make_separable_data(50, 2, 0.1, seed=0)
    with pytest.raises(ValueError, match="u must be a nonzero"):
        margin_and_radius(X, y, np.zeros(2))
    with pytest.raises(ValueError, match="X must be 2-D"):
        accuracy(np.ones(2), X[0], y[:1])
    assert accuracy(u, X, y) == 1.0 and accuracy(-u, X, y) == 0.0
    # XOR through the origin is not separable; the LP must say so
    Xx = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    assert not is_linearly_separable(Xx, np.array([1.0, 1.0, -1.0, -1.0]))
    assert is_linearly_separable(X, y)


def test_sgd_chains_are_the_recursion_written_out_bit_for_bit():
    sched = Polynomial(0.8, power=0.75)
    got = simulate_noisy_quadratic(sched, 1.5, 0.7, 300, n_chains=50, seed=3, w0=2.0)
    # the SGD chains written out here, with the same draws
    rng, w = np.random.default_rng(3), np.full(50, 2.0)
    want = [np.mean(w ** 2)]
    for t in range(300):
        w = w - sched(t) * (1.5 * w + 0.7 * rng.standard_normal(50))
        want.append(np.mean(w ** 2))
    np.testing.assert_array_equal(got, want)


def test_heavy_ball_floor_is_the_velocity_recursion_written_out():
    got = measured_noise_floor(HeavyBall(0.1, 0.9), 1.0, 1.0, steps=400, burn_in=100, n_chains=64, seed=5)
    rng, w, v, acc = np.random.default_rng(5), np.zeros(64), np.zeros(64), []
    for t in range(400):
        v = 0.9 * v + 0.1 * (w + rng.standard_normal(64))
        w = w - v
        if t >= 100:
            acc.append(np.mean(w * w))
    assert got == pytest.approx(np.mean(acc), rel=1e-12)
    # the same generator, optimizer state reset: a second run is identical
    assert measured_noise_floor(HeavyBall(0.1, 0.9), 1.0, 1.0, steps=400, burn_in=100, n_chains=64,
                                seed=5) == got


def test_second_moments_reset_the_optimizer_and_validate():
    opt = HeavyBall(0.1, 0.9)
    a = noisy_quadratic_second_moments(opt, 1.0, 1.0, 20, n_chains=8, seed=0)
    b = noisy_quadratic_second_moments(opt, 1.0, 1.0, 20, n_chains=8, seed=0)   # same object again
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="Optimizer"):
        noisy_quadratic_second_moments(0.1, 1.0, 1.0, 20)
    with pytest.raises(ValueError, match=r"^Invalid steps: 1 \(must be an integer >= 2\)$"):
        measured_noise_floor(opt, 1.0, 1.0, steps=1, burn_in=0, n_chains=8)


def test_minibatch_variance_formula_against_exhaustive_enumeration(tiny):
    from itertools import combinations

    from lec4lib.theory.gradient_noise import minibatch_variance
    G = tiny.per_sample_grads(np.zeros(2))
    g, N = G.mean(0), len(G)
    spread = np.mean(np.sum((G - g) ** 2, 1))
    for b in range(1, N + 1):
        exact = np.mean([np.sum((G[list(c)].mean(0) - g) ** 2) for c in combinations(range(N), b)])
        assert minibatch_variance(spread, N, b, replace=False) == pytest.approx(exact, rel=1e-12, abs=1e-15)
    assert minibatch_variance(spread, N, 8, replace=True) == spread / 8
    with pytest.raises(ValueError, match=r"^Invalid batch_size: 7 \(must be an integer in 1\.\.6\)$"):
        minibatch_variance(spread, N, 7, replace=False)
