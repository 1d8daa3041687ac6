"""Cost of the measurements behind chapters 09 and 10, each against its peer, in one run.

1. **Sharpness** — the top Hessian eigenvalue by Hessian-vector products and power
   iteration (``lec4lib.nets.sharpness.top_hessian_eigenvalue``) against forming the whole
   Hessian with ``torch.autograd.functional.hessian`` and calling ``torch.linalg.eigvalsh``
   (``lec4lib.nets.sharpness.exact_hessian``), on the chapter's 240-parameter CNN and a wider
   one; printed as ``ratio = power / exact``.
2. **Per-example gradients** — ``lec4lib.nets.per_example.per_sample_gradients`` (``torch.func``
   ``vmap`` over ``grad``) against a loop of one backward pass per example, on SmallCNN and
   the training digits; printed as ``ratio = vmap / loop``.
3. **Throughput** — samples/s of a SmallCNN training step per batch size on this CPU
   (one thread), the curve of chapter 09.

Prints; never asserts. Usage::

    python benchmarks/bench_batch_size.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn import functional as F

from lec4lib.nets.per_example import (per_sample_gradients, saturation_batch_size,
                                      throughput_vs_batch_size)
from lec4lib.nets.sharpness import exact_hessian, top_hessian_eigenvalue
from lec4lib.nets.training import load_digits_tensors, SmallCNN, torch_threads


def best_of(fn, repeats: int) -> float:
    fn()                                     # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    with torch_threads(1):
        (x, y), _ = load_digits_tensors(seed=0, dtype=torch.float64)
        data = (x[:300], y[:300])
        for channels, hidden in [((2, 2), 4), ((4, 4), 8)]:
            model = SmallCNN(seed=0, channels=channels, hidden=hidden).double()
            d = sum(p.numel() for p in model.parameters())
            t_pow = best_of(lambda: top_hessian_eigenvalue(model, data, iters=500, tol=1e-9), args.repeats)
            t_ex = best_of(lambda: torch.linalg.eigvalsh(exact_hessian(model, data)), 1)
            lam_p = top_hessian_eigenvalue(model, data, iters=500, tol=1e-9).eigenvalue
            lam_e = float(torch.linalg.eigvalsh(exact_hessian(model, data))[-1])
            print(f"top Hessian eigenvalue, d = {d}: power iteration {t_pow:.3f} s, exact hessian+eigvalsh "
                  f"{t_ex:.3f} s, ratio {t_pow / t_ex:.3f} (rel. diff {abs(lam_p - lam_e) / lam_e:.1e}; "
                  f"best of {args.repeats})")

        (x, y), _ = load_digits_tensors(seed=0)
        model = SmallCNN(seed=0)
        n = 256

        def loop():
            rows = []
            for i in range(n):
                model.zero_grad()
                F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
                rows.append(torch.cat([q.grad.reshape(-1) for q in model.parameters()]))
            return torch.stack(rows)

        t_vmap = best_of(lambda: per_sample_gradients(model, (x[:n], y[:n])), args.repeats)
        t_loop = best_of(loop, args.repeats)
        print(f"per-example gradients, {n} digits, SmallCNN: vmap {t_vmap * 1e3:.1f} ms, loop "
              f"{t_loop * 1e3:.1f} ms, ratio {t_vmap / t_loop:.3f} (best of {args.repeats})")

        sizes = [1, 4, 16, 64, 256, 1024]
        tp = throughput_vs_batch_size(SmallCNN(seed=0), (1, 8, 8), sizes, repeats=5, min_time=0.05)
        print("throughput (samples/s, 1 thread): " +
              ", ".join(f"|B|={b}: {s:,.0f}" for b, s in zip(sizes, tp["samples_per_s"])) +
              f"; 90% of best at |B| = {saturation_batch_size(sizes, tp['samples_per_s'])}")


if __name__ == "__main__":
    main()
