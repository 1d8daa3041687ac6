"""Adam in numpy, with bias correction (the slide's form), and AdamW (decoupled weight decay).
"""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer
from ..validation import check_betas, check_bool, check_number

__all__ = ["Adam", "AdamW"]


def lerp_(a: np.ndarray, b: np.ndarray, weight: float, buf: np.ndarray) -> None:
    """``a ← a + weight·(b − a)`` in place, rounded as torch's CPU ``lerp_`` kernel rounds it.

    torch computes ``a + weight·(b − a)`` for ``weight < 0.5`` and ``b − (1 − weight)·(b − a)``
    otherwise; ``buf`` is scratch space shaped like ``a``. Shared by Adam's first moment and
    RMSprop's centred average.
    """
    np.subtract(b, a, out=buf)
    if weight < 0.5:
        buf *= weight
        a += buf
    else:
        buf *= 1.0 - weight
        np.subtract(b, buf, out=a)


class Adam(Optimizer):
    """Adam with bias correction (the slide's form).

    ``m_t = β₁ m_{t−1} + (1−β₁) g_t``, ``s_t = β₂ s_{t−1} + (1−β₂) g_t²``,
    ``m̂_t = m_t/(1−β₁ᵗ)``, ``ŝ_t = s_t/(1−β₂ᵗ)``, ``w ← w − η m̂_t/(√ŝ_t + ε)``
    (the slides write the second moment ``v_t`` and the step ``α``; the state keeps the
    second moment under the key ``"v"``, torch's ``exp_avg_sq``).

    torch mapping: ``torch.optim.Adam(params, lr=η, betas=(β₁, β₂), eps=ε)`` is the same
    method. The arithmetic below follows torch's single-tensor CPU path operation by
    operation, so the iterates agree to the last bit or two, but not always bit for bit:
    torch's kernels fuse multiply-adds (``lerp``, ``addcmul``) and its vectorised ``sqrt``
    is not always correctly rounded, neither of which numpy reproduces (the floating-point
    appendix of the book).

    Parameters
    ----------
    lr : float or callable
        Step size ``η > 0`` or a schedule ``η(t)``.
    betas : tuple of float
        The decay rates ``(β₁, β₂)``, each in ``[0, 1)`` (torch's name and default).
    eps : float
        ``ε > 0`` added to ``√ŝ``.
    bias_correction : bool
        ``False`` drops the division by ``1 − βᵗ`` (for showing why it is there; not the
        slide's algorithm and not torch's).

    Examples
    --------
    The first corrected step is ``η·g/(|g| + ε)``, i.e. ``η·sign(g)`` up to ``ε``:

    >>> w = np.zeros(2); Adam(lr=0.1).update(w, np.array([3.0, -1e-3]))
    array([-0.1     ,  0.099999])
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
        m, s = self.state["m"], self.state["v"]
        beta1, beta2 = self.betas
        t = float(self.t)
        b0, b1 = self._buf
        # m ← lerp(m, g, 1 − β₁), computed as torch's lerp kernel does
        wt = 1.0 - beta1
        lerp_(m, g, wt, b0)
        # s ← β₂ s + (1 − β₂) g²   (torch: mul_ then addcmul_)
        s *= beta2
        np.multiply(g, 1.0 - beta2, out=b0)
        b0 *= g
        s += b0
        if self.bias_correction:
            bc1 = 1.0 - beta1 ** t
            bc2_sqrt = (1.0 - beta2 ** t) ** 0.5
        else:
            bc1 = bc2_sqrt = 1.0
        step_size = lr / bc1
        denom = np.sqrt(s, out=b1)
        denom /= bc2_sqrt
        denom += self.eps
        np.multiply(m, -step_size, out=b0)
        b0 /= denom
        w += b0


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, ICLR 2019).

    Before Adam's step the weights shrink by the factor ``1 − ηλ``, outside the adaptive
    scaling: ``w ← (1 − ηλ) w``, then ``w ← w − η m̂_t/(√ŝ_t + ε)`` with the moments of the
    gradient ``g_t`` of the loss alone. Adam with an ℓ2 penalty instead adds ``λw`` to
    ``g_t``, so the decay is divided by ``√ŝ_t`` like the rest of the gradient and
    coordinates with large gradients are decayed less.

    torch mapping: ``torch.optim.AdamW(params, lr=η, betas=(β₁, β₂), eps=ε,
    weight_decay=λ)`` is the same method (equal up to rounding); the defaults are torch's.

    Parameters
    ----------
    lr : float or callable
        Step size ``η > 0`` or a schedule ``η(t)`` (the decay factor uses the same ``η_t``).
    betas : tuple of float
        ``(β₁, β₂)``, each in ``[0, 1)``.
    eps : float
        ``ε > 0`` added to ``√ŝ``.
    weight_decay : float
        ``λ >= 0``; ``0`` is Adam.

    Examples
    --------
    With a zero gradient only the decay acts: ``w ← (1 − 0.1·0.5) w``.

    >>> AdamW(lr=0.1, weight_decay=0.5).update(np.array([2.0]), np.array([0.0]))
    array([1.9])
    """

    name = "AdamW"

    def __init__(self, lr=1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2):
        self.weight_decay = check_number(weight_decay, "weight_decay", 0.0)
        super().__init__(lr, betas, eps)

    def _update(self, w, g, lr):
        if self.weight_decay != 0:
            w *= 1.0 - lr * self.weight_decay      # torch: param.mul_(1 - lr * weight_decay)
        super()._update(w, g, lr)
