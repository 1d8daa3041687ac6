"""lec4lib.optim's AdamW and RMSprop against torch.optim.AdamW and torch.optim.RMSprop.

The same cross-check as tests/unit/test_optimizers_vs_torch.py (its random least-squares
problems, settings and tolerance, and ``torch_trajectory``), over several hyper-parameter
settings each, plus the identities the book teaches and the argument checks.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st_

from lec4lib.optim.adam import Adam, AdamW
from lec4lib.optim.driver import run
from lec4lib.optim.rmsprop import RMSprop
from lec4lib.optim.torch_mapping import torch_trajectory
from lec4lib.problems.objectives import LeastSquares
from tests.unit.test_optimizers_vs_torch import SETTINGS, _close, betas, n_steps, problems


@SETTINGS
@given(problems(), st_.floats(1e-4, 0.3), betas, st_.floats(0.0, 0.9999),
       st_.floats(1e-10, 1e-1), st_.floats(0.0, 3.0), n_steps)
def test_adamw_is_torch_adamw(prob, lr, beta1, beta2, eps, wd, steps):
    obj, L, w0 = prob
    ours, _, theirs = torch_trajectory(
        AdamW(lr, betas=(beta1, beta2), eps=eps, weight_decay=wd),
        lambda p: torch.optim.AdamW(p, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=wd),
        obj.grad, w0, steps)
    _close(ours, theirs, rtol=1e-12)


@SETTINGS
@given(problems(), st_.floats(1e-4, 0.3), n_steps)
def test_adamw_with_torch_defaults_is_torch_adamw_also_in_float32(prob, lr, steps):
    obj, L, w0 = prob
    ours, _, theirs = torch_trajectory(AdamW(lr), lambda p: torch.optim.AdamW(p, lr=lr),
                                       obj.grad, w0, steps, dtype="float32")
    _close(ours.astype(float), theirs.astype(float), rtol=1e-5)


@SETTINGS
@given(problems(), st_.floats(1e-4, 0.3), betas, st_.floats(1e-10, 1e-1),
       st_.floats(0.0, 3.0), st_.sampled_from([0.0, 0.5, 0.9]), n_steps)
def test_rmsprop_is_torch_rmsprop(prob, lr, alpha, eps, wd, momentum, steps):
    obj, L, w0 = prob
    hyper = dict(alpha=alpha, eps=eps, weight_decay=wd, momentum=momentum)
    ours, _, theirs = torch_trajectory(RMSprop(lr, **hyper),
                                       lambda p: torch.optim.RMSprop(p, lr=lr, **hyper),
                                       obj.grad, w0, steps)
    _close(ours, theirs, rtol=1e-12)


# centred: the root of s_t − ḡ_t² cancels; ḡ_t and s_t share the weights 1 − β₂ⁱ, so after
# t steps of a steady gradient the difference is about β₂ᵗ·s_t. β₂ >= 0.8 keeps it above
# 0.8³⁰ ≈ 1e-3 of s_t over these 30 steps, where rounding is not amplified beyond the
# tolerance (with β₂ = 0 it is exactly zero in numpy and a rounding error, possibly negative,
# in torch's fused kernel: the method is degenerate there)
@SETTINGS
@given(problems(), st_.floats(1e-4, 0.3), st_.floats(0.8, 0.99), st_.floats(1e-10, 1e-1),
       st_.floats(0.0, 3.0), st_.sampled_from([0.0, 0.5, 0.9]), n_steps)
def test_centered_rmsprop_is_torch_centered_rmsprop(prob, lr, alpha, eps, wd, momentum, steps):
    obj, L, w0 = prob
    hyper = dict(alpha=alpha, eps=eps, weight_decay=wd, momentum=momentum, centered=True)
    ours, _, theirs = torch_trajectory(RMSprop(lr, **hyper),
                                       lambda p: torch.optim.RMSprop(p, lr=lr, **hyper),
                                       obj.grad, w0, steps)
    _close(ours, theirs, rtol=1e-12)


@SETTINGS
@given(problems(), st_.floats(1e-4, 0.3), n_steps)
def test_rmsprop_with_torch_defaults_is_torch_rmsprop_also_in_float32(prob, lr, steps):
    obj, L, w0 = prob
    ours, _, theirs = torch_trajectory(RMSprop(lr), lambda p: torch.optim.RMSprop(p, lr=lr),
                                       obj.grad, w0, steps, dtype="float32")
    _close(ours.astype(float), theirs.astype(float), rtol=1e-5)


def test_defaults_are_torchs():
    w = torch.zeros(1, requires_grad=True)
    for ours, theirs in ((AdamW(), torch.optim.AdamW([w])),
                         (RMSprop(), torch.optim.RMSprop([w]))):
        group = theirs.param_groups[0]
        for name in ("lr", "betas", "eps", "weight_decay", "alpha", "momentum", "centered"):
            if name in group and hasattr(ours, name):
                assert getattr(ours, name) == pytest.approx(group[name]), name
    assert AdamW().weight_decay == 1e-2 and RMSprop().lr == 1e-2 and RMSprop().alpha == 0.99


@SETTINGS
@given(problems(), st_.floats(1e-4, 0.3), st_.floats(0.0, 0.9999), st_.floats(1e-10, 1e-1),
       n_steps)
def test_rmsprop_is_adam_without_first_moment_and_bias_correction(prob, lr, beta2, eps, steps):
    obj, L, w0 = prob
    ours = run(RMSprop(lr, alpha=beta2, eps=eps), obj.grad, w0, steps)
    plain = run(Adam(lr, betas=(0.0, beta2), eps=eps, bias_correction=False), obj.grad, w0, steps)
    _close(ours, plain, rtol=1e-12)


def test_adamw_differs_from_adam_with_l2_and_equals_it_without_decay():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3)) * np.array([0.01, 1.0, 100.0])
    y = rng.standard_normal(20)
    lam = 0.1
    plain, ridge = LeastSquares(X, y), LeastSquares(X, y, l2=lam)
    l2 = run(Adam(0.01), ridge.grad, np.ones(3), 200)
    decoupled = run(AdamW(0.01, weight_decay=lam), plain.grad, np.ones(3), 200)
    # the ℓ2 penalty is divided by √ŝ with the gradient, the decoupled decay is not
    assert np.max(np.abs(l2[-1] - decoupled[-1])) > 1e-2
    np.testing.assert_array_equal(run(AdamW(0.01, weight_decay=0.0), plain.grad, np.ones(3), 50),
                                  run(Adam(0.01), plain.grad, np.ones(3), 50))


@pytest.mark.parametrize("make,match", [
    (lambda: AdamW(0.0), r"^Invalid learning rate: 0.0"),
    (lambda: AdamW(0.1, weight_decay=-1e-3), r"^Invalid weight_decay: -0.001 \(must be finite and >= 0\)$"),
    (lambda: AdamW(0.1, weight_decay=float("inf")), r"^Invalid weight_decay: inf"),
    (lambda: AdamW(0.1, betas=(0.9, 1.0)), r"^Invalid beta2: 1.0 \(must be in \[0, 1\)\)$"),
    (lambda: AdamW(0.1, eps=0.0), r"^Invalid eps: 0.0 \(must be finite and > 0\)$"),
    (lambda: RMSprop(-1.0), r"^Invalid learning rate: -1.0"),
    (lambda: RMSprop(0.1, alpha=1.0), r"^Invalid alpha: 1.0 \(must be in \[0, 1\)\)$"),
    (lambda: RMSprop(0.1, alpha=-0.1), r"^Invalid alpha: -0.1"),
    (lambda: RMSprop(0.1, eps=-1e-8), r"^Invalid eps: -1e-08 \(must be finite and > 0\)$"),
    (lambda: RMSprop(0.1, weight_decay=-1.0), r"^Invalid weight_decay: -1.0"),
    (lambda: RMSprop(0.1, momentum=1.0), r"^Invalid momentum: 1.0 \(must be in \[0, 1\)\)$"),
    (lambda: RMSprop(0.1, centered=1), r"^Invalid centered: 1 \(must be True or False\)$"),
    (lambda: RMSprop(0.1, alpha="0.9"), r"^Invalid alpha: '0.9' \(must be a number\)$"),
])
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_state_uses_torchs_names():
    w, g = np.ones(2), np.ones(2)
    opt = RMSprop(0.1)
    assert opt.update(w, g) is w and set(opt.state) == {"square_avg"}
    opt = RMSprop(0.1, momentum=0.5, centered=True)
    opt.update(w, g)
    assert set(opt.state) == {"square_avg", "momentum_buffer", "grad_avg"}
    opt = AdamW(0.1)
    opt.update(w, g)
    assert set(opt.state) == {"m", "v"} and opt.t == 1
