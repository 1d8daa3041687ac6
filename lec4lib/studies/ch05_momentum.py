"""The experiments of chapter 05 (momentum); the claim tests call the same functions.
"""

from __future__ import annotations

import numpy as np

from ..optim.driver import run
from ..optim.momentum import HeavyBall, MomentumEMA
from ..optim.optimizer import Optimizer
from ..theory.momentum import heavy_ball_radius
from ..validation import check_int

__all__ = ["momentum_forms_gap", "ema_of_gradients", "stability_boundary", "direction_variance"]


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
    opt = MomentumEMA(lr=1.0, momentum=beta)
    w = np.zeros(grads.shape[1:])
    out = np.empty_like(grads)
    for t, g in enumerate(grads):
        opt.update(w, g)
        out[t] = opt.state["v"]
    return out


def stability_boundary(beta: float, curvature: float = 1.0, hi: float = 10.0) -> float:
    """Largest ``α`` with heavy-ball spectral radius ``< 1`` at ``β``, found by bisection.

    An independent numerical check of the closed form ``α = (2 + 2β)/λ``: it only
    evaluates :func:`lec4lib.theory.momentum.heavy_ball_radius` (root moduli).
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
    batch_size = check_int("batch_size", batch_size)
    steps = check_int("steps", steps)
    chains = check_int("chains", chains, 2)
    rng = np.random.default_rng(seed)
    G = objective.per_sample_grads(w)                      # (N, d)
    N, d = G.shape
    opt = MomentumEMA(lr=1.0, momentum=beta)
    dummy = np.zeros((chains, d))
    g = None
    for _ in range(int(steps)):
        idx = rng.integers(N, size=(chains, batch_size))
        g = G[idx].mean(axis=1)
        opt.update(dummy, g)
    v = opt.state["v"]
    return float(np.sum(np.var(g, axis=0, ddof=1))), float(np.sum(np.var(v, axis=0, ddof=1)))
