"""Minibatch SGD and full-batch gradient descent in numpy, with schedules and a recorded history.

:func:`sgd` is the slides' algorithm: for ``t = 0, 1, …`` sample a batch ``B`` and update
``w ← w − η_t (1/|B|) Σ_{n∈B} ∇f_n(w)``. Batches are drawn in one of three ways:

* ``"shuffle"`` (default): a fresh random permutation each epoch, cut into consecutive
  batches (every sample used once per epoch; the last batch of an epoch may be smaller);
* ``"subset"``: each step an independent subset of ``batch_size`` distinct indices;
* ``"replace"``: each step ``batch_size`` indices drawn independently with replacement.

The history records, every ``record_every`` steps, the objective ``f(w)``, the distance
``‖w − w*‖`` when ``w_star`` is given, the epochs done (samples used / N), the step size and
the wall time spent *in the updates* (evaluating the loss for the record is not timed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..validation import check_int, check_number
from . import make_optimizer
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["History", "OptimResult", "minibatch", "sgd", "gd", "SAMPLING", "run", "tuned_final_losses"]

SAMPLING = ("shuffle", "subset", "replace")


@dataclass
class History:
    """What an optimisation run recorded (one entry per record point).

    Attributes
    ----------
    step : ndarray of int
        Updates done.
    epoch : ndarray of float
        Samples processed divided by ``N``.
    loss : ndarray of float
        Objective ``f(w)``.
    dist : ndarray of float
        ``‖w − w*‖`` (NaN when no ``w_star`` was given).
    time : ndarray of float
        Seconds spent in the updates so far.
    lr : ndarray of float
        Step size of the last update before the record (NaN at step 0).
    """

    step: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    epoch: np.ndarray = field(default_factory=lambda: np.array([]))
    loss: np.ndarray = field(default_factory=lambda: np.array([]))
    dist: np.ndarray = field(default_factory=lambda: np.array([]))
    time: np.ndarray = field(default_factory=lambda: np.array([]))
    lr: np.ndarray = field(default_factory=lambda: np.array([]))


@dataclass
class OptimResult:
    """Result of :func:`sgd` or :func:`gd`.

    Attributes
    ----------
    w : ndarray, shape (d,)
        Final iterate.
    history : History
    n_steps : int
        Updates done.
    w_avg : ndarray or None
        Average of the iterates ``w_t``, ``max(average_from, 1) <= t <= T`` (only with
        ``average_from``; Polyak–Ruppert averaging).
    """

    w: np.ndarray
    history: History
    n_steps: int
    w_avg: np.ndarray | None = None


class _Recorder:
    def __init__(self, objective, w_star):
        self.obj = objective
        self.w_star = None if w_star is None else np.asarray(w_star, dtype=float)
        if self.w_star is not None and self.w_star.shape != (objective.n_features,):
            raise ValueError(f"w_star must have shape ({objective.n_features},), got {self.w_star.shape}")
        self.rows = []

    def __call__(self, step, epoch, w, elapsed, lr):
        loss = self.obj.loss(w)
        dist = np.nan if self.w_star is None else float(np.linalg.norm(w - self.w_star))
        self.rows.append((step, epoch, loss, dist, elapsed, lr))
        return loss

    def history(self) -> History:
        a = list(zip(*self.rows))
        return History(step=np.array(a[0], dtype=int), epoch=np.array(a[1], dtype=float),
                       loss=np.array(a[2]), dist=np.array(a[3]), time=np.array(a[4]), lr=np.array(a[5]))


def _check_common(objective, w0):
    for attr in ("n_samples", "n_features", "loss", "grad", "minibatch_grad"):
        if not hasattr(objective, attr):
            raise ValueError(f"objective must provide {attr} (e.g. lec4lib.problems.objectives.LogisticRegression)")
    d = objective.n_features
    w = np.zeros(d) if w0 is None else np.array(w0, dtype=float)
    if w.shape != (d,):
        raise ValueError(f"w0 must have shape ({d},), got {w.shape}")
    return w


def _steps_from(n_steps, epochs, steps_per_epoch):
    if (n_steps is None) == (epochs is None):
        raise ValueError("give exactly one of n_steps and epochs")
    if n_steps is not None:
        return check_int("n_steps", n_steps, 0)
    epochs = check_number(epochs, "epochs", 0.0)
    return int(round(epochs * steps_per_epoch))


def minibatch(objective, optimizer: Optimizer, w0=None, *, batch_size: int | None = 1,
              n_steps: int | None = None, epochs: float | None = None, sampling: str = "shuffle",
              seed: int = 0, w_star=None, record_every: int | None = None,
              target_loss: float | None = None, average_from: int | None = None) -> OptimResult:
    """Run any numpy optimizer on minibatch gradients of a finite sum: the one training loop.

    For ``t = 0, 1, …`` it draws a batch ``B`` (module docstring) and calls
    ``optimizer.step(w, g)`` with ``g(u) = (1/|B|) Σ_{n∈B} ∇f_n(u)``; with
    ``batch_size=None`` every step uses the full gradient ``∇f`` instead (each step is then
    one epoch). The optimizer is reset first; ``w`` is a copy of ``w0``, updated in place.

    Parameters
    ----------
    objective : lec4lib.problems.objectives.LogisticRegression or LeastSquares
        A finite sum with ``loss``, ``grad`` and ``minibatch_grad``.
    optimizer : lec4lib.optim.optimizer.Optimizer
        Any numpy optimizer of :mod:`lec4lib.optim` (its step size may be a schedule).
    w0 : array_like, shape (d,), optional
        Start; zeros when omitted.
    batch_size : int or None, default 1
        ``|B|`` in ``1..N``; ``None`` for full-batch steps.
    n_steps, epochs : int or float
        Length of the run; give exactly one (``epochs`` counts ``N/|B|`` steps each, rounded
        up per epoch).
    sampling : {"shuffle", "subset", "replace"}
        How batches are drawn (module docstring).
    seed : int
        Seed of ``numpy.random.default_rng`` for the batches.
    w_star : array_like, optional
        The minimiser, to record ``‖w − w*‖``.
    record_every : int, optional
        Record every this many steps (``>= 1``); by default about 50 records per run.
    target_loss : float, optional
        Stop at the first record where ``f(w) <= target_loss``.
    average_from : int, optional
        Also return the average of the iterates ``w_t`` for ``max(average_from, 1) <= t <= T``
        (the start ``w_0`` is never included).

    Returns
    -------
    OptimResult
        The run stops early at the first record whose loss is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from lec4lib.optim.momentum import HeavyBall
    >>> from lec4lib.problems.objectives import LeastSquares
    >>> obj = LeastSquares(np.eye(4), np.ones(4))
    >>> res = minibatch(obj, HeavyBall(lr=0.5, momentum=0.5), batch_size=2, n_steps=200)
    >>> bool(np.allclose(res.w, obj.solve()))
    True
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be a lec4lib Optimizer, got {type(optimizer).__name__}")
    w = _check_common(objective, w0)
    N = objective.n_samples
    full = batch_size is None
    if not full:
        b = check_int("batch_size", batch_size, 1, N)
    if sampling not in SAMPLING:
        raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}")
    per_epoch = 1 if full else -(-N // b)
    T = _steps_from(n_steps, epochs, per_epoch)
    if record_every is None:
        record_every = max(1, T // 50)
    record_every = check_int("record_every", record_every, 1)
    if average_from is not None:
        average_from = check_int("average_from", average_from, 0, T)

    optimizer.reset()
    rng = np.random.default_rng(seed)
    rec = _Recorder(objective, w_star)
    rec(0, 0.0, w, 0.0, np.nan)
    elapsed, used = 0.0, 0
    perm, pos = None, N
    w_sum, n_avg = (np.zeros_like(w), 0)
    t = 0
    idx = None
    grad = (lambda u: objective.grad(u)) if full else (
        lambda u: objective.minibatch_grad(u, idx, check=False))
    while t < T:
        chunk_end = min(T, (t // record_every + 1) * record_every)
        t_start = time.perf_counter()
        while t < chunk_end:
            if full:
                used += N
            else:
                if sampling == "shuffle":
                    if pos >= N:
                        perm, pos = rng.permutation(N), 0
                    idx = perm[pos:pos + b]
                    pos += b
                elif sampling == "subset":
                    idx = rng.choice(N, size=b, replace=False)
                elif b == 1:   # the same draw as size=1 (one bounded integer), 3x faster
                    idx = np.array([rng.integers(0, N)])
                else:
                    idx = rng.integers(0, N, size=b)
                used += idx.size
            optimizer.step(w, grad)
            t += 1
            if average_from is not None and t >= average_from:
                w_sum += w
                n_avg += 1
        elapsed += time.perf_counter() - t_start
        loss = rec(t, used / N, w, elapsed, optimizer.lr_at(t - 1))
        if not np.isfinite(loss):
            break
        if target_loss is not None and loss <= target_loss:
            break
    w_avg = None if average_from is None else (w_sum / max(n_avg, 1))
    return OptimResult(w=w, history=rec.history(), n_steps=t, w_avg=w_avg)


def sgd(objective, w0=None, *, lr, batch_size: int = 1, n_steps: int | None = None,
        epochs: float | None = None, sampling: str = "shuffle", seed: int = 0, w_star=None,
        record_every: int | None = None, target_loss: float | None = None,
        average_from: int | None = None) -> OptimResult:
    """Minibatch stochastic gradient descent: :func:`minibatch` with :class:`~lec4lib.optim.sgd.SGD`.

    Parameters
    ----------
    lr : float or callable
        Step size ``> 0`` or a schedule ``η(t)`` (any callable; :mod:`lec4lib.optim.schedules`).
    objective, w0, batch_size, n_steps, epochs, sampling, seed, w_star, record_every, target_loss, average_from
        As for :func:`minibatch`.

    Returns
    -------
    OptimResult

    Examples
    --------
    >>> import numpy as np
    >>> from lec4lib.problems.objectives import LeastSquares
    >>> obj = LeastSquares(np.eye(4), np.ones(4))
    >>> res = sgd(obj, lr=2.0, batch_size=4, n_steps=60)   # full batch: plain GD
    >>> bool(np.allclose(res.w, obj.solve()))
    True
    """
    return minibatch(objective, SGD(lr), w0, batch_size=batch_size, n_steps=n_steps,
                     epochs=epochs, sampling=sampling, seed=seed, w_star=w_star,
                     record_every=record_every, target_loss=target_loss,
                     average_from=average_from)


def gd(objective, w0=None, *, lr, n_steps: int, w_star=None, record_every: int = 1,
       target_loss: float | None = None) -> OptimResult:
    """Full-batch gradient descent ``w ← w − η_t ∇f(w)``: :func:`minibatch` with ``batch_size=None``.

    Parameters
    ----------
    lr : float or callable
        Step size ``> 0`` or a schedule ``η(t)``.
    n_steps : int
        Number of updates (each is one epoch: it touches all N samples).
    objective, w0, w_star, record_every, target_loss
        As for :func:`minibatch`.

    Returns
    -------
    OptimResult

    Examples
    --------
    >>> import numpy as np
    >>> from lec4lib.problems.objectives import LeastSquares
    >>> res = gd(LeastSquares(np.eye(2), np.ones(2)), lr=1.0, n_steps=100)
    >>> bool(np.allclose(res.w, 1.0))
    True
    """
    return minibatch(objective, SGD(lr), w0, batch_size=None, n_steps=n_steps, w_star=w_star,
                     record_every=record_every, target_loss=target_loss)


def run(optimizer: Optimizer, grad_fn: Callable[[np.ndarray], np.ndarray], w0,
        steps: int, record: Callable[[np.ndarray], float] | None = None):
    """Run ``steps`` steps from ``w0`` (the optimizer is reset first).

    Parameters
    ----------
    optimizer : Optimizer
    grad_fn : callable
        ``grad_fn(w)`` returns the (possibly stochastic) gradient at ``w``.
    w0 : array_like
        Starting point (copied, as float64).
    steps : int
        Number of steps ``>= 0``.
    record : callable, optional
        If given, ``record(w)`` is evaluated at every iterate and the values are
        returned instead of the iterates (saves memory for long runs).

    Returns
    -------
    ndarray
        Shape ``(steps + 1, *w0.shape)``: the iterates ``w_0, …, w_steps``; or, with
        ``record``, shape ``(steps + 1,)``.

    Examples
    --------
    >>> from lec4lib.optim.sgd import SGD
    >>> run(SGD(lr=0.5), lambda w: w, [2.0], steps=2)[:, 0]
    array([2. , 1. , 0.5])
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be a lec4lib Optimizer, got {type(optimizer).__name__}")
    steps = check_int("steps", steps, 0)
    w = np.array(w0, dtype=float)
    optimizer.reset()
    if record is not None:
        out = np.empty(steps + 1)
        out[0] = record(w)
    else:
        out = np.empty((steps + 1,) + w.shape)
        out[0] = w
    for t in range(steps):
        optimizer.step(w, grad_fn)
        out[t + 1] = record(w) if record is not None else w
    return out


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
        curves = np.array([_epoch_losses(objective, make_optimizer(name, lr=lr, **hyper),
                                         batch_size, epochs, s) for s in seeds])
        score = float(np.mean(curves[:, -1]))
        if not np.isfinite(score):
            continue
        if best is None or score < best[0]:
            best = (score, lr, curves)
    if best is None:
        raise ValueError(f"every step size in {list(lrs)} diverged for {name}")
    return best[1], best[2]


def _epoch_losses(objective, optimizer, batch_size: int, epochs: int, seed: int) -> np.ndarray:
    """The loss at ``w = 0`` and after every epoch of :func:`minibatch`; ``inf`` from divergence on."""
    epochs = check_int("epochs", epochs, 1)
    per_epoch = -(-objective.n_samples // batch_size)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = minibatch(objective, optimizer, batch_size=batch_size, epochs=epochs, seed=seed,
                         record_every=per_epoch).history.loss
    out = np.full(epochs + 1, np.inf)
    finite = np.isfinite(loss)
    n_ok = len(loss) if finite.all() else int(np.argmin(finite))
    out[:n_ok] = loss[:n_ok]
    return out
