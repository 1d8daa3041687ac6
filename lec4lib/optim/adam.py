"""Adam in numpy, with bias correction (the slide's form).
"""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer
from ..validation import check_betas, check_bool, check_number

__all__ = ["Adam"]


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
    betas : tuple of float
        The decay rates ``(β₁, β₂)``, each in ``[0, 1)`` (torch's name and default).
    eps : float
        ``ε > 0`` added to ``√v̂``.
    bias_correction : bool
        ``False`` drops the division by ``1 − βᵗ`` (for showing why it is there; not the
        slide's algorithm and not torch's).
    """

    name = "Adam"

    def __init__(self, lr=1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 bias_correction: bool = True):
        self.betas = check_betas(betas)
        self.eps = check_number(eps, "eps", 0.0, low_open=True)
        self.bias_correction = check_bool("bias_correction", bias_correction)
        super().__init__(lr)

    def _init_state(self, w):
        self.state = {"m": np.zeros_like(w), "v": np.zeros_like(w)}

    def _update(self, w, g, lr):
        m, v = self.state["m"], self.state["v"]
        beta1, beta2 = self.betas
        t = float(self.t)
        # m ← lerp(m, g, 1 − β₁), computed as torch's lerp kernel does
        b0, b1 = self._buf
        wt = 1.0 - beta1
        np.subtract(g, m, out=b0)
        if wt < 0.5:
            b0 *= wt
            m += b0
        else:
            b0 *= 1.0 - wt
            np.subtract(g, b0, out=m)
        # v ← β₂ v + (1 − β₂) g²   (torch: mul_ then addcmul_)
        v *= beta2
        np.multiply(g, 1.0 - beta2, out=b0)
        b0 *= g
        v += b0
        if self.bias_correction:
            bc1 = 1.0 - beta1 ** t
            bc2_sqrt = (1.0 - beta2 ** t) ** 0.5
        else:
            bc1 = bc2_sqrt = 1.0
        step_size = lr / bc1
        denom = np.sqrt(v, out=b1)
        denom /= bc2_sqrt
        denom += self.eps
        np.multiply(m, -step_size, out=b0)
        b0 /= denom
        w += b0
