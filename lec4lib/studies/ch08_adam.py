"""The experiments of :ref:`chapter 08 <ch08>` (Adam); the claim tests call the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..optim.adam import Adam
from ..optim.driver import minibatch, tuned_final_losses
from ..problems.objectives import minimum_of
from ..validation import check_int

__all__ = ["adam_step_ratio", "eps_sweep", "torch_kernel_rounding", "ComparisonResult",
           "compare_optimizers"]


def adam_step_ratio(beta1: float, beta2: float, steps: int, g: float = 1.0) -> np.ndarray:
    """Step length of Adam without bias correction over Adam with it, under a constant gradient.

    Both optimizers see the gradient ``g`` at every step (ε negligible, step α = 1); the
    ratio at step ``t`` is ``(1 − β₁ᵗ)/√(1 − β₂ᵗ)``, i.e. ``(1 − β₁)/√(1 − β₂)`` at ``t = 1``.
    """
    steps = check_int("steps", steps)
    a = Adam(lr=1.0, betas=(beta1, beta2), eps=1e-300)
    b = Adam(lr=1.0, betas=(beta1, beta2), eps=1e-300, bias_correction=False)
    wa, wb = np.zeros(1), np.zeros(1)
    out = np.empty(steps)
    for t in range(steps):
        da, db = wa.copy(), wb.copy()
        a.update(wa, np.array([g]))
        b.update(wb, np.array([g]))
        out[t] = (db - wb)[0] / (da - wa)[0]
    return out


def eps_sweep(objective, lr: float, epsilons, batch_size: int = 16, epochs: int = 30,
              seeds=(0, 1, 2, 3, 4)) -> dict:
    """Adam with one step size and several ``ε``: final losses, and where ``ε`` dominates.

    For each ``ε`` Adam (torch's betas) runs ``epochs`` epochs of minibatch training from
    ``w = 0`` for every seed. Returns, per ``ε`` (lists in the order of ``epsilons``):

    * ``final``: the mean final loss over the seeds;
    * ``eps_dominates``: the fraction of coordinates where ``ε > √ŝ_T`` at the end of the
      first seed's run (there the step is about ``η m̂/ε``, SGD-like, not normalised).
    """
    epochs = check_int("epochs", epochs)
    per_epoch = -(-objective.n_samples // batch_size)
    final, dominated = [], []
    for eps in epsilons:
        losses = []
        for k, seed in enumerate(seeds):
            opt = Adam(lr, eps=eps)
            res = minibatch(objective, opt, batch_size=batch_size, epochs=epochs, seed=seed,
                            record_every=per_epoch)
            losses.append(res.history.loss[-1])
            if k == 0:
                s_hat = opt.state["v"] / (1.0 - opt.betas[1] ** opt.t)
                dominated.append(float(np.mean(np.sqrt(s_hat) < eps)))
        final.append(float(np.mean(losses)))
    return {"final": final, "eps_dominates": dominated}


def torch_kernel_rounding(n: int = 20000, seed: int = 0) -> dict:
    """Why a numpy optimizer cannot match torch's CPU kernels bit for bit everywhere.

    Measures, on ``n`` random float64 values:

    * ``sqrt_numpy_correct``: fraction of ``np.sqrt`` results equal to the correctly
      rounded square root (checked with exact integer arithmetic);
    * ``sqrt_torch_correct``: the same for ``torch.sqrt``;
    * ``add_alpha_fused``: fraction of ``torch.add(a, b, alpha=c)`` results equal to the
      once-rounded ``a + c·b`` (a fused multiply-add, computed exactly with fractions);
    * ``add_alpha_unfused``: fraction equal to numpy's twice-rounded ``a + c*b``;
    * ``numpy_unfused_exact``: fraction of numpy's ``a + c*b`` equal to the once-rounded value.
    """
    from fractions import Fraction
    from math import isqrt

    import torch

    n = check_int("n", n)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, size=n)

    def correct_sqrt(v: float) -> float:
        # v = m·2^e exactly; scale to an integer, take the integer square root with
        # enough extra bits, and round to nearest with the remainder deciding ties.
        fr = Fraction(v)
        num, den = fr.numerator, fr.denominator          # den is a power of two
        shift = 2 * 60
        s = isqrt((num << shift) // den)                 # floor(√v · 2^60)
        lo = Fraction(s, 1 << 60)
        # candidates near lo: pick the double nearest to the exact root
        cands = [np.nextafter(float(lo), 0), float(lo), np.nextafter(float(lo), 4)]
        best = min(cands, key=lambda c: abs(Fraction(c) ** 2 - fr))
        return float(best)

    exact = np.array([correct_sqrt(float(v)) for v in x])
    ns = np.sqrt(x)
    ts = torch.from_numpy(x).sqrt().numpy()
    a, b = rng.normal(size=(2, n))
    c = -0.37
    tsum = torch.from_numpy(a).add(torch.from_numpy(b), alpha=c).numpy()
    fused = np.array([float(Fraction(ai) + Fraction(c) * Fraction(bi)) for ai, bi in zip(a, b)])
    return {"sqrt_numpy_correct": float(np.mean(ns == exact)),
            "sqrt_torch_correct": float(np.mean(ts == exact)),
            "add_alpha_fused": float(np.mean(tsum == fused)),
            "add_alpha_unfused": float(np.mean(tsum == a + c * b)),
            "numpy_unfused_exact": float(np.mean(a + c * b == fused))}


@dataclass
class ComparisonResult:
    """Result of :func:`compare_optimizers`: per optimizer, tuned step and loss curves."""

    names: list
    best_lr: dict
    curves: dict          # name -> (n_seeds, epochs + 1) losses
    f_star: float

    def final_gap(self, name: str) -> np.ndarray:
        """``f(w_final) − f*`` for every seed."""
        return self.curves[name][:, -1] - self.f_star


def compare_optimizers(objective, grid: dict, batch_size: int = 16, epochs: int = 20,
                       seeds=(0, 1, 2, 3, 4), hyper: dict | None = None) -> ComparisonResult:
    """Every optimizer on one problem, each with its step size tuned on ``grid[name]``.

    ``f*`` comes from :func:`~lec4lib.problems.objectives.minimum_of` (scipy), independent of the optimizers compared.
    """
    hyper = hyper or {}
    _, f_star = minimum_of(objective)
    best_lr, curves = {}, {}
    for name, lrs in grid.items():
        best_lr[name], curves[name] = tuned_final_losses(
            objective, name, lrs, batch_size, epochs, seeds, **hyper.get(name, {}))
    return ComparisonResult(list(grid), best_lr, curves, f_star)
