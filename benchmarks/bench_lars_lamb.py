"""Step time of lec4lib's LARS and LAMB against timm's Lars and Lamb (and torch's SGD).

All optimizers step over the parameters of AlexNet (60,965,224 float32 numbers in 16
tensors, ``lec4lib.nets.alexnet.AlexNet``) with fixed random gradients, under the mapped
settings of ``tests/unit/test_lars_lamb_timm.py``. Timings are interleaved (round-robin),
after warm-up, and the median per optimizer is reported. Prints one ratio line per pair;
target: LARS and LAMB step time <= 1.0x timm's (timm's default on CPU is its per-tensor
path; its foreach path is measured too). Never asserts.

Usage: python benchmarks/bench_lars_lamb.py [--repeats N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from lec4lib.nets.alexnet import AlexNet
from lec4lib.optim.lamb import LAMB
from lec4lib.optim.lars import LARS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the test-only timm loader
from tests.timm_reference import load_timm_optimizers  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=9, help="timed steps per optimizer (default 9)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    Lars, Lamb = load_timm_optimizers()
    device = torch.device(args.device)
    template = [t.detach().to(device) for t in AlexNet(seed=0).parameters()]
    gen = torch.Generator().manual_seed(1)
    grads = [(torch.randn(t.shape, generator=gen) * 1e-2).to(device) for t in template]

    wd, mom, tc = 5e-4, 0.9, 0.001
    makers = {
        "lec4lib LARS": lambda ps: LARS(ps, lr=0.1, momentum=mom, weight_decay=wd, trust_coefficient=tc),
        "timm Lars": lambda ps: Lars(ps, lr=0.1, momentum=mom, weight_decay=wd, trust_coeff=tc, always_adapt=True),
        "timm Lars foreach": lambda ps: Lars(ps, lr=0.1, momentum=mom, weight_decay=wd, trust_coeff=tc, always_adapt=True, foreach=True),
        "torch SGD foreach": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=mom, weight_decay=wd, foreach=True),
        "lec4lib LAMB": lambda ps: LAMB(ps, lr=1e-3, weight_decay=0.01),
        "timm Lamb": lambda ps: Lamb(ps, lr=1e-3, weight_decay=0.01, max_grad_norm=None, always_adapt=True),
        "timm Lamb foreach": lambda ps: Lamb(ps, lr=1e-3, weight_decay=0.01, max_grad_norm=None, always_adapt=True, foreach=True),
    }
    opts = {}
    for name, make in makers.items():
        ps = [torch.nn.Parameter(t.clone()) for t in template]
        for q, g in zip(ps, grads):
            q.grad = g
        opts[name] = make(ps)
        for _ in range(2):   # warm-up; creates the momentum / moment buffers
            opts[name].step()
    times = {name: [] for name in opts}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(args.repeats):
        for name, opt in opts.items():
            sync()
            t0 = time.perf_counter()
            opt.step()
            sync()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    n = sum(t.numel() for t in template)
    print(f"AlexNet parameters: {n:,} in {len(template)} tensors; device {device}; "
          f"torch {torch.__version__}; {torch.get_num_threads()} threads; median of {args.repeats}")
    for name, t in med.items():
        print(f"  {name:20s} {1e3 * t:8.1f} ms/step")
    for ours, peers in (("lec4lib LARS", ("timm Lars", "timm Lars foreach", "torch SGD foreach")),
                        ("lec4lib LAMB", ("timm Lamb", "timm Lamb foreach", "torch SGD foreach"))):
        for peer in peers:
            target = "  (target <= 1.0x)" if peer.startswith("timm") else "  (reported)"
            print(f"ratio {ours} / {peer}: {med[ours] / med[peer]:.2f}x{target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
