"""Nesterov accelerated gradient in numpy (the slide's look-ahead form).
"""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer
from ..validation import check_number

__all__ = ["Nesterov"]


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
        self.beta = check_number(beta, "beta", 0.0, 1.0)
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
