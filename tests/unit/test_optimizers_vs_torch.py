"""Property-based cross-checks of lec4lib.optim's numpy optimizers against torch.optim.

For random least-squares problems, starting points and hyper-parameters (hypothesis), the
lec4lib optimizer and the torch optimizer named in its docstring are fed the same
gradients (``optimizer_studies.torch_trajectory``) and must produce the same iterates up to
floating-point rounding. Where the docstring says the mapping does *not* hold (heavy ball
under a schedule, torch's default Adagrad eps, Nesterov's w vs torch's parameter), a test
shows the difference. Derandomized, so every run checks the same examples.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st_

from lec4lib.problems.objectives import LeastSquares
from lec4lib.optim.torch_mapping import torch_trajectory
from lec4lib.optim.adagrad import Adagrad
from lec4lib.optim.adam import Adam
from lec4lib.optim.momentum import HeavyBall, MomentumEMA
from lec4lib.optim.nesterov import Nesterov
from lec4lib.optim.sgd import SGD

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st_.composite
def problems(draw):
    """A random least-squares problem, start point, and its smoothness constant."""
    seed = draw(st_.integers(0, 2 ** 31 - 1))
    d = draw(st_.integers(1, 8))
    n = draw(st_.integers(1, 20))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * draw(st_.sampled_from([0.1, 1.0, 10.0]))
    y = rng.standard_normal(n)
    obj = LeastSquares(X, y)
    L = float(np.linalg.eigvalsh(X.T @ X / n)[-1]) + 1e-12
    w0 = rng.standard_normal(d)
    return obj, L, w0


betas = st_.floats(0.0, 0.99)
rel_steps = st_.floats(0.01, 1.0)      # step as a fraction of the stable range 1/L
n_steps = st_.integers(1, 30)


def _close(a, b, rtol=1e-12):
    scale = max(1.0, float(np.max(np.abs(b))))
    assert np.max(np.abs(a - b)) <= rtol * scale, np.max(np.abs(a - b))


@SETTINGS
@given(problems(), rel_steps, n_steps)
def test_sgd_is_torch_sgd(prob, r, steps):
    obj, L, w0 = prob
    lr = r / L
    ours, _, theirs = torch_trajectory(SGD(lr), lambda p: torch.optim.SGD(p, lr=lr), obj.grad, w0, steps)
    _close(ours, theirs)


@SETTINGS
@given(problems(), rel_steps, betas, n_steps)
def test_momentum_ema_is_torch_sgd_with_lr_times_one_minus_beta(prob, r, beta, steps):
    obj, L, w0 = prob
    lr = r / L
    ours, _, theirs = torch_trajectory(MomentumEMA(lr, beta),
                                       lambda p: torch.optim.SGD(p, lr=lr * (1 - beta), momentum=beta),
                                       obj.grad, w0, steps)
    _close(ours, theirs)


@SETTINGS
@given(problems(), rel_steps, betas, st_.lists(st_.floats(0.1, 1.0), min_size=30, max_size=30))
def test_momentum_ema_is_torch_sgd_also_under_a_schedule(prob, r, beta, factors):
    obj, L, w0 = prob
    sched = lambda t: r / L * factors[t]  # noqa: E731
    ours, _, theirs = torch_trajectory(MomentumEMA(sched, beta),
                                       lambda p: torch.optim.SGD(p, lr=1.0, momentum=beta),
                                       obj.grad, w0, 30, torch_lr=lambda t: sched(t) * (1 - beta))
    _close(ours, theirs)


@SETTINGS
@given(problems(), rel_steps, betas, n_steps)
def test_heavy_ball_is_torch_sgd_with_constant_step(prob, r, beta, steps):
    obj, L, w0 = prob
    lr = r / L * (1 - beta)          # heavy ball's stable steps scale with 1 − β here
    ours, _, theirs = torch_trajectory(HeavyBall(lr, beta),
                                       lambda p: torch.optim.SGD(p, lr=lr, momentum=beta),
                                       obj.grad, w0, steps)
    _close(ours, theirs)


def test_heavy_ball_is_not_torch_sgd_under_a_schedule():
    rng = np.random.default_rng(0)
    obj = LeastSquares(rng.standard_normal((10, 3)), rng.standard_normal(10))
    sched = lambda t: 0.1 / (1 + t)  # noqa: E731
    ours, _, theirs = torch_trajectory(HeavyBall(sched, 0.9), lambda p: torch.optim.SGD(p, lr=1.0, momentum=0.9),
                                       obj.grad, np.ones(3), 20, torch_lr=sched)
    assert np.max(np.abs(ours - theirs)) > 1e-3


@SETTINGS
@given(problems(), rel_steps, st_.floats(0.01, 0.99), n_steps)   # torch's nesterov needs β > 0
def test_nesterov_lookahead_is_torch_nesterov_parameter(prob, r, beta, steps):
    obj, L, w0 = prob
    lr = r / L * (1 - beta)
    _, look, theirs = torch_trajectory(Nesterov(lr, beta),
                                       lambda p: torch.optim.SGD(p, lr=lr, momentum=beta, nesterov=True),
                                       obj.grad, w0, steps)
    _close(look, theirs)


@SETTINGS
@given(problems(), st_.floats(0.01, 2.0), st_.floats(1e-8, 1.0), n_steps)
def test_adagrad_is_torch_adagrad_with_eps_in_the_accumulator(prob, lr, eps, steps):
    obj, L, w0 = prob
    ours, _, theirs = torch_trajectory(
        Adagrad(lr, eps=eps), lambda p: torch.optim.Adagrad(p, lr=lr, eps=0, initial_accumulator_value=eps),
        obj.grad, w0, steps)
    _close(ours, theirs)


def test_adagrad_is_not_torch_adagrad_with_default_eps_placement():
    rng = np.random.default_rng(0)
    obj = LeastSquares(rng.standard_normal((10, 3)), rng.standard_normal(10))
    ours, _, theirs = torch_trajectory(Adagrad(0.5, eps=0.5), lambda p: torch.optim.Adagrad(p, lr=0.5, eps=0.5),
                                       obj.grad, np.ones(3), 20)
    assert np.max(np.abs(ours - theirs)) > 1e-3


@SETTINGS
@given(problems(), st_.floats(1e-4, 0.3), betas, st_.floats(0.0, 0.9999), st_.floats(1e-10, 1e-1), n_steps)
def test_adam_is_torch_adam(prob, lr, beta1, beta2, eps, steps):
    obj, L, w0 = prob
    ours, _, theirs = torch_trajectory(
        Adam(lr, betas=(beta1, beta2), eps=eps),
        lambda p: torch.optim.Adam(p, lr=lr, betas=(beta1, beta2), eps=eps),
        obj.grad, w0, steps)
    _close(ours, theirs, rtol=1e-12)


@SETTINGS
@given(problems(), st_.floats(1e-4, 0.3), n_steps)
def test_adam_is_torch_adam_in_float32(prob, lr, steps):
    obj, L, w0 = prob
    ours, _, theirs = torch_trajectory(Adam(lr), lambda p: torch.optim.Adam(p, lr=lr),
                                       obj.grad, w0, steps, dtype="float32")
    _close(ours.astype(float), theirs.astype(float), rtol=1e-5)
