"""lec4lib.optimizer_studies: helpers checked against hand computations; input validation."""

import numpy as np
import pytest

import lec4lib.optimizer_studies as st
from lec4lib.optimizers import SGD


def test_rate_helpers_on_a_geometric_sequence():
    seq = 0.9 ** np.arange(400)
    assert st.rate_between(seq, 1e-2, 1e-10) == pytest.approx(0.9)
    assert st.measured_rate(seq[:, None]) == pytest.approx(0.9)
    assert st.steps_to_tolerance(seq[:, None], 0.5) == int(np.ceil(np.log(0.5) / np.log(0.9)))
    assert st.steps_to_tolerance(seq[:5, None], 1e-9) == -1


def test_ulp_distance_counts_representable_numbers_between():
    a = np.array([1.0, -0.0, 1.0])
    b = np.array([np.nextafter(1.0, 2.0), 0.0, np.nextafter(np.nextafter(1.0, 0.0), 0.0)])
    assert st.ulp_distance(a, b).tolist() == [1, 0, 2]
    assert st.ulp_distance(np.float32([1, 2]), np.float32([1, 2])).tolist() == [0, 0]


def test_stability_boundary_of_plain_gd_is_two_over_lambda():
    assert st.stability_boundary(0.0, curvature=4.0) == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("call,match", [
    (lambda: st.quadratic_grad([1.0, -1.0]), "curvatures"),
    (lambda: st.rate_between([1.0, 0.5], 1e-3, 1e-2), "lo < hi"),
    (lambda: st.rate_between([1.0, 0.5], 1e-2, 1e-3), "never reaches"),
    (lambda: st.measured_rate(np.ones((2, 1))), "T >= 2"),
    (lambda: st.ulp_distance(np.ones(2), np.ones(2, dtype=np.float32)), "one dtype"),
    (lambda: st.adam_step_ratio(0.9, 0.999, 0), "steps"),
    (lambda: st.simulate_noise_floor(SGD(0.1), 1.0, 1.0, steps=10, burn_in=10), "burn_in"),
    (lambda: st.torch_trajectory(SGD(0.1), None, lambda w: w, [1.0], 1, dtype="float16"), "dtype"),
    (lambda: st.stability_boundary(0.5, hi=1.0), "inside the stable region"),
])
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_docstring_examples():
    import doctest

    assert doctest.testmod(st).failed == 0
