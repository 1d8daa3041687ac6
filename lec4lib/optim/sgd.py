"""Plain (stochastic) gradient descent in numpy.
"""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Plain (stochastic) gradient descent: ``w ← w − α g``.

    torch mapping: ``torch.optim.SGD(params, lr=α)`` gives the same iterates up to rounding
    (torch's CPU kernel computes ``w + (−α)g`` with a fused multiply-add, so last bits can
    differ; :ref:`chapter 08 <ch08>` measures this).

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
