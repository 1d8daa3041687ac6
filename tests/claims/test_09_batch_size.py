"""Claims of chapters/09-batch-size.md: noise ∝ 1/|B|, compute ∝ |B|, memory linear in |B|,
and a data-parallel step is the large-batch step.

Each test calls the chapter's lec4lib function with the chapter's seed and settings; the
references are computed independently (numpy, a loop of single-example backward passes,
torch's own autograd on one process).
"""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lec4lib.nets.per_example import (flops_per_step, gradient_variance_vs_batch_size,
                                      memory_per_sample, per_sample_gradients)
from lec4lib.nets.training import load_digits_tensors, SmallCNN, torch_threads


@pytest.fixture(scope="module")
def grads():
    (x, y), _ = load_digits_tensors(seed=0)
    with torch_threads(1):
        return per_sample_gradients(SmallCNN(seed=0), (x, y)), (x, y)


def test_per_sample_gradients_match_one_backward_per_example(grads):
    G, (x, y) = grads
    model = SmallCNN(seed=0)
    for n in [0, 500, 1346]:          # reference: autograd on one example at a time
        model.zero_grad()
        F.cross_entropy(model(x[n:n + 1]), y[n:n + 1]).backward()
        ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        torch.testing.assert_close(G[n], ref, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_minibatch_gradient_variance_falls_as_one_over_batch_size(grads):
    G, _ = grads
    sizes = [1, 4, 16, 64, 256, 1024]                    # the chapter's settings
    with_repl = gradient_variance_vs_batch_size(G, sizes, n_draws=100, seed=0, replace=True)
    without = gradient_variance_vs_batch_size(G, sizes, n_draws=100, seed=0, replace=False)
    # tr Σ from numpy, independently of the code under test
    Gn = G.double().numpy()
    trace = ((Gn - Gn.mean(0)) ** 2).sum(1).mean()
    assert with_repl["trace_cov"] == pytest.approx(trace, rel=1e-10)
    # the slide's O(1/|B|): fitted log-log slope -1 within the sampling error of 100 draws
    assert with_repl["slope"] == pytest.approx(-1.0, abs=0.03)
    # every size within 15% of tr Σ / |B| (100 draws of a sum of 9802 squared coordinates)
    np.testing.assert_allclose(with_repl["measured"], trace / np.array(sizes), rtol=0.15)
    # without replacement: the finite-population factor (N - |B|) / (N - 1)
    N = len(Gn)
    np.testing.assert_allclose(without["measured"],
                               trace / np.array(sizes) * (N - np.array(sizes)) / (N - 1), rtol=0.15)
    assert without["slope"] < with_repl["slope"] - 0.05


def test_computation_per_step_is_linear_in_batch_size():
    model = SmallCNN(seed=0)
    # reference by hand for a batch of one: 2·(MACs) of forward, backward = weight grads
    # (2·MACs) + input grads (2·MACs) for every layer but the first, whose input needs none
    macs = {"conv1": 64 * 8 * 9, "conv2": 64 * 16 * 8 * 9, "fc1": 256 * 32, "fc2": 32 * 10}
    expected = sum(2 * m for m in macs.values()) * 3 - 2 * macs["conv1"]
    flops = {b: flops_per_step(model, (1, 8, 8), b) for b in [1, 16, 256, 1024]}
    assert flops[1] == expected
    for b, f in flops.items():
        assert f == b * flops[1]


def test_activation_memory_is_linear_in_batch_size():
    model = SmallCNN(seed=0)
    r = memory_per_sample(model, (1, 8, 8), batch_sizes=(1, 2, 4, 8, 16, 32))
    assert r["max_abs_residual"] < 1e-6
    # lower bound: the layer outputs autograd must keep (float32) — conv1, relu1 mask/output,
    # conv2, relu2, pool; counted with forward hooks, independently of saved_tensors_hooks
    sizes = []
    hooks = [m.register_forward_hook(lambda m, i, o: sizes.append(o.numel() * o.element_size()))
             for m in (model.conv1, model.conv2, model.fc1)]
    model(torch.zeros(1, 1, 8, 8))
    for h in hooks:
        h.remove()
    assert r["per_sample_bytes"] >= sum(sizes)
    # exact, counted by hand from SmallCNN.forward (float32 = 4 bytes, int64 = 8): each
    # tensor autograd keeps for the backward pass, once even when two nodes share it
    per_sample = {
        "input x (conv1's weight gradient)": 1 * 8 * 8 * 4,
        "relu(conv1) output (relu's backward, conv2's input)": 8 * 8 * 8 * 4,
        "relu(conv2) output (relu's backward, max_pool's input)": 16 * 8 * 8 * 4,
        "max_pool indices (int64)": 16 * 4 * 4 * 8,
        "pooled, flattened (fc1's input)": 256 * 4,
        "relu(fc1) output (relu's backward, fc2's input)": 32 * 4,
        "log_softmax output (cross-entropy's backward)": 10 * 4,
        "target (int64)": 8,
    }
    # the slope of a least-squares fit through byte counts: exact up to its rounding
    assert r["per_sample_bytes"] == pytest.approx(sum(per_sample.values()), abs=1e-6)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_allreduced_gradient_equals_large_batch_gradient(dp_result):
    # tolerance: relative to the largest gradient entry, a few float32 / float64 ulps
    assert dp_result["float32"]["grad_rel_diff"] <= 1e-6
    assert dp_result["float64"]["grad_rel_diff"] <= 1e-14
    assert dp_result["float32"]["ddp_grad_max_abs_diff"] <= 1e-6 * dp_result["float32"]["grad_max_abs"]
    assert dp_result["float64"]["ddp_grad_max_abs_diff"] <= 1e-14 * dp_result["float64"]["grad_max_abs"]
    # the comparison is not vacuous: the gradient is not zero, and half the batch differs
    assert dp_result["float64"]["grad_max_abs"] > 1e-3


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_data_parallel_step_equals_large_batch_step(dp_result):
    for prec, tol in (("float32", 1e-6), ("float64", 1e-14)):
        r = dp_result[prec]
        assert r["params_max_abs_diff"] <= tol
        assert r["ddp_params_max_abs_diff"] <= tol


@pytest.fixture(scope="module")
def dp_result():
    from lec4lib.nets.data_parallel import run_data_parallel_check

    return run_data_parallel_check(world_size=2, per_worker_batch=32, seed=0, lr=0.1, timeout_s=150)


def test_half_batch_gradient_is_not_the_large_batch_gradient():
    """Guards the data-parallel tests: one worker's gradient alone is far from the answer."""
    from lec4lib.nets.data_parallel import global_batch, single_process_step

    g64, _ = single_process_step(0, 64, 0.1, torch.float64)
    x, y = global_batch(0, 64, torch.float64)
    model = SmallCNN(seed=0).double()
    F.cross_entropy(model(x[:32]), y[:32]).backward()
    g32 = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    assert (g32 - g64).abs().max() > 1e-3 * g64.abs().max()
    # and the mean of the two halves is the whole (the identity behind all-reduce)
    model.zero_grad()
    F.cross_entropy(model(x[32:]), y[32:]).backward()
    g32b = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    torch.testing.assert_close((g32 + g32b) / 2, g64, rtol=1e-12, atol=1e-14)
