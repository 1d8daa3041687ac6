"""Nesterov accelerated gradient in numpy (the slide's look-ahead form).
"""

from __future__ import annotations

import numpy as np

from .momentum import HeavyBall

__all__ = ["Nesterov"]


class Nesterov(HeavyBall):
    """Nesterov accelerated gradient, in the slide's look-ahead form.

    ``v_t = β v_{t−1} + α_t ∇f(w_t − β v_{t−1})``,  ``w_{t+1} = w_t − v_t``.

    :meth:`gradient_point` returns the look-ahead point ``w − βv``; the update itself is
    :class:`~lec4lib.optim.momentum.HeavyBall`'s, with the gradient taken there.

    torch mapping: ``torch.optim.SGD(params, lr=α, momentum=β, nesterov=True)`` (constant α)
    does not store ``w`` but the look-ahead point: after every step torch's parameter equals
    ``w − β v`` here (:meth:`lookahead`), up to rounding.

    Parameters
    ----------
    lr : float or callable
        Step size ``α > 0`` or a schedule ``α(t)``.
    momentum : float
        The momentum ``β`` in ``[0, 1)`` (torch's name).
    """

    name = "Nesterov"

    def gradient_point(self, w):
        if "v" not in self.state:
            return w
        return w - self.momentum * self.state["v"]

    def lookahead(self, w: np.ndarray) -> np.ndarray:
        """``w − β v``: the point torch's ``SGD(nesterov=True)`` stores as its parameter."""
        return self.gradient_point(w)
