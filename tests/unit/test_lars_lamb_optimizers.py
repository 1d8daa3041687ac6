"""LARS and LAMB keep torch.optim's contract and compute their papers' updates."""

from __future__ import annotations

import copy
import math

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


# --- the papers' algorithms, written out by hand, under a warm-up + polynomial-decay schedule

STEPS, WARMUP = 12, 4


def schedule(t):
    """Factor of the base rate at step t (0-based): linear warm-up, then (1 − t/T)²."""
    return (t + 1) / WARMUP if t < WARMUP else (1.0 - t / STEPS) ** 2


def scheduled_run(params, opt, steps=STEPS, seed=2):
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    run(params, _Stepping(opt, sched), steps, seed=seed)
    return params


class _Stepping:
    """opt.step() then sched.step(), so run() drives both."""

    def __init__(self, opt, sched):
        self.opt, self.sched = opt, sched

    def step(self):
        self.opt.step()
        self.sched.step()


def lars_reference(w0, lr, momentum, weight_decay, eta, eps, paper, steps=STEPS, seed=2,
                   lr_factor=schedule):
    """You et al. (2017), Algorithm 1, one tensor at a time, from the formulas.

    λ = η‖w‖/(‖g‖ + β‖w‖ + ε); paper: v ← m v + γ_t λ(g + βw), w ← w − v;
    torch's placement: v ← m v + λ(g + βw), w ← w − γ_t v. The first buffer is the first
    term itself (v₀ = 0 in the paper gives the same).
    """
    ws = [w.clone() for w in w0]
    vs = [torch.zeros_like(w) for w in w0]
    g = torch.Generator().manual_seed(seed)
    for t in range(steps):
        gamma = lr * lr_factor(t)
        grads = [torch.randn(w.shape, generator=g, dtype=w.dtype) for w in ws]
        for i, (w, gr) in enumerate(zip(ws, grads)):
            lam = eta * w.norm() / (gr.norm() + weight_decay * w.norm() + eps)
            d = lam * (gr + weight_decay * w)
            if paper:
                vs[i] = momentum * vs[i] + gamma * d
                ws[i] = w - vs[i]
            else:
                vs[i] = momentum * vs[i] + d
                ws[i] = w - gamma * vs[i]
    return ws


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("paper", [True, False])
def test_lars_both_forms_match_a_hand_written_algorithm_1_under_a_schedule(paper, foreach):
    kw = dict(lr=0.8, momentum=0.9, weight_decay=5e-3, trust_coefficient=0.02, eps=1e-9)
    w0 = [p.detach().clone() for p in make_params()]
    params = make_params()
    scheduled_run(params, LARS(params, lr_in_buffer=paper, foreach=foreach, **kw))
    ref = lars_reference(w0, kw["lr"], kw["momentum"], kw["weight_decay"],
                         kw["trust_coefficient"], kw["eps"], paper)
    for p, r in zip(params, ref):
        torch.testing.assert_close(p.detach(), r, rtol=0, atol=1e-13)


def test_lars_forms_agree_for_a_constant_rate_and_differ_under_the_schedule():
    kw = dict(lr=0.8, momentum=0.9, weight_decay=5e-3, trust_coefficient=0.02)
    a, b = make_params(), make_params()
    run(a, LARS(a, lr_in_buffer=True, **kw), STEPS)
    run(b, LARS(b, lr_in_buffer=False, **kw), STEPS)
    for x, y in zip(a, b):       # equal up to rounding: v_paper = γ v_torch
        torch.testing.assert_close(x, y, rtol=0, atol=1e-13)
    a, b = make_params(), make_params()
    scheduled_run(a, LARS(a, lr_in_buffer=True, **kw))
    scheduled_run(b, LARS(b, lr_in_buffer=False, **kw))
    # the hand-written references differ by this much; the optimizers must too (the
    # reference test above pins each to 1e-13, so a difference of 1e-4 is not rounding)
    w0 = [p.detach().clone() for p in make_params()]
    ref_gap = max(float((r - s).abs().max()) for r, s in zip(
        lars_reference(w0, 0.8, 0.9, 5e-3, 0.02, 1e-8, True),
        lars_reference(w0, 0.8, 0.9, 5e-3, 0.02, 1e-8, False)))
    gap = max(float((x - y).abs().max()) for x, y in zip(a, b))
    assert ref_gap > 1e-4
    assert gap == pytest.approx(ref_gap, rel=1e-6)


def test_lars_paper_form_without_momentum_is_the_same_step():
    # with m = 0 there is no buffer: both placements give w − γ_t λ(g + βw)
    a, b = make_params(), make_params()
    scheduled_run(a, LARS(a, lr=0.5, weight_decay=1e-2, lr_in_buffer=True))
    scheduled_run(b, LARS(b, lr=0.5, weight_decay=1e-2, lr_in_buffer=False))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-15)


def test_lars_lr_in_buffer_is_a_validated_group_option_in_the_state_dict():
    p = make_params()
    opt = LARS([{"params": p[:2]}, {"params": p[2:], "lr_in_buffer": True}], lr=0.1,
               momentum=0.9)
    assert [g["lr_in_buffer"] for g in opt.state_dict()["param_groups"]] == [False, True]
    with pytest.raises(ValueError, match="lr_in_buffer"):
        LARS(make_params(), lr=0.1, lr_in_buffer="paper")
    # an old state dict without the key gets the default back
    state = opt.state_dict()
    for g in state["param_groups"]:
        del g["lr_in_buffer"]
    opt2 = LARS(make_params(), lr=0.1, momentum=0.9)
    opt2.__setstate__({"state": {}, "param_groups": state["param_groups"]})
    assert all(g["lr_in_buffer"] is False for g in opt2.param_groups)


def test_lars_paper_form_resumes_identically_from_a_state_dict():
    kw = dict(lr=0.3, momentum=0.9, weight_decay=1e-3, lr_in_buffer=True)
    pa = make_params()
    run(pa, LARS(pa, **kw), 6)
    pb = make_params()
    opt = LARS(pb, **kw)
    run(pb, opt, 3)
    saved = copy.deepcopy(opt.state_dict())
    pc = [nn.Parameter(p.detach().clone()) for p in pb]
    opt2 = LARS(pc, lr=0.3, momentum=0.9, weight_decay=1e-3)    # the option comes from the dict
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr_in_buffer"] is True
    run(pc, opt2, 3, start=3)
    for x, y in zip(pa, pc):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-14)


def lamb_reference(w0, lr, betas, eps, weight_decay, bounds, bias_correction=True,
                   steps=STEPS, seed=2):
    """You et al. (2019), Algorithm 2, one tensor at a time, from the formulas:

    m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; m̂ = m/(1−β1^t); v̂ = v/(1−β2^t);
    r = m̂/(√v̂ + ε); x ← x − η_t φ(‖x‖)/‖r + λx‖ · (r + λx), φ(z) = min(max(z, γ_l), γ_u).
    """
    lo, hi = bounds if bounds is not None else (None, None)
    b1, b2 = betas
    xs = [w.clone() for w in w0]
    ms = [torch.zeros_like(w) for w in w0]
    vs = [torch.zeros_like(w) for w in w0]
    g = torch.Generator().manual_seed(seed)
    for t in range(1, steps + 1):
        eta = lr * schedule(t - 1)
        grads = [torch.randn(w.shape, generator=g, dtype=w.dtype) for w in xs]
        for i, (x, gr) in enumerate(zip(xs, grads)):
            ms[i] = b1 * ms[i] + (1 - b1) * gr
            vs[i] = b2 * vs[i] + (1 - b2) * gr * gr
            c1, c2 = (1 - b1 ** t, 1 - b2 ** t) if bias_correction else (1.0, 1.0)
            r = (ms[i] / c1) / ((vs[i] / c2).sqrt() + eps)
            u = r + weight_decay * x
            z = float(x.norm())
            phi = min(max(z, lo if lo is not None else -math.inf),
                      hi if hi is not None else math.inf)
            xs[i] = x - eta * phi / float(u.norm()) * u
    return xs


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("bounds,bias_correction", [
    (None, True), ((2.5, 3.5), True), ((None, 1.0), True), ((4.0, None), False)])
def test_lamb_matches_a_hand_written_algorithm_2(bounds, bias_correction, foreach):
    kw = dict(lr=0.02, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.05)
    w0 = [p.detach().clone() for p in make_params()]
    norms = sorted(float(w.norm()) for w in w0)
    if bounds == (2.5, 3.5):     # the bounds must bite: some norms below, some above
        assert norms[0] < 2.5 and norms[-1] > 3.5
    params = make_params()
    scheduled_run(params, LAMB(params, weight_norm_bounds=bounds,
                               bias_correction=bias_correction, foreach=foreach, **kw))
    ref = lamb_reference(w0, kw["lr"], kw["betas"], kw["eps"], kw["weight_decay"], bounds,
                         bias_correction)
    for p, r in zip(params, ref):
        torch.testing.assert_close(p.detach(), r, rtol=0, atol=1e-13)


def test_lamb_phi_bounds_change_the_step_and_are_validated():
    a, b = make_params(), make_params()
    run(a, LAMB(a, lr=0.02, weight_norm_bounds=(None, 1.0)), 3)
    run(b, LAMB(b, lr=0.02), 3)
    assert max(float((x - y).abs().max()) for x, y in zip(a, b)) > 1e-3
    for bad in [(1.0,), (2.0, 1.0), (-1.0, None), (None, 0.0), "x", (None, None)]:
        with pytest.raises(ValueError, match="weight_norm_bounds"):
            LAMB(make_params(), weight_norm_bounds=bad)
    assert LAMB(make_params(), weight_norm_bounds=(0.0, 2.0)).state_dict()[
        "param_groups"][0]["weight_norm_bounds"] == (0.0, 2.0)
