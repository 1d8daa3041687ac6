"""Momentum in numpy, in the slide's two forms (moving average and velocity).
"""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer
from ..validation import check_number

__all__ = ["MomentumEMA", "HeavyBall"]


class _Momentum(Optimizer):
    """Base of the momentum methods: the momentum ``β`` (``momentum``) and a velocity ``v`` (``v_0 = 0``)."""

    def __init__(self, lr, momentum: float = 0.9):
        self.momentum = check_number(momentum, "momentum", 0.0, 1.0)
        super().__init__(lr)

    def _init_state(self, w):
        self.state = {"v": np.zeros_like(w)}


class MomentumEMA(_Momentum):
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
    momentum : float
        The discount factor ``β`` in ``[0, 1)`` (torch's name); ``β = 0`` is plain SGD.

    Examples
    --------
    >>> w = np.array([1.0]); opt = MomentumEMA(lr=1.0, momentum=0.5)
    >>> opt.step(w, lambda w: w)      # v = 0.5·1, w = 1 − 0.5
    array([0.5])
    """

    name = "Momentum (EMA)"

    def _update(self, w, g, lr):
        v, b = self.state["v"], self._buf[0]
        v *= self.momentum
        v += np.multiply(g, 1.0 - self.momentum, out=b)
        w -= np.multiply(v, lr, out=b)


class HeavyBall(_Momentum):
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
    momentum : float
        The momentum ``β`` in ``[0, 1)`` (torch's name).
    """

    name = "Heavy ball"

    def _update(self, w, g, lr):
        v = self.state["v"]
        v *= self.momentum
        v += np.multiply(g, lr, out=self._buf[0])
        w -= v
