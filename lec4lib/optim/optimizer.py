"""The base class of lec4lib's numpy optimizers (the interface they share).

See :mod:`lec4lib.optim` for the interface; one family per module, as in ``torch.optim``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from ..validation import check_lr
from .schedules import as_schedule


__all__ = ["Optimizer"]


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
        self.lr = check_lr(lr)
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next step is step 1 again."""
        self.t = 0
        self.state: dict[str, np.ndarray] = {}
        self._buf = None   # scratch arrays, allocated (with the state) by the first update

    def lr_at(self, t: int) -> float:
        """The step size of the update made after ``t`` updates (``t = 0, 1, …``)."""
        if not callable(self.lr):
            return self.lr
        return as_schedule(self.lr)(t)

    def gradient_point(self, w: np.ndarray) -> np.ndarray:
        """Where the next gradient is evaluated (``w`` itself for all but Nesterov)."""
        return w

    def update(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        """One step with gradient ``g`` taken at ``gradient_point(w)``; ``w`` changes in place."""
        w = _as_param(w)
        g = np.asarray(g, dtype=w.dtype)
        if g.shape != w.shape:
            raise ValueError(f"gradient has shape {g.shape}, parameters have shape {w.shape}")
        if self._buf is None:
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
        """Allocate ``self.state`` for parameters shaped like ``w`` (none by default)."""

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
