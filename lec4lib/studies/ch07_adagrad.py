"""The experiments of :ref:`chapter 07 <ch07>` (Adagrad); the claim tests call the same functions.
"""

from __future__ import annotations

import numpy as np

from ..optim.adagrad import Adagrad
from ..optim.driver import run
from ..validation import check_int

__all__ = ["adagrad_rms_identity", "recorded_adagrad_run", "scale_invariance_gap"]


def recorded_adagrad_run(objective, lr: float, *, batch_size: int, steps: int, seed: int = 0,
                         eps: float = 1e-10) -> tuple[Adagrad, np.ndarray]:
    """Adagrad from ``w = 0`` on minibatches drawn with replacement, keeping every gradient.

    Each step draws ``batch_size`` indices with ``numpy.random.default_rng(seed)`` and takes
    the minibatch gradient there.

    Returns
    -------
    (optimizer, gradients)
        The optimizer after the run (its ``state["G"]`` holds the accumulated squares) and
        the ``steps`` gradients it was given, one row each.
    """
    steps = check_int("steps", steps)
    batch_size = check_int("batch_size", batch_size)
    rng = np.random.default_rng(seed)
    grads = []

    def minibatch_grad(w):
        g = objective.minibatch_grad(w, rng.integers(objective.n_samples, size=batch_size))
        grads.append(g.copy())
        return g

    opt = Adagrad(lr, eps=eps)
    run(opt, minibatch_grad, np.zeros(objective.n_features), steps)
    return opt, np.array(grads)


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
