"""lec4lib.theory.measure and the chapter 05–08 studies: helpers checked against hand computations; input validation."""

import numpy as np
import pytest

from lec4lib.optim.torch_mapping import torch_trajectory
from lec4lib.problems.quadratic import quadratic_grad
from lec4lib.studies.ch05_momentum import simulate_noise_floor, stability_boundary
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
    (lambda: simulate_noise_floor(SGD(0.1), 1.0, 1.0, steps=10, burn_in=10), "burn_in"),
    (lambda: torch_trajectory(SGD(0.1), None, lambda w: w, [1.0], 1, dtype="float16"), "dtype"),
    (lambda: stability_boundary(0.5, hi=1.0), "inside the stable region"),
])
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()
