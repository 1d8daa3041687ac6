"""LARS and LAMB keep torch.optim's contract and compute their papers' updates."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from lec4lib.optim.lamb import LAMB
from lec4lib.optim.lars import LARS
from lec4lib.nets.trust_ratio import layerwise_param_groups

SHAPES = [(5, 3), (7,), (4, 4, 2), (1,)]


def make_params(dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [nn.Parameter(torch.randn(s, generator=g, dtype=dtype)) for s in SHAPES]


def run(params, opt, steps, seed=2, start=0):
    g = torch.Generator().manual_seed(seed)
    for t in range(start + steps):
        grads = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
        if t < start:
            continue
        for p, gr in zip(params, grads):
            p.grad = gr
        opt.step()
    return params


LARS_SETTINGS = [
    dict(lr=0.5, momentum=0.9, weight_decay=1e-3, trust_coefficient=0.01),
    dict(lr=0.5, momentum=0.9, nesterov=True, trust_coefficient=0.02),
    dict(lr=0.3, momentum=0.8, dampening=0.3, weight_decay=1e-2, trust_clip=True),
    dict(lr=0.5, weight_decay=1e-2, trust_coefficient=0.05),
    dict(lr=0.5, momentum=0.9, adapt=False, weight_decay=1e-3),
]
LAMB_SETTINGS = [
    dict(lr=0.01, weight_decay=0.01),
    dict(lr=0.01, trust_clip=True),
    dict(lr=0.02, betas=(0.8, 0.99), eps=1e-4, weight_decay=0.1, bias_correction=False),
    dict(lr=0.01, adapt=False),
]


@pytest.mark.parametrize("kw", LARS_SETTINGS)
def test_lars_foreach_equals_per_tensor_loop(kw):
    pa, pb = make_params(), make_params()
    run(pa, LARS(pa, foreach=True, **kw), 15)
    run(pb, LARS(pb, foreach=False, **kw), 15)
    for x, y in zip(pa, pb):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-13)


@pytest.mark.parametrize("kw", LAMB_SETTINGS)
def test_lamb_foreach_equals_per_tensor_loop(kw):
    pa, pb = make_params(), make_params()
    run(pa, LAMB(pa, foreach=True, **kw), 15)
    run(pb, LAMB(pb, foreach=False, **kw), 15)
    for x, y in zip(pa, pb):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-13)


def test_lars_single_step_is_the_papers_formula():
    # λ = η‖w‖/(‖g‖ + β‖w‖ + ε); w ← w − γ λ (g + βw), computed by hand in numpy terms
    w0 = torch.tensor([3.0, 4.0], dtype=torch.float64)
    g = torch.tensor([1.0, -2.0], dtype=torch.float64)
    lr, eta, beta, eps = 0.7, 0.02, 0.1, 1e-3
    lam = eta * 5.0 / (5.0 ** 0.5 + beta * 5.0 + eps)
    expected = w0 - lr * lam * (g + beta * w0)
    w = nn.Parameter(w0.clone())
    w.grad = g
    LARS([w], lr=lr, trust_coefficient=eta, weight_decay=beta, eps=eps).step()
    torch.testing.assert_close(w.detach(), expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_lars_without_adaptation_is_torch_sgd(momentum, nesterov):
    pa, pb = make_params(), make_params()
    run(pa, LARS(pa, lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=1e-2,
                 adapt=False), 10)
    run(pb, torch.optim.SGD(pb, lr=0.1, momentum=momentum, nesterov=nesterov,
                            weight_decay=1e-2), 10)
    for x, y in zip(pa, pb):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-13)


def test_lamb_without_adaptation_or_decay_is_torch_adam():
    pa, pb = make_params(), make_params()
    run(pa, LAMB(pa, lr=0.01, eps=1e-8, adapt=False), 10)
    run(pb, torch.optim.Adam(pb, lr=0.01, eps=1e-8), 10)
    for x, y in zip(pa, pb):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-13)


@pytest.mark.parametrize("cls,kw", [(LARS, dict(lr=0.3, momentum=0.9, weight_decay=1e-3)),
                                    (LAMB, dict(lr=0.01, weight_decay=0.01))])
def test_state_dict_round_trip_continues_identically(cls, kw):
    # 6 uninterrupted steps == 3 steps, save, load into a fresh optimizer, 3 more steps
    pa = make_params()
    run(pa, cls(pa, **kw), 6)
    pb = make_params()
    opt = cls(pb, **kw)
    run(pb, opt, 3)
    saved = copy.deepcopy(opt.state_dict())
    pc = [nn.Parameter(p.detach().clone()) for p in pb]
    opt2 = cls(pc, **kw)
    opt2.load_state_dict(saved)
    run(pc, opt2, 3, start=3)
    for x, y in zip(pa, pc):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-14)
    assert set(saved["param_groups"][0]) >= set(kw)


def test_param_groups_take_their_own_options_and_skip_missing_grads():
    pa = make_params()
    opt = LARS([{"params": pa[:2], "lr": 0.2}, {"params": pa[2:], "adapt": False}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.1]
    assert [g["adapt"] for g in opt.param_groups] == [True, False]
    before = pa[3].detach().clone()
    for p in pa[:3]:
        p.grad = torch.ones_like(p)
    opt.step()
    assert torch.equal(pa[3].detach(), before)   # no grad: untouched


def test_step_returns_closure_loss():
    for cls in (LARS, LAMB):
        w = nn.Parameter(torch.tensor([1.0, 2.0]))

        def closure():
            w.grad = None
            loss = (w ** 2).sum()
            loss.backward()
            return loss

        loss = cls([w], lr=0.1).step(closure)
        assert float(loss.detach()) == 5.0                 # evaluated before the step
        assert not torch.equal(w.detach(), torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize("cls", [LARS, LAMB])
def test_zero_norms_do_not_produce_nan(cls):
    # a zero-initialized bias (‖w‖ = 0) and a parameter with zero gradient
    b = nn.Parameter(torch.zeros(4))
    w = nn.Parameter(torch.ones(3))
    b.grad = torch.ones(4)
    w.grad = torch.zeros(3)
    opt = cls([b, w], lr=0.1, foreach=True) if cls is LARS else cls([b, w], lr=0.1)
    opt.step()
    assert torch.isfinite(b).all() and torch.isfinite(w).all()
    assert not torch.equal(b.detach(), torch.zeros(4))      # ratio 1: b moved
    torch.testing.assert_close(w.detach(), torch.ones(3))     # zero gradient: w stays


def test_lars_zero_weight_takes_plain_sgd_step():
    b = nn.Parameter(torch.zeros(2, dtype=torch.float64))
    b.grad = torch.tensor([1.0, 3.0], dtype=torch.float64)
    LARS([b], lr=0.5).step()
    torch.testing.assert_close(b.detach(), torch.tensor([-0.5, -1.5], dtype=torch.float64))


def test_lars_trust_clip_caps_the_effective_rate():
    # a huge ratio is capped: the step is at most lr * g
    w = nn.Parameter(torch.tensor([100.0], dtype=torch.float64))
    w.grad = torch.tensor([1e-3], dtype=torch.float64)
    LARS([w], lr=0.1, trust_coefficient=1.0, trust_clip=True).step()
    assert float(w) == pytest.approx(100.0 - 0.1 * 1e-3, abs=1e-12)


def test_lamb_trust_clip_caps_ratio_at_one():
    w = nn.Parameter(torch.tensor([100.0, 0.0], dtype=torch.float64))
    w.grad = torch.tensor([1.0, 1.0], dtype=torch.float64)
    LAMB([w], lr=0.1, eps=0.0, trust_clip=True).step()      # u = (1, 1), ‖w‖/‖u‖ = 70.7 → 1
    torch.testing.assert_close(w.detach(), torch.tensor([99.9, -0.1], dtype=torch.float64))


def test_mixed_dtypes_in_one_group():
    a = nn.Parameter(torch.ones(3, dtype=torch.float32))
    b = nn.Parameter(torch.ones(3, dtype=torch.float64))
    for p in (a, b):
        p.grad = torch.full_like(p, 0.5)
    LARS([a, b], lr=0.1, momentum=0.9).step()
    LAMB([a, b], lr=0.1).step()
    assert torch.allclose(a.double(), b)


def test_layerwise_param_groups_excludes_bias_and_norm():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    groups = layerwise_param_groups(model, weight_decay=1e-4)
    adapted, plain = groups
    assert adapted["adapt"] and adapted["weight_decay"] == 1e-4
    assert not plain["adapt"] and plain["weight_decay"] == 0.0
    assert [p.ndim for p in adapted["params"]] == [4, 2]
    assert len(plain["params"]) == 4            # conv bias, BN weight and bias, linear bias
    whole = layerwise_param_groups(model, exclude_bias_and_norm=False)
    assert len(whole) == 1 and len(whole[0]["params"]) == 6
    with pytest.raises(ValueError, match="weight_decay"):
        layerwise_param_groups(model, weight_decay=-1)


@pytest.mark.parametrize("kw,match", [
    (dict(lr=-0.1), "learning rate"), (dict(lr=float("nan")), "learning rate"),
    (dict(lr=torch.tensor(0.1)), "learning rate"),
    (dict(lr=0.1, momentum=1.0), "momentum"), (dict(lr=0.1, momentum=-0.1), "momentum"),
    (dict(lr=0.1, dampening=1.5), "dampening"), (dict(lr=0.1, weight_decay=-1e-4), "weight_decay"),
    (dict(lr=0.1, trust_coefficient=0.0), "trust_coefficient"), (dict(lr=0.1, eps=-1.0), "eps"),
    (dict(lr=0.1, nesterov=True), "nesterov"), (dict(lr=0.1, trust_clip=1), "trust_clip"),
    (dict(lr=0.1, adapt="yes"), "adapt"), (dict(lr=0.1, foreach="x"), "foreach"),
    (dict(lr="fast"), "learning rate"),
])
def test_lars_rejects_bad_hyperparameters(kw, match):
    with pytest.raises(ValueError, match=match):
        LARS(make_params(), **kw)


@pytest.mark.parametrize("kw,match", [
    (dict(lr=-1e-3), "learning rate"), (dict(betas=(1.0, 0.999)), "beta1"),
    (dict(betas=(0.9, -0.1)), "beta2"), (dict(betas=(0.9,)), "betas"), (dict(eps=-1.0), "eps"),
    (dict(weight_decay=-0.1), "weight_decay"), (dict(bias_correction=0), "bias_correction"),
    (dict(trust_clip=None), "trust_clip"), (dict(adapt=1), "adapt"), (dict(foreach=2), "foreach"),
])
def test_lamb_rejects_bad_hyperparameters(kw, match):
    with pytest.raises(ValueError, match=match):
        LAMB(make_params(), **kw)


def test_bad_param_group_option_is_rejected():
    p = make_params()
    with pytest.raises(ValueError, match="momentum"):
        LARS([{"params": p[:2]}, {"params": p[2:], "momentum": 2.0}], lr=0.1)
    with pytest.raises(ValueError, match="beta1"):
        LAMB([{"params": p, "betas": (2.0, 0.9)}])


@pytest.mark.parametrize("cls", [LARS, LAMB])
def test_sparse_gradients_are_refused(cls):
    emb = nn.Embedding(5, 2, sparse=True)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        cls(emb.parameters(), lr=0.1).step()
