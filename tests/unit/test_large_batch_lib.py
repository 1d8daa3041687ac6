"""Unit tests of lec4lib.nets.per_example, lec4lib.nets.sharpness, lec4lib.studies.ch10_large_batch, lec4lib.nets.data_parallel:
small exact cases and the validation of every public function."""

import math
import multiprocessing
import threading
import time

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lec4lib.nets.per_example import (flops_per_step, gradient_variance_vs_batch_size,
                                      memory_per_sample, per_sample_gradients,
                                      saturation_batch_size, throughput_vs_batch_size)
from lec4lib.theory.measure import loglog_slope
from lec4lib.nets import data_parallel as dpl
from lec4lib.studies.ch10_large_batch import batch_size_sweep, sharpness_vs_batch_size
from lec4lib.theory.lr_scaling import least_squares_curvatures, max_stable_batch, scaled_lr
from lec4lib.nets import sharpness as sh


# --- batch_size -------------------------------------------------------------------------

def test_variance_is_exact_for_two_point_population():
    # gradients ±1: a batch of b with replacement has E(mean²) = 1/b exactly
    G = torch.tensor([[1.0], [-1.0]])
    r = gradient_variance_vs_batch_size(G, [1, 2, 4, 8], n_draws=20000, seed=1)
    np.testing.assert_allclose(r["predicted"], [1, 0.5, 0.25, 0.125])
    np.testing.assert_allclose(r["measured"], r["predicted"], rtol=0.05)
    r = gradient_variance_vs_batch_size(G, [2], n_draws=10, replace=False)
    assert r["measured"] == [0.0] and r["predicted"] == [0.0]


@pytest.mark.parametrize("kwargs,match", [
    ({"per_sample_grads": torch.zeros(1, 3)}, "per_sample_grads"),
    ({"batch_sizes": []}, "batch_sizes"), ({"batch_sizes": [0]}, "batch_sizes"),
    ({"batch_sizes": [5], "replace": False}, r"^Invalid batch_sizes entries: 5 \(must be an integer in 1\.\.4\)$"),
    ({"n_draws": 1}, "n_draws"), ({"seed": -1}, "seed")])
def test_variance_rejects_bad_input(kwargs, match):
    args = {"per_sample_grads": torch.randn(4, 3), "batch_sizes": [1, 2]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gradient_variance_vs_batch_size(**args)


def test_loglog_slope_and_saturation_validate():
    assert loglog_slope([1, 10, 100], [5.0, 50.0, 500.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="> 0"):
        loglog_slope([1, 2], [0.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        loglog_slope([1, 2], [1.0])
    with pytest.raises(ValueError, match="fraction"):
        saturation_batch_size([1, 2], [1.0, 2.0], fraction=0)
    with pytest.raises(ValueError, match="non-empty"):
        saturation_batch_size([], [])


def test_per_sample_gradients_of_least_squares_by_hand():
    lin = nn.Linear(3, 1, bias=False)
    x, y = torch.randn(5, 3), torch.randn(5, 1)
    G = per_sample_gradients(lin, (x, y), loss_fn=F.mse_loss)
    w = lin.weight.detach()[0]
    np.testing.assert_allclose(G.numpy(), (2 * ((x @ w)[:, None] - y) * x).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="model"):
        per_sample_gradients("net", (x, y))
    with pytest.raises(ValueError, match="data"):
        per_sample_gradients(lin, (x, y[:2]))


def test_flops_memory_and_throughput_validate_and_are_sane():
    lin = nn.Linear(4, 3)
    assert flops_per_step(lin, (4,), 3, num_classes=3) == 3 * flops_per_step(lin, (4,), 1, num_classes=3)
    with pytest.raises(ValueError, match="input_shape"):
        flops_per_step(lin, (), 1)
    with pytest.raises(ValueError, match="batch_size"):
        flops_per_step(lin, (4,), 0)
    with pytest.raises(ValueError, match="at least two"):
        memory_per_sample(lin, (4,), batch_sizes=(2, 2), num_classes=3)
    r = throughput_vs_batch_size(lin, (4,), [1, 8], repeats=1, min_time=0.0, num_classes=3)
    assert len(r["samples_per_s"]) == 2 and min(r["samples_per_s"]) > 0
    with pytest.raises(ValueError, match="repeats"):
        throughput_vs_batch_size(lin, (4,), [1], repeats=0)
    with pytest.raises(ValueError, match="min_time"):
        throughput_vs_batch_size(lin, (4,), [1], min_time=-1)


# --- sharpness --------------------------------------------------------------------------

def test_hvp_and_power_iteration_on_a_known_quadratic():
    torch.manual_seed(0)
    X = torch.randn(50, 6, dtype=torch.float64)
    lin = nn.Linear(6, 1, bias=False).double()
    data = (X, torch.zeros(50, 1, dtype=torch.float64))
    H = 2 / 50 * X.T @ X                                  # Hessian of mean squared error
    v = torch.randn(6, dtype=torch.float64)
    torch.testing.assert_close(sh.hessian_vector_product(lin, data, v, loss_fn=F.mse_loss), H @ v)
    torch.testing.assert_close(sh.exact_hessian(lin, data, loss_fn=F.mse_loss), H)
    r = sh.top_hessian_eigenvalue(lin, data, loss_fn=F.mse_loss, iters=1000, tol=1e-10)
    assert r.converged and r.eigenvalue == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-9)
    assert len(r.history) == r.iterations


def test_sharpness_rejects_bad_input():
    lin = nn.Linear(2, 1)
    data = (torch.zeros(3, 2), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="iters"):
        sh.top_hessian_eigenvalue(lin, data, iters=0, loss_fn=F.mse_loss)
    with pytest.raises(ValueError, match="tol"):
        sh.top_hessian_eigenvalue(lin, data, tol=0, loss_fn=F.mse_loss)
    with pytest.raises(ValueError, match="seed"):
        sh.top_hessian_eigenvalue(lin, data, seed=-1, loss_fn=F.mse_loss)
    with pytest.raises(ValueError, match="data"):
        sh.top_hessian_eigenvalue(lin, (torch.zeros(3, 2), torch.zeros(2, 1)))
    with pytest.raises(ValueError, match="vector"):
        sh.hessian_vector_product(lin, data, torch.zeros(5), loss_fn=F.mse_loss)
    with pytest.raises(ValueError, match="at most 5000"):
        sh.exact_hessian(nn.Linear(100, 100), (torch.zeros(1, 100), torch.zeros(1, 100)), F.mse_loss)
    frozen = nn.Linear(2, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="require grad"):
        sh.exact_hessian(frozen, data, F.mse_loss)


# --- large_batch ------------------------------------------------------------------------

@pytest.mark.parametrize("args,match", [((0.0, 16, 32, "linear"), "base_lr"), ((0.1, 0, 32, "linear"), "base_batch"),
                                        ((0.1, 16, -1, "linear"), "batch_size"), ((0.1, 16, 32, "cube"), "rule")])
def test_scaled_lr_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        scaled_lr(*args)


def test_max_stable_batch_rejects_bad_curvature():
    with pytest.raises(ValueError, match="curvature"):
        max_stable_batch(0.1, 16, 0.0, "linear")


@pytest.mark.parametrize("kwargs,match", [({"batch_sizes": [0]}, "batch_sizes"),
                                          ({"batch_sizes": [2000]}, "batch_sizes"),
                                          ({"rules": ("cube",)}, "rule"), ({"epochs": 0}, "epochs"),
                                          ({"seeds": (-1,)}, "seeds"), ({"warmup_epochs": 99}, "warmup"),
                                          ({"sharpness_iters": -1}, "sharpness_iters"),
                                          ({"sharpness_examples": 0}, "sharpness_examples"),
                                          ({"momentum": 1.0}, "momentum")])
def test_sweep_rejects_bad_input(kwargs, match):
    args = {"batch_sizes": [16]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        batch_size_sweep(**args)


def test_sweep_shares_identical_runs_and_records_lr():
    recs = batch_size_sweep([64], rules=("none", "sqrt", "linear"), base_lr=0.05, base_batch=64,
                               epochs=1, seeds=(0,))
    assert [r["lr"] for r in recs] == [0.05, 0.05, 0.05]
    assert len({r["test_accuracy"] for r in recs}) == 1 and recs[0]["steps"] == math.ceil(1347 / 64)


@pytest.mark.parametrize("kwargs,match", [({"batch_sizes": []}, "batch_sizes"), ({"lr": 0}, "lr"),
                                          ({"steps": 0}, "steps"), ({"sharpness_iters": 0}, "sharpness_iters"),
                                          ({"sharpness_examples": 2000}, "sharpness_examples")])
def test_sharpness_vs_batch_size_rejects_bad_input(kwargs, match):
    args = {"batch_sizes": [16]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sharpness_vs_batch_size(**args)


def test_least_squares_curvatures_validate():
    with pytest.raises(ValueError, match="2-D"):
        least_squares_curvatures(np.zeros(3))


# --- data_parallel ----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [({"world_size": 0}, "world_size"),
                                          ({"per_worker_batch": 0}, "per_worker_batch"),
                                          ({"world_size": 2, "per_worker_batch": 700}, "1347"),
                                          ({"lr": 0}, "learning rate"), ({"dtypes": ("float16",)}, "dtypes"),
                                          ({"timeout_s": 0}, "timeout_s"), ({"seed": -1}, "seed")])
def test_data_parallel_check_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dpl.run_data_parallel_check(**kwargs)


def _block_forever(rank, *args):
    """A worker that never finishes, whatever the machine's speed (spawned by qualified name)."""
    threading.Event().wait()


def test_data_parallel_check_times_out_instead_of_hanging(monkeypatch):
    # the workers are replaced by ones that block, so the timeout is certain to be reached
    # (a real step may finish within any fixed limit on a fast enough machine)
    monkeypatch.setattr(dpl, "_spawn_worker", _block_forever)
    before = set(multiprocessing.active_children())
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="did not finish within 1.0 s"):
        dpl.run_data_parallel_check(world_size=2, per_worker_batch=4, timeout_s=1.0)
    assert time.monotonic() - t0 >= 1.0                   # it waited the full limit
    assert not (set(multiprocessing.active_children()) - before)   # and left no worker behind


def test_free_port_and_global_batch():
    port = dpl.free_port()
    assert 1024 <= port <= 65535
    x, y = dpl.global_batch(0, 10)
    x2, y2 = dpl.global_batch(0, 20)
    assert torch.equal(x, x2[:10]) and torch.equal(y, y2[:10])   # workers' slices are stable
    with pytest.raises(ValueError, match="batch_size"):
        dpl.global_batch(0, 0)


def test_data_parallel_step_takes_the_batch_it_would_load_and_refuses_another():
    """A one-process group: the step with the batch handed in is the step that loads it."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{dpl.free_port()}",
                            rank=0, world_size=1)
    try:
        loaded = dpl.data_parallel_step(0, 1, 0, 8, 0.1, torch.float64)
        handed = dpl.data_parallel_step(0, 1, 0, 8, 0.1, torch.float64,
                                        batch=dpl.global_batch(0, 8, torch.float64))
        assert loaded.keys() == handed.keys()
        assert all(torch.equal(loaded[k], handed[k]) for k in loaded)
        for wrong in (dpl.global_batch(0, 9, torch.float64),      # another size
                      dpl.global_batch(0, 8, torch.float32)):     # another dtype
            with pytest.raises(ValueError, match="global batch of 8"):
                dpl.data_parallel_step(0, 1, 0, 8, 0.1, torch.float64, batch=wrong)
    finally:
        dist.destroy_process_group()


def test_workers_are_forked_from_a_fork_server_that_preloads_torch():
    import multiprocessing.forkserver as fs

    method = dpl._worker_start_method()
    if "forkserver" not in multiprocessing.get_all_start_methods():
        assert method == "spawn"
        return
    assert method == "forkserver"
    assert fs._forkserver._preload_modules == list(dpl.WORKER_PRELOAD)


@pytest.mark.slow
def test_torchrun_entry_point_matches_large_batch_step():
    """The same code under torchrun (env:// rendezvous; gloo here, NCCL when CUDA is present)."""
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(dpl.free_port()),
           "-m", "lec4lib.nets.data_parallel", "--dtype", "float64", "--per-worker-batch", "16"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout[out.stdout.index("{"):])
    assert result["world_size"] == 2 and result["global_batch"] == 32
    assert result["backend"] == ("nccl" if torch.cuda.is_available() else "gloo")
    assert result["grad_rel_diff"] <= 1e-14 and result["ddp_params_max_abs_diff"] <= 1e-14


def test_main_refuses_to_run_outside_torchrun(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit):
        dpl.main([])
