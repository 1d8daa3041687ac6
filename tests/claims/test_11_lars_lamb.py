"""Claims of chapters/11-lars-lamb.md: the AlexNet trust-ratio table, LARS and LAMB, LARS vs SGD.

Each test calls the chapter's lec4lib functions with the chapter's seeds and sizes.
"""

from __future__ import annotations

import math

import pytest
import torch

from torch.nn import functional as F

from lec4lib.nets.alexnet import AlexNet, caffe_name
from lec4lib.nets.images import synthetic_images
from lec4lib.optim.lamb import LAMB
from lec4lib.optim.lars import LARS
from lec4lib.studies.ch11_lars_lamb import compare_lars_forms, compare_lars_sgd, init_norm_comparison
from lec4lib.nets.training import load_digits_tensors, SmallCNN
from lec4lib.nets.trust_ratio import ratio_spread, SLIDE_ALEXNET_TABLE, trust_ratio_table
from tests.alexnet_reference import ENTRIES, closed_form


@pytest.fixture(scope="module")
def alexnet_table():
    """The chapter's table: AlexNet(seed=0), 16 synthetic ImageNet-shaped images, seed 0."""
    model = AlexNet(num_classes=1000, seed=0)
    x, y = synthetic_images(16, num_classes=1000, image_size=227, seed=0)
    return trust_ratio_table(model, x, y, seed=0, name_map=caffe_name), y, model, x


@pytest.mark.slow
def test_alexnet_weight_norms_are_the_closed_forms_of_the_slide_init(alexnet_table):
    rows, *_ = alexnet_table
    assert [r.name for r in rows] == list(SLIDE_ALEXNET_TABLE)      # all 16, slide order
    for r in rows:
        if r.name.endswith(".0"):
            # ‖w‖²/σ² is χ² with n ≥ 34,848 degrees of freedom: relative sd of ‖w‖ is
            # 1/√(2n) ≤ 0.38%, so 1% is more than 2.6 sd for the smallest (conv1.0)
            assert r.weight_norm == pytest.approx(closed_form(r.name, "slide"), rel=0.01), r.name
        else:
            # a float32 constant c: ‖b‖ = c√m exactly, up to the rounding of a float32 sum
            # of m squares, whose worst-case relative error is about m·2⁻²⁴ (γ_m, Higham,
            # Accuracy and Stability of Numerical Algorithms, §4.2)
            m = ENTRIES[r.name.split(".")[0]][1]
            assert r.weight_norm == pytest.approx(closed_form(r.name, "slide"),
                                                  rel=m * 2.0 ** -24), r.name


def test_slide_column_fits_the_slide_constants_and_not_bvlcs_biases():
    rows = init_norm_comparison(1000)
    assert [r["name"] for r in rows] == list(SLIDE_ALEXNET_TABLE)
    for r in rows:      # the lec4lib closed forms against the ones written above
        for init in ("slide", "bvlc"):
            assert r[f"{init}_init"] == pytest.approx(closed_form(r["name"], init), rel=1e-12,
                                                      abs=0), (r["name"], init)
    # the finding the chapter states: the slide's column is within 1% of the "slide"
    # constants (the printed values have 3-4 significant digits) ...
    assert max(r["dev_slide_init"] for r in rows) < 0.01
    # ... and BVLC's constants give the same weights but 6 of 8 biases far off
    assert all(r["dev_bvlc_init"] < 0.01 for r in rows if r["name"].endswith(".0"))
    off = [r["name"] for r in rows if r["dev_bvlc_init"] > 0.5]
    assert sorted(off) == ["conv1.1", "conv2.1", "conv3.1", "conv4.1", "conv5.1", "fc8.1"]


@pytest.mark.slow
def test_trust_ratios_spread_over_two_orders_of_magnitude(alexnet_table):
    rows, y, model, x = alexnet_table
    # independent reference: the gradient from torch directly, with the same dropout seed
    with torch.random.fork_rng():
        torch.manual_seed(0)
        loss = F.cross_entropy(model.train()(x), y)
    named = list(model.named_parameters())
    grads = torch.autograd.grad(loss, [p for _, p in named])
    ref = {caffe_name(n): float(p.detach().norm()) / float(g.norm()) for (n, p), g in zip(named, grads)}
    for r in rows:
        assert r.ratio == pytest.approx(ref[r.name], rel=1e-5), r.name
    assert ratio_spread(rows) == pytest.approx(max(ref.values()) / min(ref.values()), rel=1e-5)
    assert ratio_spread(rows) > 100                      # ours, on synthetic images


@pytest.mark.slow
def test_fc8_bias_gradient_is_set_by_the_label_histogram(alexnet_table):
    rows, y, *_ = alexnet_table
    hist = torch.bincount(y, minlength=1000).double() / len(y)
    predicted = float((hist - 1.0 / 1000).norm())
    measured = next(r.grad_norm for r in rows if r.name == "fc8.1")
    assert measured == pytest.approx(predicted, rel=0.02)


def _digits_grads():
    (x_tr, y_tr), _ = load_digits_tensors(seed=0)
    net = SmallCNN(seed=0).double()
    loss = torch.nn.functional.cross_entropy(net(x_tr[:256].double()), y_tr[:256])
    grads = torch.autograd.grad(loss, list(net.parameters()))
    return [p.detach().clone() for p in net.parameters()], grads


def test_lars_step_is_the_slides_layerwise_rule():
    w0, grads = _digits_grads()
    eta = 0.01
    by_hand = [w - eta * w.norm() / g.norm() * g for w, g in zip(w0, grads)]
    params = [torch.nn.Parameter(w.clone()) for w in w0]
    for p, g in zip(params, grads):
        p.grad = g
    LARS(params, lr=1.0, trust_coefficient=eta, eps=0.0).step()
    assert max(float((p - h).abs().max()) for p, h in zip(params, by_hand)) < 1e-14
    # and every tensor moved by the same fraction η of its norm
    for p, w in zip(params, w0):
        assert float((p.detach() - w).norm() / w.norm()) == pytest.approx(eta, rel=1e-12)


def test_lamb_step_is_the_adam_update_rescaled_per_layer():
    w0, grads = _digits_grads()
    gamma = 0.01
    adam = [torch.nn.Parameter(w.clone()) for w in w0]
    for p, g in zip(adam, grads):
        p.grad = g
    torch.optim.Adam(adam, lr=1.0, eps=1e-6).step()
    r = [w - p.detach() for w, p in zip(w0, adam)]
    by_hand = [w - gamma * w.norm() / ri.norm() * ri for w, ri in zip(w0, r)]
    params = [torch.nn.Parameter(w.clone()) for w in w0]
    for p, g in zip(params, grads):
        p.grad = g
    LAMB(params, lr=gamma, eps=1e-6).step()
    assert max(float((p - h).abs().max()) for p, h in zip(params, by_hand)) < 1e-14


def test_sgd_relative_steps_differ_across_layers_lars_equalizes_them():
    (x_tr, y_tr), _ = load_digits_tensors(seed=0)
    rows = trust_ratio_table(SmallCNN(seed=0), x_tr[:1024], y_tr[:1024], seed=0)
    rel = [1.0 / r.ratio for r in rows if r.name.endswith("weight")]
    assert len(rel) == 4
    assert max(rel) / min(rel) > 3           # SGD: one rate, unequal relative steps
    assert max(rel) > 4 * (1.0 * 0.01)       # the largest exceeds LARS's γη = 0.01 by > 4x


@pytest.mark.slow
def test_lars_trains_at_a_rate_where_sgd_fails():
    runs = compare_lars_sgd(sgd_lrs=(0.1, 1.0), lars_lrs=(1.0,), batch_size=1024, epochs=20,
                            trust_coefficient=0.01, seed=0)
    by = {(r.optimizer, r.lr): r for r in runs}
    sgd_big, lars, sgd_small = by[("SGD", 1.0)], by[("LARS", 1.0)], by[("SGD", 0.1)]
    # SGD at γ = 1: at chance (10 classes) with a loss near ln 10
    assert sgd_big.final_test_accuracy < 0.2
    assert sgd_big.final_loss > 0.9 * math.log(10)
    # LARS at the same γ trains, and does not lag SGD at the 10x smaller rate
    assert lars.final_test_accuracy > 0.9
    assert lars.final_test_accuracy >= sgd_small.final_test_accuracy


def _lars_algorithm_1_losses(steps, warmup_steps, lr, batch_size, momentum, eta, beta, eps, seed):
    """You et al. 2017, Algorithm 1, by hand on the digits CNN: v ← m v + γ_t λ(g + βw), w ← w − v,
    with γ_t = lr·(t+1)/warm-up during warm-up, then lr·(1 − t/T)²; the batches drawn as the
    study draws them. Returns the loss of every step."""
    (x, y), _ = load_digits_tensors(seed=seed, dtype=torch.float64)
    net = SmallCNN(seed=seed).double()
    params = list(net.parameters())
    vs = [torch.zeros_like(p) for p in params]
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for t in range(steps):
        gamma = lr * ((t + 1) / warmup_steps if t < warmup_steps else (1 - t / steps) ** 2)
        idx = torch.randint(0, len(x), (batch_size,), generator=gen)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        grads = torch.autograd.grad(loss, params)
        losses.append(float(loss.detach()))
        with torch.no_grad():
            for i, (p, g) in enumerate(zip(params, grads)):
                lam = eta * p.norm() / (g.norm() + beta * p.norm() + eps)
                vs[i] = momentum * vs[i] + gamma * lam * (g + beta * p)
                p -= vs[i]
    return losses


def test_lars_forms_agree_at_a_constant_rate_and_differ_under_the_schedule():
    sched, const = compare_lars_forms(steps=40, warmup_steps=8, lr=0.8, seed=0)
    # the paper's form, as the study ran it, is Algorithm 1 written out by hand
    ref = _lars_algorithm_1_losses(40, 8, 0.8, 256, 0.9, 0.01, 5e-4, 1e-8, 0)
    assert sched.loss_paper == pytest.approx(ref, rel=1e-10)
    # constant rate: the same algorithm, up to float64 rounding (40 steps; measured ~5e-16)
    assert max(const.gap) < 1e-13
    assert const.loss_paper == pytest.approx(const.loss_torch, rel=1e-12)
    # warm-up + decay: different algorithms; the runs end ≥ 5% of a tensor's norm apart
    assert max(sched.gap) > 0.05
    assert abs(sched.loss_paper[-1] - sched.loss_torch[-1]) > 0.01
