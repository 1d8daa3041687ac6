"""Data parallelism is large-batch training, shown with ``torch.distributed``.

``k`` workers hold the same model; each computes the mean gradient of its own batch of
``b`` examples, an all-reduce sums the ``k`` gradients, and each worker divides by ``k``.
The result is the mean gradient of the union of the batches, i.e. the gradient of one
batch of ``kb`` examples, so a data-parallel SGD step is the large-batch step. The
difference is only the order of floating-point additions.

Two ways to run the same code:

* from Python or a notebook, :func:`run_data_parallel_check` starts ``world_size``
  processes on this machine with the ``gloo`` backend (CPU), connected over TCP on
  ``127.0.0.1`` at a free port, with a timeout so that a hang fails instead of blocking;
* under ``torchrun``, e.g. on GPUs with NCCL::

      torchrun --nproc-per-node 2 -m lec4lib.nets.data_parallel --per-worker-batch 32

  reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` from the environment, picks ``nccl`` when
  CUDA is available (``gloo`` otherwise) and prints the comparison on rank 0.

The workers are module-level functions, so ``torch.multiprocessing`` can start them from an
interactive session. Where the platform has it (Linux, macOS) they are forks of
multiprocessing's fork server, which the first call starts with :data:`WORKER_PRELOAD`
imported (``multiprocessing.set_forkserver_preload``; a fork server already running is used
as it is): a worker then starts in a fraction of a second instead of importing torch and
``torch._dynamo`` (which ``torch.optim`` imports on first use) itself, seconds each. Elsewhere
(Windows) they are spawned. The caller loads the batch and hands it to the workers, so they
never import scikit-learn's datasets.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn import functional as F

from ..validation import check_int, check_lr, check_number
from .training import digits_train_size, load_digits_tensors, SmallCNN, torch_threads

__all__ = ["free_port", "global_batch", "data_parallel_step", "single_process_step",
           "run_data_parallel_check", "compare"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: imported once by the fork server that :func:`run_data_parallel_check`'s workers are forked
#: from: this module (torch, torch.distributed, the network), DDP, and ``torch._dynamo``
WORKER_PRELOAD = ("lec4lib.nets.data_parallel", "torch.nn.parallel", "torch._dynamo")


def _worker_start_method() -> str:
    """``"forkserver"`` (preloading :data:`WORKER_PRELOAD`) where available, else ``"spawn"``."""
    if "forkserver" not in mp.get_all_start_methods():
        return "spawn"
    mp.set_forkserver_preload(list(WORKER_PRELOAD))   # no effect once the server runs
    return "forkserver"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (ask the OS for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def global_batch(seed: int, batch_size: int, dtype=torch.float32):
    """The first ``batch_size`` training digits in a seeded order: the large batch.

    Worker ``r`` of ``k`` takes rows ``r·b … (r+1)·b − 1`` of it (``b = batch_size / k``).

    Examples
    --------
    >>> x, y = global_batch(0, 8)
    >>> tuple(x.shape), tuple(y.shape)
    ((8, 1, 8, 8), (8,))
    """
    (x, y), _ = load_digits_tensors(seed=seed, dtype=dtype)
    batch_size = check_int("batch_size", batch_size, 1, len(x))
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:batch_size]
    return x[order], y[order]


def _flat_grad(model) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def _flat_params(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def single_process_step(seed: int, batch_size: int, lr: float, dtype=torch.float32):
    """Reference: gradient of one batch of ``batch_size`` and the SGD step it gives.

    Returns
    -------
    grad, params_after : Tensor, Tensor
        Flat gradient at the initial model and flat parameters after one SGD step.
    """
    model = SmallCNN(seed=seed).to(dtype)
    x, y = global_batch(seed, batch_size, dtype)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    g = _flat_grad(model).clone()
    opt.step()
    return g, _flat_params(model)


def data_parallel_step(rank: int, world_size: int, seed: int, per_worker_batch: int, lr: float,
                       dtype=torch.float32, device: str | torch.device = "cpu", *,
                       batch=None) -> dict:
    """One data-parallel SGD step on this worker (the process group must be initialized).

    Two implementations of the same step, both starting from ``SmallCNN(seed)``:

    * by hand: local gradient, ``all_reduce(SUM)``, divide by ``world_size``, SGD step;
    * with :class:`torch.nn.parallel.DistributedDataParallel`, which averages gradients
      in buckets during ``backward``.

    ``batch`` is the global batch ``(x, y)``, ``global_batch(seed, world_size *
    per_worker_batch, dtype)``, when the caller has it already; ``None`` loads it.

    Returns
    -------
    dict
        Flat CPU tensors: ``grad`` (averaged by hand), ``params_manual``, ``grad_ddp``,
        ``params_ddp``.
    """
    device = torch.device(device)
    n = world_size * per_worker_batch
    x, y = global_batch(seed, n, dtype) if batch is None else batch
    if x.shape[0] != n or y.shape[0] != n or x.dtype != dtype:
        raise ValueError(f"batch must be the global batch of {n} {dtype} examples, got "
                         f"{tuple(x.shape)} {x.dtype} and {tuple(y.shape)}")
    sl = slice(rank * per_worker_batch, (rank + 1) * per_worker_batch)
    x, y = x[sl].to(device), y[sl].to(device)

    model = SmallCNN(seed=seed).to(device=device, dtype=dtype)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for p in model.parameters():               # the all-reduce, by hand
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad /= world_size
    grad = _flat_grad(model).clone()
    opt.step()

    from torch.nn.parallel import DistributedDataParallel as DDP

    net = SmallCNN(seed=seed).to(device=device, dtype=dtype)
    ddp = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)
    opt2 = torch.optim.SGD(ddp.parameters(), lr=lr)
    opt2.zero_grad()
    F.cross_entropy(ddp(x), y).backward()
    grad_ddp = _flat_grad(net).clone()
    opt2.step()
    return {"grad": grad.cpu(), "params_manual": _flat_params(model).cpu(),
            "grad_ddp": grad_ddp.cpu(), "params_ddp": _flat_params(net).cpu()}


def _spawn_worker(rank: int, world_size: int, port: int, seed: int, per_worker_batch: int,
                  lr: float, batches: dict, out_dir: str, timeout_s: float) -> None:
    """Entry point of a worker (module level, so a spawned or forked process can import it).

    ``batches`` maps each dtype name to its global batch ``(x, y)``.
    """
    torch.set_num_threads(1)   # this process is the worker: it ends when the step is done
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size, timeout=timedelta(seconds=timeout_s))
    try:
        results = {name: data_parallel_step(rank, world_size, seed, per_worker_batch, lr,
                                            _DTYPES[name], batch=batch)
                   for name, batch in batches.items()}
        if rank == 0:
            torch.save(results, Path(out_dir) / "rank0.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def compare(dp: dict, ref_grad: torch.Tensor, ref_params: torch.Tensor) -> dict:
    """Largest differences between data-parallel results and the single-process reference.

    Returns
    -------
    dict
        ``grad_max_abs_diff``, ``grad_rel_diff`` (max abs diff / max ``|g|``),
        ``ddp_grad_max_abs_diff``, ``params_max_abs_diff``, ``ddp_params_max_abs_diff``,
        ``grad_max_abs`` (max ``|g|``).
    """
    gmax = float(ref_grad.abs().max())
    d = {
        "grad_max_abs": gmax,
        "grad_max_abs_diff": float((dp["grad"] - ref_grad).abs().max()),
        "ddp_grad_max_abs_diff": float((dp["grad_ddp"] - ref_grad).abs().max()),
        "params_max_abs_diff": float((dp["params_manual"] - ref_params).abs().max()),
        "ddp_params_max_abs_diff": float((dp["params_ddp"] - ref_params).abs().max()),
    }
    d["grad_rel_diff"] = d["grad_max_abs_diff"] / gmax
    return d


def run_data_parallel_check(world_size: int = 2, per_worker_batch: int = 32, *, seed: int = 0,
                            lr: float = 0.1, dtypes=("float32", "float64"),
                            timeout_s: float = 120.0) -> dict:
    """Start ``world_size`` gloo workers, take one data-parallel step, compare with one process.

    Parameters
    ----------
    world_size : int, default 2
        Number of worker processes ``k`` (``>= 1``).
    per_worker_batch : int, default 32
        Examples per worker ``b``; the reference uses one batch of ``k·b`` (``k·b`` at most the number of training digits).
    seed : int, default 0
        Seed of the model, the data split and the batch.
    lr : float, default 0.1
        SGD step size (``> 0``).
    dtypes : tuple of str, default ("float32", "float64")
        Precisions to run the comparison in.
    timeout_s : float, default 120
        Wall-clock limit for the whole run (start-up included) and the process group's
        collective timeout; past it the workers are terminated and ``TimeoutError`` raised.

    Returns
    -------
    dict
        Per dtype, the output of :func:`compare`; plus ``world_size``, ``per_worker_batch``,
        ``global_batch`` and ``wall_time``.
    """
    world_size = check_int("world_size", world_size, 1)
    per_worker_batch = check_int("per_worker_batch", per_worker_batch, 1)
    seed = check_int("seed", seed, 0)
    # the global batch k·b is at most the number of training digits
    check_int("world_size * per_worker_batch", world_size * per_worker_batch, 1, digits_train_size())
    lr = check_lr(lr, schedule=False)
    dtypes = list(dtypes)
    if not dtypes or any(d not in _DTYPES for d in dtypes):
        raise ValueError(f"dtypes must be a non-empty subset of {sorted(_DTYPES)}, got {dtypes!r}")
    check_number(timeout_s, "timeout_s", 0.0, low_open=True)

    t0 = time.perf_counter()
    batches = {name: global_batch(seed, world_size * per_worker_batch, _DTYPES[name])
               for name in dtypes}
    with tempfile.TemporaryDirectory() as out_dir:
        ctx = mp.start_processes(_spawn_worker, nprocs=world_size, join=False,
                                 start_method=_worker_start_method(),
                                 args=(world_size, free_port(), seed, per_worker_batch, float(lr),
                                       batches, out_dir, float(timeout_s)))
        deadline = time.monotonic() + timeout_s
        while not ctx.join(timeout=max(0.1, min(1.0, deadline - time.monotonic()))):
            if time.monotonic() > deadline:
                for p in ctx.processes:
                    if p.is_alive():
                        p.terminate()
                for p in ctx.processes:
                    p.join(5)
                raise TimeoutError(f"data-parallel workers did not finish within {timeout_s} s")
        results = torch.load(Path(out_dir) / "rank0.pt")
    out = {"world_size": world_size, "per_worker_batch": per_worker_batch,
           "global_batch": world_size * per_worker_batch, "wall_time": time.perf_counter() - t0}
    with torch_threads(1):   # as the workers: the reference does not depend on the caller's threads
        for name in dtypes:
            ref_g, ref_p = single_process_step(seed, world_size * per_worker_batch, lr, _DTYPES[name])
            out[name] = compare(results[name], ref_g, ref_p)
    return out


def main(argv=None) -> int:
    """``torchrun`` entry point: one data-parallel step, compared on rank 0 with one process."""
    p = argparse.ArgumentParser(description="Data-parallel step vs one large-batch step.")
    p.add_argument("--per-worker-batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--dtype", choices=sorted(_DTYPES), default="float32")
    args = p.parse_args(argv)
    if "RANK" not in os.environ:
        p.error("run under torchrun (RANK/WORLD_SIZE not set); from Python use run_data_parallel_check()")
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        backend, device = "nccl", torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        backend, device = "gloo", torch.device("cpu")
    dist.init_process_group(backend, init_method="env://")
    try:
        dtype = _DTYPES[args.dtype]
        res = data_parallel_step(rank, world_size, args.seed, args.per_worker_batch, args.lr, dtype, device)
        if rank == 0:
            ref_g, ref_p = single_process_step(args.seed, world_size * args.per_worker_batch, args.lr, dtype)
            print(json.dumps({"backend": backend, "world_size": world_size,
                              "global_batch": world_size * args.per_worker_batch,
                              **compare(res, ref_g, ref_p)}, indent=1))
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
