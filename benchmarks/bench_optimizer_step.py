"""Step time of lec4lib's numpy optimizers against torch.optim on the same vector sizes.

For every optimizer of ``lec4lib.optim`` (SGD, momentum in both forms, Nesterov,
Adagrad, Adam) and its torch mapping (the one stated in its docstring), one step on a
float64 vector of each size with a fixed random gradient is timed: lec4lib's
``update(w, g)`` against torch's ``step()`` with ``p.grad`` set. Timings are interleaved
(round-robin), after warm-up, and the median is reported. Prints one ratio line per
optimizer and size (ratio = lec4lib / torch; below 1 means lec4lib is faster). Never asserts.

numpy's elementwise operations run on one thread, so torch runs with one intra-op thread
by default (like for like); ``--torch-threads 0`` keeps torch's own default. On a shared
machine torch's multi-threaded kernels can be much slower than single-threaded ones.

Usage: python benchmarks/bench_optimizer_step.py [--sizes 1000 100000 1000000] [--repeats N]
       [--torch-threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from lec4lib.optim.adagrad import Adagrad
from lec4lib.optim.adam import Adam
from lec4lib.optim.momentum import HeavyBall, MomentumEMA
from lec4lib.optim.nesterov import Nesterov
from lec4lib.optim.sgd import SGD

PAIRS = {
    "SGD": (lambda: SGD(1e-3), lambda p: torch.optim.SGD(p, lr=1e-3)),
    "momentum (EMA)": (lambda: MomentumEMA(1e-3, 0.9), lambda p: torch.optim.SGD(p, lr=1e-4, momentum=0.9)),
    "heavy ball": (lambda: HeavyBall(1e-3, 0.9), lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9)),
    "Nesterov": (lambda: Nesterov(1e-3, 0.9), lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, nesterov=True)),
    "Adagrad": (lambda: Adagrad(1e-2, eps=1e-10),
                lambda p: torch.optim.Adagrad(p, lr=1e-2, eps=0, initial_accumulator_value=1e-10)),
    "Adam": (lambda: Adam(1e-3), lambda p: torch.optim.Adam(p, lr=1e-3)),
}


def _inner(n: int) -> int:
    """Steps per timing sample, so that one sample lasts roughly a millisecond or more."""
    return max(1, 200_000 // n)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    p.add_argument("--repeats", type=int, default=15, help="timed samples per optimizer (default 15)")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads (default 1, like numpy; 0 = torch's default)")
    args = p.parse_args(argv)
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}; numpy {np.__version__}; float64")
    rng = np.random.default_rng(0)
    for n in args.sizes:
        g = rng.standard_normal(n)
        inner = _inner(n)
        runners = {}
        for name, (ours_f, torch_f) in PAIRS.items():
            w = rng.standard_normal(n)
            ours = ours_f()
            param = torch.nn.Parameter(torch.from_numpy(w.copy()))
            param.grad = torch.from_numpy(g.copy())
            topt = torch_f([param])

            def run_ours(ours=ours, w=w):
                for _ in range(inner):
                    ours.update(w, g)

            def run_torch(topt=topt):
                for _ in range(inner):
                    topt.step()

            run_ours(); run_torch()            # warm-up, creates the state
            runners[name] = (run_ours, run_torch)
        times = {name: ([], []) for name in runners}
        for _ in range(args.repeats):
            for name, (ro, rt) in runners.items():
                for fn, bucket in ((ro, times[name][0]), (rt, times[name][1])):
                    t0 = time.perf_counter()
                    fn()
                    bucket.append((time.perf_counter() - t0) / inner)
        for name, (to, tt) in times.items():
            mo, mt = statistics.median(to), statistics.median(tt)
            print(f"{name} step, n={n}: lec4lib {mo * 1e6:.1f} us, torch.optim {mt * 1e6:.1f} us, "
                  f"ratio {mo / mt:.2f}  (median of {args.repeats} x {inner} steps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
