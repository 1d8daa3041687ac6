"""One full logistic-regression gradient pass against numpy's copy bandwidth over the same matrix.

The full gradient ``∇f(w) = (1/N) Xᵀ r(Xw) + λw`` must read every entry of ``X`` at least
once, so its speed is bounded by memory bandwidth. The peer, measured in the same run on
the same matrix, is ``np.copyto(dst, X)`` (read X, write a copy). Both are expressed as
bytes of ``X`` processed per second (``X.nbytes / time``); the ratio line prints
``gradient / copy`` (target >= 0.80, i.e. the gradient is at least 80% as fast as copying
the matrix). lec4lib's gradient is the Numba kernel of ``lec4lib.problems.kernels``, which uses each
row twice while it is in L1 cache and so reads ``X`` from memory once. Also printed for
reference: lec4lib's NumPy fallback (``X`` in cache-sized row blocks, used when Numba is
missing) and the naive two-pass gradient ``Xᵀ r(Xw)``, which reads ``X`` from memory twice.

BLAS is limited to one thread (the copy is single-threaded in numpy, and so is the kernel),
so the comparison is per core. Never asserts (benchmarks/README.md).

Then the two timings the claim tests used to assert and now only count (tests/claims/
test_01 and test_03 assert the rows each gradient reads): chapter 01's cost of a full and a
minibatch gradient as N grows (``studies.ch01_stochastic_gradient.time_gradients``, the
chapter's sizes), printed as the fitted log-log slopes (expected: about 1 and about 0) and
the ratio full / minibatch at the largest N; and chapter 03's GD step against an SGD step
(batch 32) on the digits problem, as ``ratio = GD / SGD`` (the work ratio N/|B| printed
beside it).

Usage::

    python benchmarks/bench_full_gradient.py [--n 200000] [--d 100] [--repeats 15] [--no-scaling]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from lec4lib.problems import kernels
from lec4lib.problems.datasets import make_logistic_data
from lec4lib.problems.objectives import LogisticRegression, sigmoid


def interleaved_medians(fns, repeats: int):
    """Median time of each function, timed in turn (a, b, c, a, b, c, ...) so that all of
    them see the same machine load; one warm-up call each first."""
    for fn in fns:
        fn()
    ts = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in ts]


L2 = 1e-4


def measure(n: int, d: int, repeats: int, with_naive: bool = False):
    """Median seconds of the copy, lec4lib's gradient, its NumPy fallback (and the naive
    two-pass gradient) on one seeded ``n x d`` problem, after checking that the gradients agree."""
    X, y, _ = make_logistic_data(n, d, seed=0)
    obj = LogisticRegression(X, y, l2=L2)
    w = np.random.default_rng(1).standard_normal(d) * 0.1
    dst = np.empty_like(X)

    def blocked():
        return obj._blocked_grad_sum(w, obj._block_rows()) / n + L2 * w

    def naive():
        r = -y * sigmoid(-y * (X @ w))
        return r @ X / n + L2 * w

    ref = naive()  # same result (sanity, not a timing)
    for g in (obj.grad(w), blocked()):
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-14)
    fns = [lambda: np.copyto(dst, X), lambda: obj.grad(w), blocked] + ([naive] if with_naive else [])
    with threadpool_limits(limits=1):
        return interleaved_medians(fns, repeats)


def cost_scaling(repeats: int) -> None:
    """Chapter 01's cost slopes and chapter 03's GD/SGD step ratio (printed, never asserted)."""
    from lec4lib.problems.datasets import load_digits_pm1
    from lec4lib.studies.ch01_stochastic_gradient import time_gradients
    from lec4lib.theory.measure import loglog_slope

    ns = 2 ** np.arange(17, 22)
    t_full, t_mini = time_gradients(ns, n_features=16, batch_size=64, repeats=repeats, seed=0)
    print(f"chapter 01, d = 16, N = 2^17..2^21 (fastest of {repeats}): full-gradient slope "
          f"{loglog_slope(ns[1:], t_full[1:]):.2f} (four larger sizes; expected ~1), minibatch-64 slope "
          f"{loglog_slope(ns, t_mini):.2f} (expected ~0), ratio full / minibatch at N = 2^21 "
          f"{t_full[-1] / t_mini[-1]:.0f} (work ratio {ns[-1] // 64})")
    X, y = load_digits_pm1(positive=[0, 1, 2, 3, 4])
    obj = LogisticRegression(X, y, l2=0.1)
    w, rng = np.zeros(obj.n_features), np.random.default_rng(0)
    idx = [rng.permutation(obj.n_samples)[:32] for _ in range(50)]
    it = iter(range(10 ** 9))
    with threadpool_limits(limits=1):
        t_gd, t_sgd = interleaved_medians(
            [lambda: w - 0.1 * obj.grad(w),
             lambda: w - 0.1 * obj.minibatch_grad(w, idx[next(it) % 50], check=False)], 50 * repeats)
    print(f"chapter 03, digits N = {obj.n_samples}, |B| = 32, median of {50 * repeats}: GD step "
          f"{t_gd * 1e6:.1f} us, SGD step {t_sgd * 1e6:.1f} us, ratio GD / SGD {t_gd / t_sgd:.2f} "
          f"(work ratio {obj.n_samples / 32:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--widths", default="8,16,32,200",
                    help="other numbers of features, each on a matrix of the same size in bytes "
                         "(the ratio depends on d: one exp per row, d multiply-adds twice per row); "
                         "'' for none")
    ap.add_argument("--no-scaling", action="store_true",
                    help="skip chapter 01's cost slopes and chapter 03's GD / SGD step ratio")
    args = ap.parse_args()
    if not kernels.available():
        raise SystemExit("numba is not installed: lec4lib's full gradient would be the NumPy fallback")

    nbytes = args.n * args.d * 8
    gb = nbytes / 1e9
    t_copy, t_grad, t_blocked, t_naive = measure(args.n, args.d, args.repeats, with_naive=True)
    print(f"matrix {args.n} x {args.d} float64 = {nbytes / 2**20:.0f} MiB; median of {args.repeats} "
          f"interleaved runs, 1 BLAS thread")
    print(f"numpy copy:                {t_copy * 1e3:7.2f} ms  {gb / t_copy:6.2f} GB/s of X")
    print(f"lec4lib full gradient:     {t_grad * 1e3:7.2f} ms  {gb / t_grad:6.2f} GB/s of X  (numba kernel)")
    print(f"lec4lib NumPy fallback:    {t_blocked * 1e3:7.2f} ms  {gb / t_blocked:6.2f} GB/s of X  "
          f"(blocks of {LogisticRegression.BLOCK_BYTES // 1024} KiB)")
    print(f"naive two-pass gradient:   {t_naive * 1e3:7.2f} ms  {gb / t_naive:6.2f} GB/s of X")
    print(f"full gradient vs copy bandwidth: lec4lib {gb / t_grad:.2f} GB/s, numpy copy {gb / t_copy:.2f} GB/s, "
          f"ratio {t_copy / t_grad:.2f} (target >= 0.80)")
    print(f"NumPy fallback vs copy bandwidth: ratio {t_copy / t_blocked:.2f}")
    print(f"naive two-pass vs copy bandwidth: ratio {t_copy / t_naive:.2f}")

    widths = [int(v) for v in args.widths.split(",") if v.strip()]
    if widths:
        print(f"other widths, same {nbytes / 2**20:.0f} MiB (lec4lib gradient / copy bandwidth; "
              "NumPy fallback in brackets):")
    for d in widths:
        n = nbytes // (8 * d)
        t_copy, t_grad, t_blocked = measure(n, d, args.repeats)
        print(f"  {n} x {d}: ratio {t_copy / t_grad:.2f}  ({t_copy / t_blocked:.2f})")
    if not args.no_scaling:
        cost_scaling(args.repeats)


if __name__ == "__main__":
    main()
