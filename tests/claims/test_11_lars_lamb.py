"""Claims of chapters/11-lars-lamb.md: the AlexNet trust-ratio table, LARS and LAMB, LARS vs SGD.

Each test calls the chapter's lec4lib functions with the chapter's seeds and sizes.
"""

from __future__ import annotations

import math

import pytest
import torch

from lec4lib.nets.alexnet import AlexNet, caffe_expected_norms, caffe_name
from lec4lib.nets.images import synthetic_images
from lec4lib.optim.lamb import LAMB
from lec4lib.optim.lars import LARS
from lec4lib.studies.ch11_lars_lamb import compare_lars_sgd
from lec4lib.nets.training import load_digits_tensors, SmallCNN
from lec4lib.nets.trust_ratio import ratio_spread, SLIDE_ALEXNET_TABLE, trust_ratio_table


@pytest.fixture(scope="module")
def alexnet_table():
    """The chapter's table: AlexNet(seed=0), 16 synthetic ImageNet-shaped images, seed 0."""
    model = AlexNet(num_classes=1000, seed=0)
    x, y = synthetic_images(16, num_classes=1000, image_size=227, seed=0)
    return trust_ratio_table(model, x, y, seed=0, name_map=caffe_name), y


@pytest.mark.slow
def test_alexnet_weight_norms_match_the_slide_within_one_percent(alexnet_table):
    rows, _ = alexnet_table
    assert [r.name for r in rows] == list(SLIDE_ALEXNET_TABLE)      # all 16, slide order
    for r in rows:
        assert r.weight_norm == pytest.approx(SLIDE_ALEXNET_TABLE[r.name][0], rel=0.01), r.name


def test_slide_weight_norms_are_the_caffe_initialization():
    # independent of our model: the slide's column against σ√n and c√m
    for name, value in caffe_expected_norms(1000).items():
        assert SLIDE_ALEXNET_TABLE[name][0] == pytest.approx(value, rel=0.01), name


@pytest.mark.slow
def test_trust_ratios_spread_over_two_orders_of_magnitude(alexnet_table):
    rows, _ = alexnet_table
    slide = [w / g for w, g, _ in SLIDE_ALEXNET_TABLE.values()]
    assert max(slide) / min(slide) > 100                 # the slide: 3690 / 20
    assert ratio_spread(rows) > 100                      # ours, on synthetic images
    assert all(math.isfinite(r.ratio) and r.ratio > 0 for r in rows)


@pytest.mark.slow
def test_fc8_bias_gradient_is_set_by_the_label_histogram(alexnet_table):
    rows, y = alexnet_table
    hist = torch.bincount(y, minlength=1000).double() / len(y)
    predicted = float((hist - 1.0 / 1000).norm())
    measured = next(r.grad_norm for r in rows if r.name == "fc8.1")
    assert measured == pytest.approx(predicted, rel=0.02)
    # the slide's value is that of a batch far larger than 16 under the same approximation
    assert (1 - 1 / 1000) / SLIDE_ALEXNET_TABLE["fc8.1"][1] ** 2 > 10_000


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
