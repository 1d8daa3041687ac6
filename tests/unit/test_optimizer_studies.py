"""lec4lib.theory.measure and the chapter 05–08 studies: helpers checked against hand computations; input validation."""

import numpy as np
import pytest

from lec4lib.optim.torch_mapping import torch_trajectory
from lec4lib.problems.quadratic import quadratic_grad
from lec4lib.studies.ch05_momentum import stability_boundary
from lec4lib.theory.noise_floor import measured_noise_floor, noisy_quadratic_second_moments
from lec4lib.studies.ch08_adam import adam_step_ratio
from lec4lib.theory.measure import measured_rate, rate_between, steps_to_tolerance, ulp_distance
from lec4lib.optim.sgd import SGD


def test_rate_helpers_on_a_geometric_sequence():
    seq = 0.9 ** np.arange(400)
    assert rate_between(seq, 1e-2, 1e-10) == pytest.approx(0.9)
    assert measured_rate(seq[:, None]) == pytest.approx(0.9)
    assert steps_to_tolerance(seq[:, None], 0.5) == int(np.ceil(np.log(0.5) / np.log(0.9)))
    assert steps_to_tolerance(seq[:5, None], 1e-9) == -1


def test_ulp_distance_counts_representable_numbers_between():
    a = np.array([1.0, -0.0, 1.0])
    b = np.array([np.nextafter(1.0, 2.0), 0.0, np.nextafter(np.nextafter(1.0, 0.0), 0.0)])
    assert ulp_distance(a, b).tolist() == [1, 0, 2]
    assert ulp_distance(np.float32([1, 2]), np.float32([1, 2])).tolist() == [0, 0]


def test_stability_boundary_of_plain_gd_is_two_over_lambda():
    assert stability_boundary(0.0, curvature=4.0) == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("call,match", [
    (lambda: quadratic_grad([1.0, -1.0]), "curvatures"),
    (lambda: rate_between([1.0, 0.5], 1e-3, 1e-2), "lo < hi"),
    (lambda: rate_between([1.0, 0.5], 1e-2, 1e-3), "never reaches"),
    (lambda: measured_rate(np.ones((2, 1))), "T >= 2"),
    (lambda: ulp_distance(np.ones(2), np.ones(2, dtype=np.float32)), "one dtype"),
    (lambda: adam_step_ratio(0.9, 0.999, 0), "steps"),
    (lambda: measured_noise_floor(SGD(0.1), 1.0, 1.0, steps=10, burn_in=10, n_chains=4),
     r"^Invalid burn_in: 10 \(must be an integer in 0\.\.9\)$"),
    (lambda: noisy_quadratic_second_moments(lambda w: w, 1.0, 1.0, 10), "Optimizer"),
    (lambda: torch_trajectory(SGD(0.1), None, lambda w: w, [1.0], 1, dtype="float16"), "dtype"),
    (lambda: stability_boundary(0.5, hi=1.0), "inside the stable region"),
])
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_central_difference_grad_against_an_analytic_gradient_and_bad_input():
    from lec4lib.theory.measure import central_difference_grad
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    w = np.array([0.5, -1.5])
    f = lambda v: 0.5 * v @ A @ v + np.sin(v[0])
    np.testing.assert_allclose(central_difference_grad(f, w), A @ w + [np.cos(0.5), 0.0], atol=1e-8)
    with pytest.raises(ValueError, match="1-D"):
        central_difference_grad(f, A)
    with pytest.raises(ValueError, match=r"Invalid h"):
        central_difference_grad(f, w, h=0.0)


def _small_logreg():
    from lec4lib.problems.objectives import LogisticRegression
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    return LogisticRegression(X, np.sign(X @ [1.0, -1.0, 0.5] + 0.3 * rng.standard_normal(40)), l2=0.1)


def test_stationary_gap_is_the_mean_late_gap_of_the_run_from_w_star():
    from lec4lib.optim.driver import sgd
    from lec4lib.studies.ch02_step_size import stationary_gap
    obj = _small_logreg()
    w_star = obj.solve()
    run = sgd(obj, w_star, lr=0.05, batch_size=1, epochs=8, seed=4, sampling="replace", record_every=4)
    gap = run.history.loss - obj.loss(w_star)
    expected = np.mean(gap[len(gap) // 4:])     # the first quarter left out, by hand
    assert stationary_gap(obj, w_star, 0.05, "replace", epochs=8, record_every=4, seed=4) == expected
    assert stationary_gap(obj, w_star, 0.05, "replace", epochs=8, record_every=4, seed=4) > 0
    # a larger step has a higher floor (the chapter's claim in miniature)
    assert (stationary_gap(obj, w_star, 0.2, "replace", epochs=8, record_every=4, seed=4)
            > stationary_gap(obj, w_star, 0.01, "replace", epochs=8, record_every=4, seed=4))


def test_mean_final_gap_averages_one_run_per_seed():
    from lec4lib.optim.driver import sgd
    from lec4lib.studies.ch03_sgd_vs_gd import mean_final_gap
    obj = _small_logreg()
    f_star = obj.loss(obj.solve())
    finals = [sgd(obj, lr=0.1, batch_size=8, epochs=3, seed=s).history.loss[-1] - f_star for s in (0, 1, 2)]
    got = mean_final_gap(obj, 0.1, batch_size=8, epochs=3, seeds=(0, 1, 2), f_star=f_star)
    assert got == pytest.approx(sum(finals) / 3, rel=1e-15)
    with pytest.raises(ValueError, match="seeds"):
        mean_final_gap(obj, 0.1, batch_size=8, epochs=3, seeds=(), f_star=f_star)


def test_recorded_adagrad_run_keeps_the_gradients_it_stepped_with():
    from lec4lib.studies.ch07_adagrad import recorded_adagrad_run
    obj = _small_logreg()
    opt, grads = recorded_adagrad_run(obj, 0.1, batch_size=4, steps=25, seed=7)
    assert grads.shape == (25, 3) and opt.t == 25
    # G = ε + Σ g², accumulated from exactly the recorded gradients
    np.testing.assert_allclose(opt.state["G"], 1e-10 + np.sum(grads ** 2, axis=0), rtol=1e-13)
    # the first gradient is taken at w = 0 on the first batch the seed draws
    first = obj.minibatch_grad(np.zeros(3), np.random.default_rng(7).integers(40, size=4))
    np.testing.assert_array_equal(grads[0], first)
    again = recorded_adagrad_run(obj, 0.1, batch_size=4, steps=25, seed=7)[1]
    np.testing.assert_array_equal(grads, again)
    with pytest.raises(ValueError, match="steps"):
        recorded_adagrad_run(obj, 0.1, batch_size=4, steps=0)
