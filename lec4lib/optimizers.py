"""First-order optimizers in numpy: SGD, two momentum forms, Nesterov, Adagrad, Adam.

All of them follow the lecture's formulas literally and share one small interface:

* ``opt.gradient_point(w)`` — the point where the next gradient must be taken (``w``
  itself, except for Nesterov's look-ahead);
* ``opt.update(w, g)`` — apply one step with the gradient ``g`` taken at that point;
  ``w`` (a float array) is updated **in place**, like a ``torch`` parameter, and returned;
* ``opt.step(w, grad_fn)`` — both at once: ``update(w, grad_fn(gradient_point(w)))``;
* ``opt.t`` (steps taken), ``opt.state`` (dict of arrays), ``opt.reset()``.

:func:`run` drives an optimizer for a number of steps and returns the iterates.

The learning rate may be a float or a schedule ``lr(t)`` called with the number of
updates already made, ``t = 0, 1, …`` (the convention of :mod:`lec4lib.schedules` and of
``torch.optim.lr_scheduler``). Every class docstring states the exact ``torch.optim`` call that
produces the same iterates; ``tests/unit/test_optimizers_vs_torch.py`` checks each
mapping with property-based tests over random problems and hyper-parameters.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["Optimizer", "SGD", "MomentumEMA", "HeavyBall", "Nesterov", "Adagrad", "Adam",
           "run", "make_optimizer", "OPTIMIZERS"]


def _check_beta(name: str, beta) -> float:
    if not isinstance(beta, (int, float, np.floating, np.integer)) or not (0.0 <= beta < 1.0):
        raise ValueError(f"Invalid {name}: {beta!r} (must be in [0, 1))")
    return float(beta)


def _check_eps(name: str, eps) -> float:
    if not isinstance(eps, (int, float, np.floating, np.integer)) or not (
            math.isfinite(eps) and eps > 0):
        raise ValueError(f"Invalid {name}: {eps!r} (must be finite and > 0)")
    return float(eps)


def _check_lr(lr):
    if callable(lr):
        return lr
    if not isinstance(lr, (int, float, np.floating, np.integer)) or not (
            math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr!r} (must be finite and > 0, "
                         "or a schedule lr(t))")
    return float(lr)


class Optimizer:
    """Base class: step counter, learning-rate schedule and the shared interface.

    Parameters
    ----------
    lr : float or callable
        Step size ``> 0``, or a schedule ``lr(t)`` returning the step size of the update
        made after ``t = 0, 1, …`` updates (checked to be ``> 0`` when called).
    """

    #: short name used in tables and plots
    name = "optimizer"

    def __init__(self, lr):
        self.lr = _check_lr(lr)
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next step is step 1 again."""
        self.t = 0
        self.state: dict[str, np.ndarray] = {}

    def lr_at(self, t: int) -> float:
        """The step size of the update made after ``t`` updates (``t = 0, 1, …``)."""
        if not callable(self.lr):
            return self.lr
        lr = float(self.lr(t))
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"Invalid learning rate: schedule returned {lr!r} at step {t} "
                             "(must be finite and > 0)")
        return lr

    def gradient_point(self, w: np.ndarray) -> np.ndarray:
        """Where the next gradient is evaluated (``w`` itself for all but Nesterov)."""
        return w

    def update(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        """One step with gradient ``g`` taken at ``gradient_point(w)``; ``w`` changes in place."""
        w = _as_param(w)
        g = np.asarray(g, dtype=w.dtype)
        if g.shape != w.shape:
            raise ValueError(f"gradient has shape {g.shape}, parameters have shape {w.shape}")
        if not self.state:
            self._init_state(w)
            # scratch space: the updates below write into these instead of allocating
            # temporaries (same operations in the same order, so the same rounding)
            self._buf = (np.empty_like(w), np.empty_like(w))
        lr = self.lr_at(self.t)
        self.t += 1
        self._update(w, g, lr)
        return w

    def step(self, w: np.ndarray, grad_fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``update(w, grad_fn(gradient_point(w)))``: one full step, ``w`` in place."""
        return self.update(w, grad_fn(self.gradient_point(w)))

    # -- to be provided by subclasses
    def _init_state(self, w: np.ndarray) -> None:
        self.state = {"_": np.empty(0)}

    def _update(self, w: np.ndarray, g: np.ndarray, lr: float) -> None:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items()
                  if k not in ("state", "t") and not k.startswith("_")}
        args = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({args})"


def _as_param(w) -> np.ndarray:
    if not isinstance(w, np.ndarray) or w.dtype.kind != "f":
        raise ValueError("w must be a floating-point numpy array (it is updated in place); "
                         f"got {type(w).__name__}"
                         + (f" of dtype {w.dtype}" if isinstance(w, np.ndarray) else ""))
    return w


class SGD(Optimizer):
    """Plain (stochastic) gradient descent: ``w ← w − α g``.

    torch mapping: ``torch.optim.SGD(params, lr=α)`` gives the same iterates up to rounding
    (torch's CPU kernel computes ``w + (−α)g`` with a fused multiply-add, so last bits can
    differ; chapter 08 measures this).

    Parameters
    ----------
    lr : float or callable
        Step size ``α > 0`` or a schedule ``α(t)``.

    Examples
    --------
    >>> w = np.array([1.0]); opt = SGD(lr=0.5)
    >>> opt.step(w, lambda w: 2 * w)
    array([0.])
    """

    name = "SGD"

    def _update(self, w, g, lr):
        b = np.multiply(g, lr, out=self._buf[0])
        w -= b


class MomentumEMA(Optimizer):
    """Momentum as a moving average (the slide's first form).

    ``v_t = β v_{t−1} + (1 − β) g_t``,  ``w_{t+1} = w_t − α_t v_t``,  ``v_0 = 0``.

    torch mapping: ``torch.optim.SGD(params, lr=α(1 − β), momentum=β)`` gives the same
    iterates up to rounding, also under a schedule (set the torch lr to ``α_t(1 − β)`` at
    each step). ``SGD(lr=α, momentum=β, dampening=β)`` is *not* the same: torch starts its
    buffer at ``g_1`` instead of ``(1 − β) g_1``.

    Parameters
    ----------
    lr : float or callable
        Step size ``α > 0`` or a schedule ``α(t)``.
    beta : float
        Discount factor ``β`` in ``[0, 1)``; ``β = 0`` is plain SGD.

    Examples
    --------
    >>> w = np.array([1.0]); opt = MomentumEMA(lr=1.0, beta=0.5)
    >>> opt.step(w, lambda w: w)      # v = 0.5·1, w = 1 − 0.5
    array([0.5])
    """

    name = "Momentum (EMA)"

    def __init__(self, lr, beta: float = 0.9):
        self.beta = _check_beta("beta", beta)
        super().__init__(lr)

    def _init_state(self, w):
        self.state = {"v": np.zeros_like(w)}

    def _update(self, w, g, lr):
        v, b = self.state["v"], self._buf[0]
        v *= self.beta
        v += np.multiply(g, 1.0 - self.beta, out=b)
        w -= np.multiply(v, lr, out=b)


class HeavyBall(Optimizer):
    """Momentum as a velocity (the slide's "another equivalent form", Polyak's heavy ball).

    ``v_t = β v_{t−1} + α_t g_t``,  ``w_{t+1} = w_t − v_t``,  ``v_0 = 0``.

    With a constant step it equals :class:`MomentumEMA` with step ``α/(1 − β)``; under a
    schedule the two differ (here the step multiplies each gradient as it arrives, there
    it multiplies the whole average).

    torch mapping: ``torch.optim.SGD(params, lr=α, momentum=β)`` gives the same iterates up
    to rounding **for a constant α** (torch keeps ``b = Σ β^k g`` and steps ``−α_t b``, so
    under a schedule it behaves like :class:`MomentumEMA`, not like this form).

    Parameters
    ----------
    lr : float or callable
        Step size ``α > 0`` or a schedule ``α(t)``.
    beta : float
        Momentum ``β`` in ``[0, 1)``.
    """

    name = "Heavy ball"

    def __init__(self, lr, beta: float = 0.9):
        self.beta = _check_beta("beta", beta)
        super().__init__(lr)

    def _init_state(self, w):
        self.state = {"v": np.zeros_like(w)}

    def _update(self, w, g, lr):
        v = self.state["v"]
        v *= self.beta
        v += np.multiply(g, lr, out=self._buf[0])
        w -= v


class Nesterov(Optimizer):
    """Nesterov accelerated gradient, in the slide's look-ahead form.

    ``v_t = β v_{t−1} + α_t ∇f(w_t − β v_{t−1})``,  ``w_{t+1} = w_t − v_t``.

    :meth:`gradient_point` returns the look-ahead point ``w − βv``.

    torch mapping: ``torch.optim.SGD(params, lr=α, momentum=β, nesterov=True)`` (constant α)
    does not store ``w`` but the look-ahead point: after every step torch's parameter equals
    ``w − β v`` here (:meth:`lookahead`), up to rounding.

    Parameters
    ----------
    lr : float or callable
        Step size ``α > 0`` or a schedule ``α(t)``.
    beta : float
        Momentum ``β`` in ``[0, 1)``.
    """

    name = "Nesterov"

    def __init__(self, lr, beta: float = 0.9):
        self.beta = _check_beta("beta", beta)
        super().__init__(lr)

    def _init_state(self, w):
        self.state = {"v": np.zeros_like(w)}

    def gradient_point(self, w):
        if not self.state:
            return w
        return w - self.beta * self.state["v"]

    def lookahead(self, w: np.ndarray) -> np.ndarray:
        """``w − β v``: the point torch's ``SGD(nesterov=True)`` stores as its parameter."""
        return self.gradient_point(w)

    def _update(self, w, g, lr):
        v = self.state["v"]
        v *= self.beta
        v += np.multiply(g, lr, out=self._buf[0])
        w -= v


class Adagrad(Optimizer):
    """Adagrad, the slide's form with ``ε`` inside the root.

    ``G_t = G_{t−1} + g_t²``,  ``w_{t+1} = w_t − η g_t / √(G_t + ε)``  (per coordinate).

    torch mapping: ``torch.optim.Adagrad(params, lr=η, eps=0, initial_accumulator_value=ε)``
    is the same method: identical in exact arithmetic, equal up to rounding in floating point
    (torch adds its ``eps`` *outside* the root; starting its sum at ``ε`` puts it inside).
    Torch's default ``eps=1e-10`` outside the root is a slightly different method.

    Parameters
    ----------
    lr : float or callable
        Step size ``η > 0`` (the slide keeps it constant) or a schedule ``η(t)``.
    eps : float
        ``ε > 0`` inside the square root.
    """

    name = "Adagrad"

    def __init__(self, lr, eps: float = 1e-10):
        self.eps = _check_eps("eps", eps)
        super().__init__(lr)

    def _init_state(self, w):
        self.state = {"G": np.full_like(w, self.eps)}   # G_0 = ε puts ε inside the root

    def _update(self, w, g, lr):
        G, (b0, b1) = self.state["G"], self._buf
        G += np.multiply(g, g, out=b0)
        # torch: param.addcdiv_(grad, sqrt(G), value=-lr), i.e. w + (−lr)·g / √G
        np.multiply(g, -lr, out=b0)
        b0 /= np.sqrt(G, out=b1)
        w += b0


class Adam(Optimizer):
    """Adam with bias correction (the slide's form).

    ``m_t = β₁ m_{t−1} + (1−β₁) g_t``, ``v_t = β₂ v_{t−1} + (1−β₂) g_t²``,
    ``m̂_t = m_t/(1−β₁ᵗ)``, ``v̂_t = v_t/(1−β₂ᵗ)``, ``w ← w − α m̂_t/(√v̂_t + ε)``.

    torch mapping: ``torch.optim.Adam(params, lr=α, betas=(β₁, β₂), eps=ε)`` is the same
    method. The arithmetic below follows torch's single-tensor CPU path operation by
    operation, so the iterates agree to the last bit or two, but not always bit for bit:
    torch's kernels fuse multiply-adds (``lerp``, ``addcmul``) and its vectorised ``sqrt``
    is not always correctly rounded, neither of which numpy reproduces (chapter 08).

    Parameters
    ----------
    lr : float or callable
        Step size ``α > 0`` or a schedule ``α(t)``.
    beta1, beta2 : float
        Decay rates in ``[0, 1)``.
    eps : float
        ``ε > 0`` added to ``√v̂``.
    bias_correction : bool
        ``False`` drops the division by ``1 − βᵗ`` (for showing why it is there; not the
        slide's algorithm and not torch's).
    """

    name = "Adam"

    def __init__(self, lr=1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 bias_correction: bool = True):
        self.beta1 = _check_beta("beta1", beta1)
        self.beta2 = _check_beta("beta2", beta2)
        self.eps = _check_eps("eps", eps)
        if not isinstance(bias_correction, (bool, np.bool_)):
            raise ValueError(f"bias_correction must be True or False, got {bias_correction!r}")
        self.bias_correction = bool(bias_correction)
        super().__init__(lr)

    def _init_state(self, w):
        self.state = {"m": np.zeros_like(w), "v": np.zeros_like(w)}

    def _update(self, w, g, lr):
        m, v = self.state["m"], self.state["v"]
        t = float(self.t)
        # m ← lerp(m, g, 1 − β₁), computed as torch's lerp kernel does
        b0, b1 = self._buf
        wt = 1.0 - self.beta1
        np.subtract(g, m, out=b0)
        if wt < 0.5:
            b0 *= wt
            m += b0
        else:
            b0 *= 1.0 - wt
            np.subtract(g, b0, out=m)
        # v ← β₂ v + (1 − β₂) g²   (torch: mul_ then addcmul_)
        v *= self.beta2
        np.multiply(g, 1.0 - self.beta2, out=b0)
        b0 *= g
        v += b0
        if self.bias_correction:
            bc1 = 1.0 - self.beta1 ** t
            bc2_sqrt = (1.0 - self.beta2 ** t) ** 0.5
        else:
            bc1 = bc2_sqrt = 1.0
        step_size = lr / bc1
        denom = np.sqrt(v, out=b1)
        denom /= bc2_sqrt
        denom += self.eps
        np.multiply(m, -step_size, out=b0)
        b0 /= denom
        w += b0


#: name → class, for building optimizers from configuration
OPTIMIZERS = {"sgd": SGD, "momentum_ema": MomentumEMA, "heavy_ball": HeavyBall,
              "nesterov": Nesterov, "adagrad": Adagrad, "adam": Adam}


def make_optimizer(name: str, **hyper) -> Optimizer:
    """Build an optimizer by name (a key of :data:`OPTIMIZERS`).

    Examples
    --------
    >>> make_optimizer("adam", lr=0.1).beta2
    0.999
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](**hyper)


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
    >>> run(SGD(lr=0.5), lambda w: w, [2.0], steps=2)[:, 0]
    array([2. , 1. , 0.5])
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be a lec4lib Optimizer, got {type(optimizer).__name__}")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    w = np.array(w0, dtype=float)
    optimizer.reset()
    steps = int(steps)
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
