"""Claims of chapters/00-intro.md: GD on a quadratic contracts by |1 − ηL| and diverges past 2/L."""

import numpy as np
import pytest

from lec4lib.problems.quadratic import gd_quadratic
from lec4lib.theory.measure import measured_contraction
from lec4lib.theory.momentum import gd_contraction


def test_gd_on_quadratic_contracts_by_one_minus_eta_L():
    L, lr, steps = 4.0, 0.45, 30  # the intro's numbers
    measured = measured_contraction(gd_quadratic([L], lr=lr, steps=steps))
    assert measured == pytest.approx(abs(1 - lr * L), rel=1e-12)
    assert gd_contraction([L], lr) == pytest.approx(0.8)


@pytest.mark.parametrize("lr,diverges", [(0.1, False), (0.2, False), (0.45, False), (0.55, True)])
def test_gd_diverges_exactly_past_two_over_L(lr, diverges):
    path = gd_quadratic([4.0], lr=lr, steps=30)
    assert (abs(path[-1, 0]) > abs(path[0, 0])) == diverges


def test_quadratic_rejects_bad_input():
    with pytest.raises(ValueError, match="learning rate"):
        gd_quadratic([1.0], lr=-0.1, steps=3)
    with pytest.raises(ValueError, match="curvatures"):
        gd_quadratic([0.0], lr=0.1, steps=3)
    with pytest.raises(ValueError, match="steps"):
        gd_quadratic([1.0], lr=0.1, steps=-1)
    with pytest.raises(ValueError, match="shape"):
        gd_quadratic([1.0, 2.0], lr=0.1, steps=1, w0=np.ones(3))
