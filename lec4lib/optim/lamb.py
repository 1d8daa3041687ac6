"""LAMB — layer-wise adaptive moments (You et al. 2019) as a torch optimizer.

The slide "Another solution" says: LARS scales the stochastic gradient by ``‖w‖/‖g‖``
per layer; LAMB does the same with *the Adam update* in place of ``g``. For layer ``i``
(You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
arXiv:1904.00962, Algorithm 2):

.. math::

    m \\leftarrow \\beta_1 m + (1-\\beta_1) g,\\quad
    v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2,\\quad
    r = \\frac{m/(1-\\beta_1^t)}{\\sqrt{v/(1-\\beta_2^t)} + \\epsilon},\\quad
    u = r + \\lambda w,\\quad
    w \\leftarrow w - \\gamma_t \\frac{\\phi(\\|w\\|)}{\\|u\\|} u .

Where each piece sits, against Algorithm 2:

* **weight decay** enters the direction before the ratio is taken (``u = r + λw``, and
  ``‖u‖`` in the denominator), as in the paper;
* **bias correction** divides both moments by ``1 − β^t``, as in the paper
  (``bias_correction=False`` drops it, as the BERT reference code did);
* **the scaling function** ``φ`` is applied to the weight norm ``‖w‖``, not to the ratio.
  The paper's ``φ(z) = min(max(z, γ_l), γ_u)`` is ``weight_norm_bounds=(γ_l, γ_u)``
  (either bound may be ``None``); the default, ``None``, is ``φ(z) = z``.
  ``trust_clip=True`` is a different clip, of the ratio ``φ(‖w‖)/‖u‖`` at 1 (LAMBC,
  as in timm's ``Lamb(trust_clip=True)``), not the paper's ``φ``.

Options, per parameter group (all of them, ``weight_norm_bounds`` included): ``adapt=False`` drops the ratio (the group is then Adam with
L2 weight decay added to the update, i.e. AdamW-like with coupled rate);
``trust_clip=True`` caps the ratio at 1 ("LAMBC"); when ``φ(‖w‖) = 0`` or ``‖u‖ = 0``
the ratio is 1. There is no global gradient-norm clipping (timm's
``Lamb`` clips at 1.0 by default; pass ``max_grad_norm=None`` there to compare).

State per parameter follows ``torch.optim.Adam``: ``step`` (a float tensor),
``exp_avg`` and ``exp_avg_sq``. All tensor work uses ``torch._foreach_*`` kernels;
``foreach=False`` selects a per-parameter loop that computes the same update.
"""

from __future__ import annotations

import math

import torch

from ..validation import check_betas, check_number
from .layerwise import LayerwiseOptimizer, _buckets, _check_flags, _check_lr, _zero_norm_guard

__all__ = ["LAMB"]


class LAMB(LayerwiseOptimizer):
    """Layer-wise Adaptive Moments for Batch training.

    Parameters
    ----------
    params : iterable
        Parameters or dicts defining parameter groups (any option below can be set per group).
    lr : float, default 1e-3
        Global learning rate ``γ >= 0``.
    betas : tuple of float, default (0.9, 0.999)
        ``β1, β2`` in ``[0, 1)``.
    eps : float, default 1e-6
        ``ε >= 0`` added to ``√v̂``.
    weight_decay : float, default 0
        ``λ >= 0``, added to the Adam direction before the ratio is taken.
    bias_correction : bool, default True
        Divide the moments by ``1 − β^t``.
    trust_clip : bool, default False
        Cap the trust ratio at 1.
    weight_norm_bounds : tuple or None, default None
        ``(γ_l, γ_u)`` of the paper's ``φ(z) = min(max(z, γ_l), γ_u)``, applied to ``‖w‖``;
        ``0 <= γ_l <= γ_u``, either may be ``None`` (no bound). ``None``: ``φ(z) = z``.
    adapt : bool, default True
        Apply the layer-wise ratio; ``False`` leaves the Adam(+decay) update unscaled.
    foreach : bool or None, default None
        Use the multi-tensor (``torch._foreach_*``) implementation; ``None`` means yes.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))       # ‖w‖ = 5
    >>> w.grad = torch.tensor([1.0, -2.0])
    >>> opt = LAMB([w], lr=0.1, eps=0.0)
    >>> opt.step()                   # first Adam direction u = sign(g), ‖u‖ = √2
    >>> w.detach()                   # w − 0.1·(5/√2)·(1, −1)
    tensor([2.6464, 4.3536])
    """

    _name = "LAMB"
    _group_defaults = (("bias_correction", True), ("trust_clip", False), ("adapt", True),
                       ("foreach", None), ("weight_norm_bounds", None))

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, bias_correction: bool = True,
                 trust_clip: bool = False, adapt: bool = True, *,
                 weight_norm_bounds: tuple | None = None, foreach: bool | None = None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        bias_correction=bias_correction, trust_clip=trust_clip, adapt=adapt,
                        weight_norm_bounds=weight_norm_bounds, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def _validate(group: dict) -> None:
        _check_lr(group)
        check_betas(group["betas"])
        check_number(group["eps"], "eps", 0.0)
        check_number(group["weight_decay"], "weight_decay", 0.0)
        _check_flags(group, ("bias_correction", "trust_clip", "adapt"))
        bounds = group["weight_norm_bounds"]
        if bounds is not None:
            if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
                raise ValueError(f"Invalid weight_norm_bounds: {bounds!r} (must be None or a "
                                 "pair (low, high), either of which may be None)")
            low, high = bounds
            if low is None and high is None:
                raise ValueError("Invalid weight_norm_bounds: (None, None) (give at least one "
                                 "bound, or weight_norm_bounds=None for no clipping)")
            if low is not None:
                check_number(low, "weight_norm_bounds[0]", 0.0)
            if high is not None:
                check_number(high, "weight_norm_bounds[1]", 0.0, low_open=True)
            if low is not None and high is not None and low > high:
                raise ValueError(f"Invalid weight_norm_bounds: low {low} > high {high}")

    def _step_group(self, group: dict) -> None:
        params, grads, steps, ms, vs = [], [], [], [], []
        for p in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            params.append(p)
            grads.append(p.grad)
            steps.append(state["step"])
            ms.append(state["exp_avg"])
            vs.append(state["exp_avg_sq"])
        if not params:
            return
        for s in steps:
            s += 1
        kernel = _lamb_foreach if group["foreach"] in (None, True) else _lamb_loop
        for idx in _buckets(params):
            kernel([params[i] for i in idx], [grads[i] for i in idx],
                   [steps[i] for i in idx], [ms[i] for i in idx], [vs[i] for i in idx],
                   group)


def _lamb_ratio(w_norms: torch.Tensor, u_norms: torch.Tensor, group: dict) -> torch.Tensor:
    """``φ(‖w‖)/‖u‖`` per tensor (1 where a norm is zero), capped at 1 with ``trust_clip``."""
    bounds = group.get("weight_norm_bounds")
    if bounds is not None:
        w_norms = torch.clamp(w_norms, min=bounds[0], max=bounds[1])   # φ of Algorithm 2
    ratio = w_norms / u_norms
    ratio = _zero_norm_guard(ratio, w_norms, u_norms)
    if group["trust_clip"]:
        ratio = torch.clamp(ratio, max=1.0)
    return ratio


def _bias_corrections(step: float, group: dict) -> tuple[float, float]:
    if not group["bias_correction"]:
        return 1.0, 1.0
    b1, b2 = group["betas"]
    return 1.0 - b1 ** step, 1.0 - b2 ** step


def _lamb_foreach(params, grads, steps, ms, vs, group) -> None:
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    b1, b2 = group["betas"]
    # every tensor of a group is stepped together, so one step count serves the group
    # (tensors that joined late, with a fresh state, fall back to their own counts)
    counts = {float(s) for s in steps}
    if len(counts) > 1:
        for i in range(len(params)):
            _lamb_foreach([params[i]], [grads[i]], [steps[i]], [ms[i]], [vs[i]], group)
        return
    bc1, bc2 = _bias_corrections(counts.pop(), group)
    torch._foreach_lerp_(ms, grads, 1.0 - b1)                 # m ← β1 m + (1 − β1) g
    torch._foreach_mul_(vs, b2)
    torch._foreach_addcmul_(vs, grads, grads, value=1.0 - b2)  # v ← β2 v + (1 − β2) g²
    # r = (m/bc1) / (√(v/bc2) + ε) = s · m / (√v + ε√bc2) with s = √bc2 / bc1
    s = math.sqrt(bc2) / bc1
    u = torch._foreach_sqrt(vs)
    torch._foreach_add_(u, eps * math.sqrt(bc2))
    torch._foreach_reciprocal_(u)
    torch._foreach_mul_(u, ms)                                 # u = r / s
    if wd != 0:
        torch._foreach_add_(u, params, alpha=wd / s)           # u = (r + λw) / s
    if group["adapt"]:
        w_norms = torch.stack(torch._foreach_norm(params))
        u_norms = torch.stack(torch._foreach_norm(u)) * s
        step_sizes = _lamb_ratio(w_norms, u_norms, group) * (-lr * s)
        torch._foreach_addcmul_(params, u, list(step_sizes.unbind()))
    else:
        torch._foreach_add_(params, u, alpha=-lr * s)


def _lamb_loop(params, grads, steps, ms, vs, group) -> None:
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    b1, b2 = group["betas"]
    for p, g, step, m, v in zip(params, grads, steps, ms, vs):
        bc1, bc2 = _bias_corrections(float(step), group)
        m.mul_(b1).add_(g, alpha=1.0 - b1)
        v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        u = (m / bc1) / ((v / bc2).sqrt() + eps) + wd * p
        if group["adapt"]:
            ratio = _lamb_ratio(p.norm().reshape(1), u.norm().reshape(1), group)[0]
            p.sub_(lr * ratio * u)
        else:
            p.sub_(lr * u)
