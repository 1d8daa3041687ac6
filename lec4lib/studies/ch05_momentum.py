"""The experiments of :ref:`chapter 05 <ch05>` (momentum); the claim tests call the same functions.

The step size is η (the slides write α; see the notation page).
"""

from __future__ import annotations

import numpy as np

from ..optim.driver import run
from ..optim.momentum import HeavyBall, MomentumEMA
from ..optim.optimizer import Optimizer
from ..optim.sgd import SGD
from ..theory.momentum import ema_momentum_radius, heavy_ball_radius
from ..validation import check_int

__all__ = ["momentum_forms_gap", "ema_of_gradients", "stability_boundary", "direction_variance",
           "trajectory_direction_noise"]


def momentum_forms_gap(grad_fn, w0, lr, beta: float, steps: int) -> float:
    """``max_t ‖·‖_∞`` gap between :class:`MomentumEMA` (step η_t) and :class:`HeavyBall`
    (step η_t(1 − β)) from the same start.

    ``lr`` is a float or a schedule ``η(t)``. With a constant η the two forms give the same
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


def stability_boundary(beta: float, curvature: float = 1.0, hi: float = 10.0,
                       form: str = "velocity") -> float:
    """Largest ``η`` with momentum spectral radius ``< 1`` at ``β``, found by bisection.

    An independent numerical check of the closed forms ``η = (2 + 2β)/λ`` (``form="velocity"``,
    heavy ball) and ``η = 2(1 + β)/((1 − β)λ)`` (``form="ema"``, the slide's moving average):
    it only evaluates :func:`lec4lib.theory.momentum.heavy_ball_radius` or
    :func:`~lec4lib.theory.momentum.ema_momentum_radius` (root moduli).
    """
    if form not in ("velocity", "ema"):
        raise ValueError(f"form must be 'ema' or 'velocity', got {form!r}")
    radius = heavy_ball_radius if form == "velocity" else ema_momentum_radius
    lo, hi_ = 1e-12, float(hi) / curvature
    if radius(hi_, beta, [curvature]) < 1:
        raise ValueError(f"hi={hi} is inside the stable region; increase it")
    for _ in range(200):
        mid = 0.5 * (lo + hi_)
        if radius(mid, beta, [curvature]) < 1:
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


def _batch_grads(objective, W, idx):
    """Minibatch gradients of a linear-model objective at many points at once.

    ``W`` is ``(chains, d)``, ``idx`` is ``(chains, b)``; row ``r`` of the result is
    ``objective.minibatch_grad(W[r], idx[r])``. Uses the objective's ``_dloss`` (the derivative
    of the per-example loss in the margin), so it holds for every ``_FiniteSum`` objective.
    """
    Xb = objective.X[idx]                                   # (chains, b, d)
    r = objective._dloss(np.matmul(Xb, W[:, :, None])[:, :, 0], objective.y[idx])
    return np.matmul(r[:, None, :], Xb)[:, 0, :] / idx.shape[1] + objective.l2 * W


def _full_grads(objective, W):
    """``objective.grad(W[r])`` for every row of ``W``."""
    r = objective._dloss(W @ objective.X.T, objective.y[None, :])
    return r @ objective.X / objective.n_samples + objective.l2 * W


def trajectory_direction_noise(objective, w0, lr: float, beta: float, batch_size: int, steps: int,
                               chains: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    """The noise of the update direction along training runs, SGD against moving-average momentum.

    ``chains`` independent runs of :class:`~lec4lib.optim.sgd.SGD` (step ``η``) and of
    :class:`~lec4lib.optim.momentum.MomentumEMA` (step ``η``, momentum ``β``; the same
    effective step ``η``, since in the heavy-ball form it is ``η(1 − β)/(1 − β)``) start at
    ``w0``; every step each run draws its own minibatch (``batch_size`` indices with
    replacement). Both methods see the same index draws. At every step ``t`` it records, over
    the runs, for the direction ``d_t`` that is applied (``g_t`` for SGD, ``v_t`` for momentum):

    * ``var``: ``tr Cov(d_t)`` across the runs (the spread of the step direction);
    * ``err``: the mean of ``‖d_t − ∇f(w_t)‖²``, the error of the direction against the full
      gradient at the run's own current point (noise plus, for momentum, staleness);
    * ``noise``: for momentum only, the mean of ``‖v_t − v̄_t‖²`` where ``v̄_t`` is the same
      moving average of the *full* gradients at the run's own past points (the sampling
      noise left in ``v_t``; for SGD this is ``err``).

    Returns
    -------
    dict
        ``"sgd_var"``, ``"sgd_err"``, ``"mom_var"``, ``"mom_err"``, ``"mom_noise"``: arrays of
        shape ``(steps,)``, entry ``t`` for the ``(t + 1)``-th update.
    """
    batch_size = check_int("batch_size", batch_size)
    steps = check_int("steps", steps)
    chains = check_int("chains", chains, 2)
    d = objective.n_features
    W0 = np.tile(np.asarray(w0, dtype=float), (chains, 1))
    rng = np.random.default_rng(seed)
    draws = [rng.integers(objective.n_samples, size=(chains, batch_size)) for _ in range(steps)]
    out = {}
    sgd_opt, mom_opt = SGD(lr), MomentumEMA(lr, beta)
    for name, opt in (("sgd", sgd_opt), ("mom", mom_opt)):
        W = W0.copy()
        opt.reset()
        v_full = np.zeros((chains, d))
        var, err, noise = np.empty(steps), np.empty(steps), np.empty(steps)
        for t, idx in enumerate(draws):
            g = _batch_grads(objective, W, idx)
            full = _full_grads(objective, W)
            opt.update(W, g)
            direction = g if name == "sgd" else opt.state["v"]
            v_full = beta * v_full + (1 - beta) * full
            var[t] = np.sum(np.var(direction, axis=0, ddof=1))
            err[t] = np.mean(np.sum((direction - full) ** 2, axis=1))
            noise[t] = np.mean(np.sum((direction - (full if name == "sgd" else v_full)) ** 2, axis=1))
        out[f"{name}_var"], out[f"{name}_err"] = var, err
        if name == "mom":
            out["mom_noise"] = noise
    return out
