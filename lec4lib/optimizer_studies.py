"""Experiments behind the momentum, Nesterov, Adagrad and Adam chapters (05–08).

Each function computes one result shown in a chapter; the claim tests call the same
function with the same seed. The optimizers are :mod:`lec4lib.optimizers`, the closed
forms :mod:`lec4lib.momentum_theory`, the objectives and data :mod:`lec4lib.objectives`
and :mod:`lec4lib.data`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .momentum_theory import heavy_ball_radius
from .optimizers import (Adagrad, Adam, HeavyBall, MomentumEMA, Nesterov, Optimizer, SGD,
                         make_optimizer, run)

__all__ = ["quadratic_grad", "momentum_forms_gap", "ema_of_gradients", "stability_boundary",
           "measured_rate", "rate_between", "steps_to_tolerance", "direction_variance",
           "simulate_noise_floor", "torch_trajectory",
           "adagrad_rms_identity", "scale_invariance_gap", "tuned_final_losses",
           "adam_step_ratio", "ulp_distance", "torch_kernel_rounding",
           "compare_optimizers", "ComparisonResult", "minimum_of"]


def _pos_int(name, x, minimum=1):
    if int(x) != x or x < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {x}")
    return int(x)


# --------------------------------------------------------------------- quadratics
def quadratic_grad(curvatures):
    """Gradient ``w ↦ λ ⊙ w`` of ``f(w) = ½ Σ λ_i w_i²`` (λ > 0).

    Examples
    --------
    >>> quadratic_grad([1.0, 2.0])(np.ones(2))
    array([1., 2.])
    """
    lam = np.asarray(curvatures, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or np.any(~np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError(f"curvatures must be a non-empty 1-D array of finite values > 0, got {lam}")
    return lambda w: lam * w


def stability_boundary(beta: float, curvature: float = 1.0, hi: float = 10.0) -> float:
    """Largest ``α`` with heavy-ball spectral radius ``< 1`` at ``β``, found by bisection.

    An independent numerical check of the closed form ``α = (2 + 2β)/λ``: it only
    evaluates :func:`lec4lib.momentum_theory.heavy_ball_radius` (root moduli).
    """
    lo, hi_ = 1e-12, float(hi) / curvature
    if heavy_ball_radius(hi_, beta, [curvature]) < 1:
        raise ValueError(f"hi={hi} is inside the stable region; increase it")
    for _ in range(200):
        mid = 0.5 * (lo + hi_)
        if heavy_ball_radius(mid, beta, [curvature]) < 1:
            lo = mid
        else:
            hi_ = mid
    return 0.5 * (lo + hi_)


def measured_rate(iterates: np.ndarray) -> float:
    """Per-step contraction over the second half of a run, ``(‖w_T‖/‖w_{T/2}‖)^{2/T}``.

    The second half avoids the transient; for a double root the norm behaves like
    ``t ρ^t`` and the estimate exceeds ρ by a factor of at most ``2^{2/T}``.
    """
    it = np.asarray(iterates, dtype=float)
    if it.ndim != 2 or it.shape[0] < 3:
        raise ValueError(f"iterates must have shape (T+1, d) with T >= 2, got {it.shape}")
    T = it.shape[0] - 1
    h = T // 2
    return float((np.linalg.norm(it[T]) / np.linalg.norm(it[h])) ** (1.0 / (T - h)))


def rate_between(norms, hi: float = 1e-2, lo: float = 1e-10) -> float:
    """Geometric rate of a decreasing sequence between two relative levels.

    With ``t₁`` the first index where ``norms ≤ hi·norms[0]`` and ``t₂`` the first where
    ``norms ≤ lo·norms[0]``, returns ``(norms[t₂]/norms[t₁])^{1/(t₂ − t₁)}``. Used with
    gradient norms, which need no reference minimiser.
    """
    n = np.asarray(norms, dtype=float)
    if not 0 < lo < hi:
        raise ValueError(f"need 0 < lo < hi, got lo={lo}, hi={hi}")
    t1 = np.nonzero(n <= hi * n[0])[0]
    t2 = np.nonzero(n <= lo * n[0])[0]
    if t1.size == 0 or t2.size == 0:
        raise ValueError("the sequence never reaches the requested levels; run longer")
    t1, t2 = int(t1[0]), int(t2[0])
    return float((n[t2] / n[t1]) ** (1.0 / (t2 - t1)))


def steps_to_tolerance(iterates: np.ndarray, tol: float) -> int:
    """First ``t`` with ``‖w_t‖ ≤ tol·‖w_0‖`` (``-1`` if never reached)."""
    it = np.asarray(iterates, dtype=float)
    n = np.linalg.norm(it.reshape(it.shape[0], -1), axis=1)
    hit = np.nonzero(n <= tol * n[0])[0]
    return int(hit[0]) if hit.size else -1


# --------------------------------------------------------------------- momentum forms
def momentum_forms_gap(grad_fn, w0, lr, beta: float, steps: int) -> float:
    """``max_t ‖·‖_∞`` gap between :class:`MomentumEMA` (step α_t) and :class:`HeavyBall`
    (step α_t(1 − β)) from the same start.

    ``lr`` is a float or a schedule ``α(t)``. With a constant α the two forms give the same
    iterates up to rounding; under a schedule they differ.
    """
    if callable(lr):
        lr_hb = lambda t: lr(t) * (1 - beta)  # noqa: E731
    else:
        lr_hb = lr * (1 - beta)
    a = run(MomentumEMA(lr, beta), grad_fn, w0, steps)
    b = run(HeavyBall(lr_hb, beta), grad_fn, w0, steps)
    return float(np.max(np.abs(a - b)))


def ema_of_gradients(grads: np.ndarray, beta: float) -> np.ndarray:
    """The velocity ``v_t`` that :class:`MomentumEMA` holds after consuming ``grads`` (rows)."""
    grads = np.asarray(grads, dtype=float)
    opt = MomentumEMA(lr=1.0, beta=beta)
    w = np.zeros(grads.shape[1:])
    out = np.empty_like(grads)
    for t, g in enumerate(grads):
        opt.update(w, g)
        out[t] = opt.state["v"]
    return out


# --------------------------------------------------------------------- stochastic momentum
def direction_variance(objective, w, beta: float, batch_size: int, steps: int = 100,
                       chains: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Total variance of the update direction, with and without momentum, at a fixed ``w``.

    ``chains`` independent streams of minibatch gradients (``batch_size`` indices drawn
    with replacement) at the fixed point ``w`` are fed to :class:`MomentumEMA`; after
    ``steps`` steps the direction ``v`` is compared with a single minibatch gradient.

    Returns
    -------
    (var_g, var_v)
        ``tr Cov(g)`` of one minibatch gradient and ``tr Cov(v_steps)`` across chains.
    """
    _pos_int("batch_size", batch_size)
    _pos_int("steps", steps)
    _pos_int("chains", chains, 2)
    rng = np.random.default_rng(seed)
    G = objective.per_sample_grads(w)                      # (N, d)
    N, d = G.shape
    opt = MomentumEMA(lr=1.0, beta=beta)
    dummy = np.zeros((chains, d))
    g = None
    for _ in range(int(steps)):
        idx = rng.integers(N, size=(chains, batch_size))
        g = G[idx].mean(axis=1)
        opt.update(dummy, g)
    v = opt.state["v"]
    return float(np.sum(np.var(g, axis=0, ddof=1))), float(np.sum(np.var(v, axis=0, ddof=1)))


def simulate_noise_floor(optimizer: Optimizer, curvature: float, sigma: float,
                         steps: int = 2000, burn_in: int = 1000, chains: int = 4000,
                         seed: int = 0) -> float:
    """Measured stationary ``E w²`` of an optimizer on ``f = ½λw²`` with Gaussian gradient noise.

    ``chains`` independent 1-D runs from ``w = 0`` are advanced together (the optimizers
    act per coordinate); ``E w²`` is averaged over chains and over the steps after
    ``burn_in``.
    """
    _pos_int("steps", steps, 2)
    if not 0 <= burn_in < steps:
        raise ValueError(f"burn_in must be in [0, steps), got {burn_in}")
    rng = np.random.default_rng(seed)
    w = np.zeros(int(chains))
    optimizer.reset()
    acc, n = 0.0, 0
    for t in range(int(steps)):
        optimizer.step(w, lambda u: curvature * u + sigma * rng.standard_normal(u.shape))
        if t >= burn_in:
            acc += float(np.mean(w * w))
            n += 1
    return acc / n


# --------------------------------------------------------------------- torch cross-checks
def torch_trajectory(optimizer: Optimizer, torch_factory, grad_fn, w0, steps: int,
                     dtype: str = "float64", torch_lr=None):
    """Run a lec4lib optimizer and a ``torch.optim`` optimizer on the same gradients.

    At every step the gradient is evaluated once, at the lec4lib optimizer's
    :meth:`~lec4lib.optimizers.Optimizer.gradient_point`, and handed to both, so the two
    runs see identical inputs and any difference comes from the update rules alone.

    Parameters
    ----------
    optimizer : Optimizer
    torch_factory : callable
        ``torch_factory(params)`` returns a ``torch.optim.Optimizer`` over ``params``.
    grad_fn : callable
        ``grad_fn(w)`` (numpy in, numpy out).
    w0 : array_like
    steps : int
    dtype : {"float64", "float32"}
    torch_lr : callable, optional
        ``torch_lr(t)`` sets torch's learning rate before its update number ``t = 0, 1, …``
        (a schedule); by default torch keeps the rate it was built with.

    Returns
    -------
    ours, lookahead, theirs : ndarray, shape (steps + 1, d)
        Our iterates, our gradient points ``gradient_point(w_t)`` after each step (the
        look-ahead points for Nesterov, else equal to ``ours``) and torch's parameters.
    """
    import torch

    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    steps = _pos_int("steps", steps, 0)
    w = np.array(w0, dtype=dtype)
    p = torch.tensor(np.array(w0, dtype=dtype), requires_grad=True)
    topt = torch_factory([p])
    optimizer.reset()
    ours = np.empty((steps + 1,) + w.shape, dtype=dtype)
    look = np.empty_like(ours)
    theirs = np.empty_like(ours)
    ours[0] = look[0] = theirs[0] = w
    for t in range(steps):
        g = np.asarray(grad_fn(optimizer.gradient_point(w)), dtype=dtype)
        optimizer.update(w, g)
        p.grad = torch.from_numpy(g.copy())
        if torch_lr is not None:
            for group in topt.param_groups:
                group["lr"] = float(torch_lr(t))
        topt.step()
        ours[t + 1] = w
        look[t + 1] = optimizer.gradient_point(w)
        theirs[t + 1] = p.detach().numpy()
    return ours, look, theirs


def ulp_distance(a, b) -> np.ndarray:
    """Distance in units in the last place between float arrays of the same dtype."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != b.dtype or a.dtype.kind != "f":
        raise ValueError(f"a and b must be float arrays of one dtype, got {a.dtype} and {b.dtype}")
    it = {4: np.int32, 8: np.int64}[a.dtype.itemsize]

    def ordered(x):
        i = x.view(it).astype(np.int64)
        return np.where(i < 0, np.iinfo(it).min - i, i)

    return np.abs(ordered(a) - ordered(b))


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

    n = _pos_int("n", n)
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


# --------------------------------------------------------------------- real-data problems
def minimum_of(objective, w0=None) -> tuple[np.ndarray, float]:
    """Minimiser and minimum of a smooth objective by scipy's L-BFGS (an independent reference)."""
    from scipy.optimize import minimize

    w0 = np.zeros(objective.n_features) if w0 is None else np.asarray(w0, dtype=float)
    res = minimize(objective.loss, w0, jac=objective.grad, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-12, "ftol": 1e-15})
    return res.x, float(res.fun)


def _sgd_run(objective, optimizer, batch_size, epochs, seed, w0=None):
    """Minibatch run (fresh permutation each epoch); returns the loss after every epoch."""
    rng = np.random.default_rng(seed)
    N = objective.n_samples
    w = np.zeros(objective.n_features) if w0 is None else np.array(w0, dtype=float)
    optimizer.reset()
    losses = [objective.loss(w)]
    for _ in range(int(epochs)):
        perm = rng.permutation(N)
        for s in range(0, N, batch_size):
            idx = perm[s:s + batch_size]
            optimizer.step(w, lambda u: objective._minibatch_grad_fast(u, idx))
            if not np.all(np.isfinite(w)):
                return np.array(losses + [np.inf] * (int(epochs) + 1 - len(losses)))
        losses.append(objective.loss(w))
    return np.array(losses)


def tuned_final_losses(objective, name: str, lrs, batch_size: int, epochs: int, seeds,
                       **hyper) -> tuple[float, np.ndarray]:
    """Tune the step size of one optimizer on a grid; return the best step and its curves.

    For each step size the optimizer runs ``epochs`` epochs of minibatch training from
    ``w = 0`` for every seed; the best step size minimises the mean final loss.

    Returns
    -------
    (best_lr, curves)
        ``curves`` has shape ``(len(seeds), epochs + 1)``: the loss after every epoch.
    """
    best = None
    for lr in lrs:
        curves = np.array([_sgd_run(objective, make_optimizer(name, lr=lr, **hyper),
                                    batch_size, epochs, s) for s in seeds])
        score = float(np.mean(curves[:, -1]))
        if not np.isfinite(score):
            continue
        if best is None or score < best[0]:
            best = (score, lr, curves)
    if best is None:
        raise ValueError(f"every step size in {list(lrs)} diverged for {name}")
    return best[1], best[2]


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

    ``f*`` comes from :func:`minimum_of` (scipy), independent of the optimizers compared.
    """
    hyper = hyper or {}
    _, f_star = minimum_of(objective)
    best_lr, curves = {}, {}
    for name, lrs in grid.items():
        best_lr[name], curves[name] = tuned_final_losses(
            objective, name, lrs, batch_size, epochs, seeds, **hyper.get(name, {}))
    return ComparisonResult(list(grid), best_lr, curves, f_star)


# --------------------------------------------------------------------- Adagrad
def adagrad_rms_identity(grads: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Adagrad's steps two ways, for a sequence of gradients (rows), with ``ε`` negligible.

    Returns
    -------
    (steps_adagrad, steps_rms)
        ``w_{t} − w_{t+1}`` from :class:`Adagrad` (``ε = 1e-300``), and the same step written
        as ``(η/√t) · g_t / RMS_t`` with ``RMS_t = √(mean_{t'≤t} g_{t'}²)`` computed directly
        from the gradients.
    """
    grads = np.asarray(grads, dtype=float)
    opt = Adagrad(lr=eta, eps=1e-300)
    w = np.zeros(grads.shape[1:])
    ours = np.empty_like(grads)
    for t, g in enumerate(grads):
        w[...] = 0.0                      # start each update at 0: the step is −w exactly
        opt.update(w, g)
        ours[t] = -w
    T = np.arange(1, grads.shape[0] + 1).reshape((-1,) + (1,) * (grads.ndim - 1))
    rms = np.sqrt(np.cumsum(grads ** 2, axis=0) / T)
    return ours, (eta / np.sqrt(T)) * grads / rms


def scale_invariance_gap(grads: np.ndarray, eta: float, c: float) -> tuple[float, float]:
    """How the first-step-normalised updates change when every gradient is multiplied by ``c``.

    Returns
    -------
    (adagrad, slide_typo)
        ``max |Δ(c·g) / Δ(g)|`` for Adagrad's ``η g/√G`` and for the slide's typo
        ``η g /√(G²)`` (= ``η g/G``). Adagrad gives 1 (scale-free); the typo gives ``1/c``.
    """
    grads = np.asarray(grads, dtype=float)
    G1 = np.cumsum(grads ** 2, axis=0)
    Gc = np.cumsum((c * grads) ** 2, axis=0)
    ours = adagrad_rms_identity(grads, eta)[0]
    ours_c = adagrad_rms_identity(c * grads, eta)[0]
    typo = eta * grads / G1
    typo_c = eta * (c * grads) / Gc
    mask = np.abs(grads) > 0
    return (float(np.max(np.abs(ours_c[mask] / ours[mask]))),
            float(np.max(np.abs(typo_c[mask] / typo[mask]))))


# --------------------------------------------------------------------- Adam
def adam_step_ratio(beta1: float, beta2: float, steps: int, g: float = 1.0) -> np.ndarray:
    """Step length of Adam without bias correction over Adam with it, under a constant gradient.

    Both optimizers see the gradient ``g`` at every step (ε negligible, step α = 1); the
    ratio at step ``t`` is ``(1 − β₁ᵗ)/√(1 − β₂ᵗ)``, i.e. ``(1 − β₁)/√(1 − β₂)`` at ``t = 1``.
    """
    steps = _pos_int("steps", steps)
    a = Adam(lr=1.0, beta1=beta1, beta2=beta2, eps=1e-300)
    b = Adam(lr=1.0, beta1=beta1, beta2=beta2, eps=1e-300, bias_correction=False)
    wa, wb = np.zeros(1), np.zeros(1)
    out = np.empty(steps)
    for t in range(steps):
        da, db = wa.copy(), wb.copy()
        a.update(wa, np.array([g]))
        b.update(wb, np.array([g]))
        out[t] = (db - wb)[0] / (da - wa)[0]
    return out
