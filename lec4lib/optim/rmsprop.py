"""RMSprop in numpy (Hinton's lecture 6e, 2012): a per-coordinate step from a moving
average of squared gradients; Adam without the first moment and the bias correction.
"""

from __future__ import annotations

import numpy as np

from .adam import lerp_
from .optimizer import Optimizer
from ..validation import check_bool, check_number

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, with torch's options.

    ``s_t = β₂ s_{t−1} + (1−β₂) g_t²`` (``s_0 = 0``) and
    ``w_{t+1} = w_t − η g_t/(√s_t + ε)``, per coordinate. torch calls the decay rate
    ``alpha``; in the book it is ``β₂``, because this is Adam's second moment: with
    ``momentum=0`` and ``centered=False`` RMSprop is
    ``Adam(lr, betas=(0, alpha), eps=eps, bias_correction=False)`` up to rounding.

    The options, as in torch: ``weight_decay=λ`` adds ``λw`` to the gradient (an ℓ2
    penalty); ``momentum=β > 0`` accumulates ``v_t = β v_{t−1} + g_t/(√s_t + ε)`` and steps
    ``w_{t+1} = w_t − η v_t``; ``centered=True`` divides by an estimate of the standard
    deviation instead, ``√(s_t − ḡ_t²) + ε`` with ``ḡ_t`` the moving average of ``g_t``.

    torch mapping: ``torch.optim.RMSprop(params, lr=η, alpha=β₂, eps=ε, weight_decay=λ,
    momentum=β, centered=c)`` is the same method; the arithmetic follows torch's
    single-tensor CPU path, so the iterates agree to rounding.

    Parameters
    ----------
    lr : float or callable
        Step size ``η > 0`` or a schedule ``η(t)`` (torch's default ``1e-2``).
    alpha : float
        The decay rate ``β₂`` of the squared-gradient average, in ``[0, 1)``.
    eps : float
        ``ε > 0`` added to the root.
    weight_decay : float
        ``λ >= 0``.
    momentum : float
        ``β`` in ``[0, 1)``; ``0`` (the default) is plain RMSprop.
    centered : bool
        Divide by the centred second moment.

    Examples
    --------
    The first step is ``η g/(√(1−β₂)|g| + ε)``: ``0.01/√0.01 = 0.1`` for ``g > 0``.

    >>> RMSprop(lr=0.01, alpha=0.99, eps=1e-12).update(np.array([1.0]), np.array([4.0]))
    array([0.9])
    """

    name = "RMSprop"

    def __init__(self, lr=1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        self.alpha = check_number(alpha, "alpha", 0.0, 1.0)
        self.eps = check_number(eps, "eps", 0.0, low_open=True)
        self.weight_decay = check_number(weight_decay, "weight_decay", 0.0)
        self.momentum = check_number(momentum, "momentum", 0.0, 1.0)
        self.centered = check_bool("centered", centered)
        super().__init__(lr)

    def _init_state(self, w):
        # torch's state names
        self.state = {"square_avg": np.zeros_like(w)}
        if self.momentum > 0:
            self.state["momentum_buffer"] = np.zeros_like(w)
        if self.centered:
            self.state["grad_avg"] = np.zeros_like(w)

    def _update(self, w, g, lr):
        s, (b0, b1) = self.state["square_avg"], self._buf
        if self.weight_decay != 0:
            g = g + self.weight_decay * w             # torch: grad.add(param, alpha=λ)
        # s ← β₂ s + (1 − β₂) g²   (torch: mul_ then addcmul_)
        s *= self.alpha
        np.multiply(g, 1.0 - self.alpha, out=b0)
        b0 *= g
        s += b0
        if self.centered:
            ga = self.state["grad_avg"]
            lerp_(ga, g, 1.0 - self.alpha, b0)
            np.multiply(ga, ga, out=b0)
            np.subtract(s, b0, out=b1)
            avg = np.sqrt(b1, out=b1)
        else:
            avg = np.sqrt(s, out=b1)
        avg += self.eps
        if self.momentum > 0:
            buf = self.state["momentum_buffer"]
            buf *= self.momentum
            buf += np.divide(g, avg, out=b0)          # torch: buf.mul_(β).addcdiv_(g, avg)
            w += np.multiply(buf, -lr, out=b0)        # torch: param.add_(buf, alpha=-lr)
        else:
            # torch: param.addcdiv_(grad, avg, value=-lr), i.e. w + (−lr)·g / avg
            np.multiply(g, -lr, out=b0)
            b0 /= avg
            w += b0
