"""lec4lib.validation: the one set of bounds and the one message style (torch's)."""

import math

import numpy as np
import pytest
import torch

from lec4lib.optim.adam import Adam
from lec4lib.optim.lamb import LAMB
from lec4lib.optim.lars import LARS
from lec4lib.optim.momentum import MomentumEMA
from lec4lib.optim.schedules import Constant
from lec4lib.validation import (check_bool, check_int, check_lr, check_number,
                                check_positive_array, check_unit_interval_array)


@pytest.mark.parametrize("value", [3, np.int64(3), 3.0, np.float32(3.0)])
def test_integers_accept_integral_values(value):
    assert check_int("steps", value) == 3 and type(check_int("steps", value)) is int


@pytest.mark.parametrize("value", [True, np.bool_(False), 2.5, math.nan, math.inf, "3", None, 0])
def test_integers_reject_bools_fractions_others_and_values_below_the_bound(value):
    with pytest.raises(ValueError, match=r"^Invalid steps: .* \(must be an integer >= 1\)$"):
        check_int("steps", value)


def test_integer_ranges_are_stated():
    assert check_int("batch_size", 5, 1, 5) == 5
    with pytest.raises(ValueError, match=r"must be an integer in 1\.\.5"):
        check_int("batch_size", 6, 1, 5)


def test_numbers_follow_the_interval_and_reject_bools_and_non_finite():
    assert check_number(0.0, "momentum", 0.0, 1.0) == 0.0
    for bad in (1.0, -0.1, math.nan, True, "0.5"):
        with pytest.raises(ValueError, match=r"^Invalid momentum: "):
            check_number(bad, "momentum", 0.0, 1.0)
    with pytest.raises(ValueError, match=r"must be finite and > 0\)$"):
        check_number(0.0, "eps", 0.0, low_open=True)
    with pytest.raises(ValueError, match=r"must be finite and >= 0\)$"):
        check_number(-1.0, "weight_decay", 0.0)


def test_learning_rate_is_positive_everywhere_numpy_schedules_and_torch():
    """One bound for the learning rate: finite and > 0 (zero is rejected by all of them)."""
    params = [torch.zeros(2, requires_grad=True)]
    makers = [lambda lr: MomentumEMA(lr), lambda lr: Adam(lr), lambda lr: Constant(lr),
              lambda lr: LARS(params, lr=lr), lambda lr: LAMB(params, lr=lr)]
    for make in makers:
        for bad in (0.0, -1.0, math.inf, True):
            with pytest.raises(ValueError, match=r"^Invalid learning rate: "):
                make(bad)
        make(0.1)
    f = lambda t: 0.1  # noqa: E731
    assert check_lr(f) is f
    with pytest.raises(ValueError, match="Invalid learning rate"):
        check_lr(f, schedule=False)


def test_betas_and_flags_use_the_same_messages_in_numpy_and_torch_optimizers():
    with pytest.raises(ValueError, match=r"^Invalid beta2: 1.0 \(must be in \[0, 1\)\)$"):
        Adam(0.1, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"^Invalid momentum: 1.0 \(must be in \[0, 1\)\)$"):
        LARS([torch.zeros(2, requires_grad=True)], lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"^Invalid bias_correction: 1 \(must be True or False\)$"):
        Adam(0.1, bias_correction=1)
    assert check_bool("adapt", np.bool_(True)) is True


def test_array_checks():
    np.testing.assert_array_equal(check_positive_array("curvatures", [1, 2]), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^Invalid curvatures: .*must be finite and > 0"):
        check_positive_array("curvatures", [1.0, 0.0])
    with pytest.raises(ValueError, match=r"^Invalid beta: .*must be in \[0, 1\)"):
        check_unit_interval_array("beta", [0.5, 1.0])
