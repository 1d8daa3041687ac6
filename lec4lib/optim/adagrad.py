"""Adagrad in numpy (the slide's form, epsilon inside the root).
"""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer
from ..validation import check_number

__all__ = ["Adagrad"]


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
        self.eps = check_number(eps, "eps", 0.0, low_open=True)
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
