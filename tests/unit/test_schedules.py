"""lec4lib.optim.schedules: value for value equal to torch.optim.lr_scheduler, closed forms, validation."""

import math

import numpy as np
import pytest
import torch

from lec4lib.optim.schedules import (as_schedule, Constant, CosineAnnealing, CosineWarmRestarts,
                                     CyclicTriangular, Polynomial, StepDecay)
from lec4lib.optim.torch_mapping import torch_scheduler_values


def test_step_decay_equals_torch_steplr():
    ref = torch_scheduler_values(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.3), 0.5, 60)
    np.testing.assert_allclose(StepDecay(0.5, 7, 0.3).values(60), ref, rtol=1e-12)


@pytest.mark.parametrize("up,down", [(5, None), (4, 9)])
def test_cyclic_triangular_equals_torch_cycliclr(up, down):
    ref = torch_scheduler_values(lambda o: torch.optim.lr_scheduler.CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=up, step_size_down=down, mode="triangular",
        cycle_momentum=False), 0.01, 80)
    np.testing.assert_allclose(CyclicTriangular(0.01, 0.2, up, down).values(80), ref, rtol=1e-12)


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosine_annealing_equals_torch(eta_min):
    # torch computes it recursively; agreement to rounding, including past T_max
    ref = torch_scheduler_values(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25, eta_min=eta_min), 0.3, 70)
    np.testing.assert_allclose(CosineAnnealing(0.3, 25, eta_min).values(70), ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("T_0,T_mult", [(10, 1), (3, 2), (4, 3)])
def test_cosine_warm_restarts_equals_torch(T_0, T_mult):
    ref = torch_scheduler_values(lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        o, T_0=T_0, T_mult=T_mult, eta_min=0.001), 0.2, 100)
    np.testing.assert_allclose(CosineWarmRestarts(0.2, T_0, T_mult, 0.001).values(100), ref, rtol=1e-12)


def test_polynomial_and_constant_closed_forms():
    t = np.arange(50)
    np.testing.assert_allclose(Polynomial(0.8, 0.75, t0=10).values(50), 0.8 * (1 + t / 10) ** -0.75, rtol=1e-14)
    assert Polynomial(2.0, 0.0).values(3).tolist() == [2.0, 2.0, 2.0]
    assert Constant(0.3)(1000) == 0.3
    assert as_schedule(0.1).lr == 0.1 and isinstance(as_schedule(StepDecay(1, 2)), StepDecay)
    assert CosineWarmRestarts(1.0, 4)(4) == 1.0 and math.isclose(CosineAnnealing(1.0, 4)(2), 0.5)


def test_schedules_reject_bad_input():
    with pytest.raises(ValueError, match=r"Invalid learning rate: -0.1 \(must be finite and > 0"):
        Constant(-0.1)
    with pytest.raises(ValueError, match="power"):
        Polynomial(0.1, -1)
    with pytest.raises(ValueError, match="t0"):
        Polynomial(0.1, 1, t0=0)
    with pytest.raises(ValueError, match="gamma"):
        StepDecay(0.1, 3, gamma=1.5)
    with pytest.raises(ValueError, match="step_size"):
        StepDecay(0.1, 0)
    with pytest.raises(ValueError, match="max_lr"):
        CyclicTriangular(0.2, 0.1, 3)
    with pytest.raises(ValueError, match="T_max"):
        CosineAnnealing(0.1, 0)
    with pytest.raises(ValueError, match="eta_min"):
        CosineWarmRestarts(0.1, 3, eta_min=0.5)
    with pytest.raises(ValueError, match="T_mult"):
        CosineWarmRestarts(0.1, 3, T_mult=0)
    with pytest.raises(ValueError, match=r"^Invalid t: -1 \(must be an integer >= 0\)$"):
        Constant(0.1)(-1)
    # the fast path for a plain int still leaves the rest to the full check
    assert Polynomial(1.0, 1.0)(np.int64(3)) == Polynomial(1.0, 1.0)(3) == Polynomial(1.0, 1.0)(3.0) == 0.25
    for bad in (True, 1.5, float("nan"), "2"):
        with pytest.raises(ValueError, match="^Invalid t: "):
            Polynomial(1.0, 1.0)(bad)
    with pytest.raises(ValueError, match="n_steps"):
        Constant(0.1).values(-2)
    with pytest.raises(ValueError, match="schedule returned 0.0 at step 2"):
        as_schedule(lambda t: 0.1 * (t < 2))(2)


def test_one_schedule_contract_callables_are_accepted_everywhere():
    """A plain callable lr(t) works in the schedules, the optimizers and the driver alike."""
    from lec4lib.optim.driver import sgd
    from lec4lib.optim.sgd import SGD
    from lec4lib.problems.objectives import LeastSquares

    fn = lambda t: 0.5 / (t + 1)  # noqa: E731
    np.testing.assert_array_equal(as_schedule(fn).values(4), [0.5 / (t + 1) for t in range(4)])
    assert SGD(fn).lr_at(3) == 0.125
    obj = LeastSquares(np.eye(3), np.ones(3))
    by_fn = sgd(obj, lr=fn, batch_size=3, n_steps=5, record_every=1)
    by_class = sgd(obj, lr=Polynomial(0.5, 1.0), batch_size=3, n_steps=5, record_every=1)
    np.testing.assert_array_equal(by_fn.w, by_class.w)
    np.testing.assert_array_equal(by_fn.history.lr[1:], [0.5 / (t + 1) for t in range(5)])
