"""lec4lib.theory.momentum: closed forms against numpy eigenvalues, and input validation."""


import numpy as np
import pytest

from lec4lib.problems.quadratic import quadratic_spectrum
from lec4lib.theory.momentum import (ema_variance_ratio, ema_weights, gd_optimal,
                                     heavy_ball_optimal, heavy_ball_radius, momentum_noise_floor,
                                     nesterov_radius)


def test_radius_broadcasts_over_grids_and_takes_worst_curvature():
    A, B = np.meshgrid(np.linspace(0.1, 1, 4), np.linspace(0, 0.9, 3))
    R = heavy_ball_radius(A, B, [0.5, 2.0])
    assert R.shape == (3, 4)
    np.testing.assert_allclose(R, np.maximum(heavy_ball_radius(A, B, [0.5]), heavy_ball_radius(A, B, [2.0])))


def test_optimal_parameters_put_every_root_on_the_sqrt_beta_circle():
    a, b, r = heavy_ball_optimal(2.0, 50.0)
    assert r == pytest.approx(np.sqrt(b))
    for lam in np.linspace(2.0, 50.0, 9):
        z = np.roots([1, -(1 + b - a * lam), b])
        np.testing.assert_allclose(np.abs(z), np.sqrt(b), rtol=1e-6)


def test_noise_floor_forms_relate_by_one_minus_beta():
    assert momentum_noise_floor(0.1, 0.9, 1.0, 1.0, "ema") == pytest.approx(
        momentum_noise_floor(0.01, 0.9, 1.0, 1.0, "velocity"))
    assert momentum_noise_floor(3.0, 0.0, 1.0, 1.0, "velocity") == float("inf")


@pytest.mark.parametrize("call,match", [
    (lambda: heavy_ball_radius(0.0, 0.5, [1.0]), "alpha"),
    (lambda: heavy_ball_radius(0.1, 1.0, [1.0]), "beta"),
    (lambda: nesterov_radius(0.1, -0.1, [1.0]), "beta"),
    (lambda: heavy_ball_radius(0.1, 0.5, [0.0]), "curvatures"),
    (lambda: gd_optimal(2.0, 1.0), r"^Invalid L: 1.0 \(must be finite and >= 2\)$"),
    (lambda: heavy_ball_optimal(2.0, 1.0), r"^Invalid L: 1.0 \(must be finite and >= 2\)$"),
    (lambda: heavy_ball_optimal(-1.0, 1.0), "mu"),
    (lambda: quadratic_spectrum(0.5), r"^Invalid kappa: 0.5 \(must be finite and >= 1\)$"),
    (lambda: quadratic_spectrum(10, d=1), r"^Invalid d: 1 \(must be an integer >= 2\)$"),
    (lambda: momentum_noise_floor(0.1, 0.5, 1.0, 1.0, form="adam"), "form"),
    (lambda: momentum_noise_floor(0.1, 0.5, 1.0, -1.0), "sigma"),
    (lambda: ema_variance_ratio(1.0), "beta"),
    (lambda: ema_weights(0.5, 0), r"^Invalid k: 0 \(must be an integer >= 1\)$"),
])
def test_bad_input_is_rejected_with_named_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
