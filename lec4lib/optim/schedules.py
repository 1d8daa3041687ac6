"""Learning-rate schedules ``η_t`` for ``t = 0, 1, 2, …`` (the step count before the update).

Every schedule is a small callable object: ``schedule(t)`` is the step size used by the
``(t+1)``-th update, and ``schedule.values(T)`` is the array ``η_0, …, η_{T−1}``. The step
counting follows ``torch.optim.lr_scheduler``: ``η_t`` is the learning rate after ``t``
calls of ``scheduler.step()``, so :class:`StepDecay`, :class:`CyclicTriangular`,
:class:`CosineAnnealing` and :class:`CosineWarmRestarts` agree value for value with
``StepLR``, ``CyclicLR(mode="triangular")``, ``CosineAnnealingLR`` and
``CosineAnnealingWarmRestarts`` (``tests/unit/test_schedules.py`` checks it).

Formulas (closed forms, our own code):

* constant: ``η_t = η₀``;
* polynomial: ``η_t = η₀ (1 + t/t₀)^(−a)`` — the slides' ``η_t ≈ t^(−a)``;
* step decay: ``η_t = η₀ γ^⌊t/s⌋``;
* triangular cycle: linear from ``η_min`` up to ``η_max`` in ``s_up`` steps, down in ``s_down``;
* cosine annealing: ``η_t = η_min + (η₀ − η_min)(1 + cos(π t/T))/2``;
* warm restarts (Loshchilov & Hutter, SGDR, ICLR 2017): cosine annealing over periods
  ``T₀, T₀ m, T₀ m², …``, restarting at ``η₀`` after each.
"""

from __future__ import annotations

import math

import numpy as np
from ..validation import check_int, check_lr, check_number

__all__ = ["Schedule", "Constant", "Polynomial", "StepDecay", "CyclicTriangular",
           "CosineAnnealing", "CosineWarmRestarts", "Lambda", "as_schedule"]


class Schedule:
    """Base class: subclasses implement ``__call__`` for one non-negative integer ``t``."""

    def __call__(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _t(t) -> int:
        if type(t) is int and t >= 0:   # what the training loops pass, once per step
            return t
        return check_int("t", t, 0)

    def values(self, n_steps: int) -> np.ndarray:
        """The step sizes ``η_0, …, η_{n_steps−1}``.

        Parameters
        ----------
        n_steps : int
            Number of steps, ``>= 0``.

        Returns
        -------
        ndarray, shape (n_steps,)
        """
        n_steps = check_int("n_steps", n_steps, 0)
        return np.array([self(t) for t in range(n_steps)], dtype=float)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``η_t = lr`` for every ``t``.

    Parameters
    ----------
    lr : float
        The step size, ``> 0``.

    Examples
    --------
    >>> Constant(0.1).values(3)
    array([0.1, 0.1, 0.1])
    """

    def __init__(self, lr: float):
        self.lr = check_lr(lr, schedule=False)

    def __call__(self, t: int) -> float:
        self._t(t)
        return self.lr


class Polynomial(Schedule):
    """Polynomial decay ``η_t = lr · (1 + t/t0)^(−power)``.

    Parameters
    ----------
    lr : float
        ``η_0 > 0``.
    power : float
        The exponent ``a >= 0``. For ``a ∈ (1/2, 1]`` the classical sufficient conditions
        for SGD's convergence hold (Robbins–Monro: ``Σ η_t = ∞`` and ``Σ η_t² < ∞``); they
        are not necessary: on a strongly convex problem ``a ∈ (0, 1/2]`` converges too
        (:ref:`decreasing steps <ss-decreasing-steps>` in :ref:`chapter 02 <ch02>`).
    t0 : float, default 1
        Time scale ``> 0`` (how many steps before the decay sets in).

    Examples
    --------
    >>> Polynomial(1.0, power=1.0).values(4)
    array([1.        , 0.5       , 0.33333333, 0.25      ])
    """

    def __init__(self, lr: float, power: float, t0: float = 1.0):
        self.lr = check_lr(lr, schedule=False)
        self.power = check_number(power, "power", 0.0)
        self.t0 = check_number(t0, "t0", 0.0, low_open=True)

    def __call__(self, t: int) -> float:
        t = self._t(t)
        return self.lr * (1.0 + t / self.t0) ** (-self.power)


class StepDecay(Schedule):
    """Step decay ``η_t = lr · gamma^⌊t / step_size⌋`` (torch ``StepLR``).

    Parameters
    ----------
    lr : float
        ``η_0 > 0``.
    step_size : int
        Steps between two decays, ``>= 1``.
    gamma : float, default 0.1
        Decay factor in ``(0, 1]``.

    Examples
    --------
    >>> StepDecay(1.0, step_size=2, gamma=0.5).values(5)
    array([1.  , 1.  , 0.5 , 0.5 , 0.25])
    """

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1):
        self.lr = check_lr(lr, schedule=False)
        self.step_size = check_int("step_size", step_size)
        self.gamma = check_number(gamma, "gamma", 0.0, 1.0, low_open=True, high_open=False)

    def __call__(self, t: int) -> float:
        t = self._t(t)
        return self.lr * self.gamma ** (t // self.step_size)


class CyclicTriangular(Schedule):
    """Triangular cyclic learning rate (Smith, WACV 2017; torch ``CyclicLR(mode="triangular")``).

    The step size rises linearly from ``base_lr`` to ``max_lr`` over ``step_size_up`` steps,
    falls back over ``step_size_down`` steps, and repeats.

    Parameters
    ----------
    base_lr : float
        Lowest value, ``> 0``.
    max_lr : float
        Highest value, ``>= base_lr``.
    step_size_up : int
        Steps of the rising half, ``>= 1``.
    step_size_down : int, optional
        Steps of the falling half (``>= 1``); equal to ``step_size_up`` when omitted.

    Examples
    --------
    >>> CyclicTriangular(1.0, 3.0, step_size_up=2).values(5)
    array([1., 2., 3., 2., 1.])
    """

    def __init__(self, base_lr: float, max_lr: float, step_size_up: int,
                 step_size_down: int | None = None):
        self.base_lr = check_number(base_lr, "base_lr", 0.0, low_open=True)
        self.max_lr = check_number(max_lr, "max_lr", self.base_lr)     # >= base_lr
        self.step_size_up = check_int("step_size_up", step_size_up)
        self.step_size_down = (self.step_size_up if step_size_down is None
                               else check_int("step_size_down", step_size_down))

    def __call__(self, t: int) -> float:
        t = self._t(t)
        period = self.step_size_up + self.step_size_down
        pos = t % period
        if pos <= self.step_size_up:
            frac = pos / self.step_size_up
        else:
            frac = (period - pos) / self.step_size_down
        return self.base_lr + (self.max_lr - self.base_lr) * frac


class CosineAnnealing(Schedule):
    """Cosine annealing ``η_t = eta_min + (lr − eta_min)(1 + cos(π t / T_max))/2`` (torch ``CosineAnnealingLR``).

    For ``t > T_max`` the cosine continues (it rises again), as torch's does.

    Parameters
    ----------
    lr : float
        ``η_0 > 0``.
    T_max : int
        Steps of the half cosine, ``>= 1``.
    eta_min : float, default 0
        Floor, ``0 <= eta_min <= lr``.

    Examples
    --------
    >>> CosineAnnealing(1.0, T_max=2).values(3)
    array([1. , 0.5, 0. ])
    """

    def __init__(self, lr: float, T_max: int, eta_min: float = 0.0):
        self.lr = check_lr(lr, schedule=False)
        self.T_max = check_int("T_max", T_max)
        self.eta_min = check_number(eta_min, "eta_min", 0.0, self.lr, high_open=False)   # <= lr

    def __call__(self, t: int) -> float:
        t = self._t(t)
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class CosineWarmRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR; torch ``CosineAnnealingWarmRestarts``).

    Period ``i`` lasts ``T_0 · T_mult^i`` steps; inside a period the step size follows a half
    cosine from ``lr`` down towards ``eta_min``, then jumps back to ``lr``.

    Parameters
    ----------
    lr : float
        ``η_0 > 0``.
    T_0 : int
        Length of the first period, ``>= 1``.
    T_mult : int, default 1
        Growth factor of the periods, ``>= 1``.
    eta_min : float, default 0
        Floor, ``0 <= eta_min <= lr``.

    Examples
    --------
    >>> CosineWarmRestarts(1.0, T_0=2).values(4)
    array([1. , 0.5, 1. , 0.5])
    """

    def __init__(self, lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0):
        self.lr = check_lr(lr, schedule=False)
        self.T_0 = check_int("T_0", T_0)
        self.T_mult = check_int("T_mult", T_mult)
        self.eta_min = check_number(eta_min, "eta_min", 0.0, self.lr, high_open=False)   # <= lr

    def __call__(self, t: int) -> float:
        t = self._t(t)
        period, start = self.T_0, 0
        while t >= start + period:  # walk the periods: lengths T_0, T_0 m, T_0 m², ...
            start += period
            period *= self.T_mult
        t_cur = t - start
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / period)) / 2


class Lambda(Schedule):
    """``η_t = fn(t)`` for any callable ``fn`` (as ``torch.optim.lr_scheduler.LambdaLR``).

    Each value is checked to be finite and ``> 0`` when it is computed.

    Examples
    --------
    >>> Lambda(lambda t: 1 / (t + 1)).values(3)
    array([1.        , 0.5       , 0.33333333])
    """

    def __init__(self, fn):
        if not callable(fn):
            raise ValueError(f"Invalid fn: {fn!r} (must be callable)")
        self.fn = fn

    def __call__(self, t: int) -> float:
        t = self._t(t)
        lr = float(self.fn(t))
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"Invalid learning rate: schedule returned {lr!r} at step {t} "
                             "(must be finite and > 0)")
        return lr


def as_schedule(lr) -> Schedule:
    """The one schedule contract: a :class:`Schedule` from a schedule, any callable or a number.

    A :class:`Schedule` is returned as it is, another callable ``lr(t)`` is wrapped in
    :class:`Lambda`, and a number means :class:`Constant` (finite and ``> 0``).

    Examples
    --------
    >>> as_schedule(0.5)(10)
    0.5
    >>> as_schedule(lambda t: 0.5 ** t)(2)
    0.25
    """
    if isinstance(lr, Schedule):
        return lr
    if callable(lr):
        return Lambda(lr)
    return Constant(lr)
