"""LARS — layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017) as a torch optimizer.

The slide "Another solution" writes the idea for layer ``i`` as

.. math:: w^{(i)} \\leftarrow w^{(i)} - \\eta \\frac{\\|w^{(i)}\\|}{\\|g^{(i)}\\|} g^{(i)} .

The paper's full rule (arXiv:1708.03888, Algorithm 1) adds weight decay ``β`` *inside*
the ratio, a trust coefficient ``η`` and momentum ``m``, and puts the global learning
rate ``γ_t`` of step ``t`` (warm-up, then polynomial decay) *inside* the momentum buffer:

.. math::

    \\lambda^{(i)} = \\eta \\frac{\\|w^{(i)}\\|}{\\|g^{(i)}\\| + \\beta \\|w^{(i)}\\| + \\epsilon},\\qquad
    v \\leftarrow m v + \\gamma_t \\lambda^{(i)} (g^{(i)} + \\beta w^{(i)}),\\qquad
    w^{(i)} \\leftarrow w^{(i)} - v ,

as Caffe's SGD solver does (``ComputeUpdateValue``: ``history = local_rate·diff +
momentum·history``, then the weight moves by ``history``; read in NVIDIA/caffe,
``src/caffe/solvers/sgd_solver.cpp`` at commit 20bc9816). In the NVIDIA-Caffe fork
``borisgin/nvcaffe`` (by its name, that of the paper's third author, Boris Ginsburg; the
same file at commit 08b1e298), ``GetLocalRate`` with ``local_lr_auto`` sets
``local_rate = η‖w‖/‖∇w‖·(1 − t/T)^power``, which enters the history the same way (in that version the ``β‖w‖`` term of the ratio
is commented out). This is ``lr_in_buffer=True``. The default, ``lr_in_buffer=False``,
uses ``torch.optim.SGD``'s convention, with the rate outside the buffer:

.. math:: v \\leftarrow m v + \\lambda^{(i)} (g^{(i)} + \\beta w^{(i)}),\\qquad
          w^{(i)} \\leftarrow w^{(i)} - \\gamma_t v .

The two are the same for a constant rate (then ``v_paper = γ v_torch``); when ``γ_t``
changes, the paper's buffer keeps the *old* rates of past gradients, torch's applies
the *current* rate to all of them (the distinction :ref:`chapter 05 <ch05>` makes for momentum).

Both follow ``torch.optim.SGD``'s other conventions (the first momentum buffer is the
first scaled direction, with no dampening; ``dampening``; ``nesterov``), so that with
``adapt=False`` and ``lr_in_buffer=False`` it *is* ``torch.optim.SGD``. The slide's
form is ``LARS(params, lr=1, trust_coefficient=η, eps=0)``.

Options, per parameter group:

* ``adapt`` — apply the layer-wise ratio (``True``); ``False`` gives plain SGD for that
  group. :func:`lec4lib.nets.trust_ratio.layerwise_param_groups` puts biases and normalization
  parameters in a group with ``adapt=False`` and no weight decay, as is usual for LARS.
* ``lr_in_buffer`` — the paper's placement of the global rate (above). The momentum
  buffer then holds ``γ``-scaled steps, so a buffer saved with one setting must not be
  resumed with the other.
* ``trust_clip`` — LARC clipping (NVIDIA apex): the effective rate ``γλ`` is capped at
  ``γ``, i.e. ``λ ← min(λ/γ, 1)`` multiplies ``γ``.
* zero norms — when ``‖w‖ = 0`` (e.g. a zero-initialized bias) or ``‖g‖ = 0`` the ratio
  would be 0 or undefined; the step then uses ``λ = 1`` (a plain SGD step), as apex and timm do.

All tensor work uses ``torch._foreach_*`` kernels (multi-tensor on CUDA); ``foreach=False``
selects a per-parameter loop that computes the same update.
"""

from __future__ import annotations

import torch

from ..validation import check_number
from .layerwise import LayerwiseOptimizer, _buckets, _check_flags, _check_lr, _zero_norm_guard

__all__ = ["LARS"]


class LARS(LayerwiseOptimizer):
    """Layer-wise Adaptive Rate Scaling (SGD with a per-tensor trust ratio).

    Parameters
    ----------
    params : iterable
        Parameters or dicts defining parameter groups (any option below can be set per group).
    lr : float
        Global learning rate ``γ >= 0``.
    momentum : float, default 0
        Momentum factor ``m`` in ``[0, 1)``.
    dampening : float, default 0
        Dampening for momentum, in ``[0, 1]`` (as in ``torch.optim.SGD``).
    weight_decay : float, default 0
        L2 coefficient ``β >= 0``; it enters both the direction ``g + βw`` and the ratio.
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0`` and ``dampening = 0``).
    trust_coefficient : float, default 0.001
        ``η > 0`` in the ratio ``η‖w‖/(‖g‖ + β‖w‖ + ε)``.
    eps : float, default 1e-8
        ``ε >= 0`` added to the ratio's denominator.
    trust_clip : bool, default False
        LARC clipping: use ``min(λ/γ, 1)`` in place of ``λ``.
    lr_in_buffer : bool, default False
        You et al.'s Algorithm 1: ``v ← m v + γ λ (g + βw)``, ``w ← w − v``; ``False``:
        torch's ``v ← m v + λ (g + βw)``, ``w ← w − γ v``.
    adapt : bool, default True
        Apply the layer-wise ratio; ``False`` makes the group plain SGD.
    foreach : bool or None, default None
        Use the multi-tensor (``torch._foreach_*``) implementation; ``None`` means yes.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))       # ‖w‖ = 5
    >>> w.grad = torch.tensor([0.0, 10.0])                      # ‖g‖ = 10
    >>> opt = LARS([w], lr=1.0, trust_coefficient=0.1, eps=0.0)
    >>> opt.step()                                              # w - 0.1·(5/10)·g
    >>> w.detach()
    tensor([3.0000, 3.5000])
    """

    _name = "LARS"
    _group_defaults = (("nesterov", False), ("trust_clip", False), ("adapt", True),
                       ("foreach", None), ("dampening", 0.0), ("lr_in_buffer", False))

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False,
                 trust_coefficient: float = 0.001, eps: float = 1e-8, trust_clip: bool = False,
                 adapt: bool = True, *, lr_in_buffer: bool = False,
                 foreach: bool | None = None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, trust_coefficient=trust_coefficient, eps=eps,
                        trust_clip=trust_clip, adapt=adapt, lr_in_buffer=lr_in_buffer,
                        foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def _validate(group: dict) -> None:
        _check_lr(group)
        check_number(group["momentum"], "momentum", 0.0, 1.0)
        check_number(group["dampening"], "dampening", 0.0, 1.0, high_open=False)
        check_number(group["weight_decay"], "weight_decay", 0.0)
        check_number(group["trust_coefficient"], "trust_coefficient", 0.0, low_open=True)
        check_number(group["eps"], "eps", 0.0)
        _check_flags(group, ("nesterov", "trust_clip", "adapt", "lr_in_buffer"))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Invalid nesterov: Nesterov momentum requires momentum > 0 "
                             "and dampening = 0")

    def _step_group(self, group: dict) -> None:
        params, grads, bufs = [], [], []
        for p in self._params_with_grad(group):
            params.append(p)
            grads.append(p.grad)
            bufs.append(self.state[p].get("momentum_buffer"))
        if not params:
            return
        kernel = _lars_foreach if group["foreach"] in (None, True) else _lars_loop
        for idx in _buckets(params):
            sub = [bufs[i] for i in idx]
            kernel([params[i] for i in idx], [grads[i] for i in idx], sub, group)
            for i, b in zip(idx, sub):
                bufs[i] = b
        if group["momentum"] != 0:
            for p, buf in zip(params, bufs):
                self.state[p]["momentum_buffer"] = buf


def _ratios(w_norms: torch.Tensor, g_norms: torch.Tensor, group: dict) -> torch.Tensor:
    """Trust ratios λ (one per tensor) from stacked norms; 1 where a norm is zero."""
    wd = group["weight_decay"]
    ratio = group["trust_coefficient"] * w_norms / (g_norms + wd * w_norms + group["eps"])
    ratio = _zero_norm_guard(ratio, w_norms, g_norms)
    if group["trust_clip"]:
        lr = group["lr"]
        ratio = torch.clamp(ratio / lr, max=1.0) if lr > 0 else torch.ones_like(ratio)
    return ratio


def _lars_foreach(params, grads, bufs, group) -> None:
    lr, m, wd = group["lr"], group["momentum"], group["weight_decay"]
    damp, nesterov = group["dampening"], group["nesterov"]
    if group["adapt"]:
        w_norms = torch.stack(torch._foreach_norm(params))
        g_norms = torch.stack(torch._foreach_norm(grads))
        ratio = _ratios(w_norms, g_norms, group)
    else:
        ratio = torch.ones(len(params), dtype=params[0].dtype, device=params[0].device)
    if m != 0 and group["lr_in_buffer"]:
        # the paper's form: the buffer takes γλ(g + βw) and w ← w − v (rate 1 outside)
        ratio, lr = ratio * lr, 1.0
    if m == 0:
        # w ← w(1 − γλβ) − γλ g
        if wd != 0:
            torch._foreach_mul_(params, list((1.0 - lr * wd * ratio).unbind()))
        torch._foreach_addcmul_(params, grads, list((-lr * ratio).unbind()))
        return
    # the scaled direction d = λ(g + βw) (γλ(g + βw) in the paper's form) enters the
    # buffer: v ← m v + (1 − dampening) d
    fresh = [i for i, b in enumerate(bufs) if b is None]
    old = [i for i, b in enumerate(bufs) if b is not None]
    if old:
        ob = [bufs[i] for i in old]
        r = ratio[old] * (1.0 - damp)
        torch._foreach_mul_(ob, m)
        torch._foreach_addcmul_(ob, [grads[i] for i in old], list(r.unbind()))
        if wd != 0:
            torch._foreach_addcmul_(ob, [params[i] for i in old], list((wd * r).unbind()))
    if fresh:
        new = torch._foreach_mul([grads[i] for i in fresh], list(ratio[fresh].unbind()))
        if wd != 0:
            torch._foreach_addcmul_(new, [params[i] for i in fresh],
                                    list((wd * ratio[fresh]).unbind()))
        for i, b in zip(fresh, new):
            bufs[i] = b
    if nesterov:
        # w ← w − γ(d + m v)  (γ = 1 here in the paper's form)
        d = torch._foreach_mul(grads, list(ratio.unbind()))
        if wd != 0:
            torch._foreach_addcmul_(d, params, list((wd * ratio).unbind()))
        torch._foreach_add_(d, bufs, alpha=m)
        torch._foreach_add_(params, d, alpha=-lr)
    else:
        torch._foreach_add_(params, bufs, alpha=-lr)


def _lars_loop(params, grads, bufs, group) -> None:
    lr, m, wd = group["lr"], group["momentum"], group["weight_decay"]
    damp, nesterov = group["dampening"], group["nesterov"]
    paper = m != 0 and group["lr_in_buffer"]
    inside, outside = (lr, 1.0) if paper else (1.0, lr)
    for i, (p, g) in enumerate(zip(params, grads)):
        if group["adapt"]:
            ratio = _ratios(p.norm().reshape(1), g.norm().reshape(1), group)[0]
        else:
            ratio = torch.ones((), dtype=p.dtype, device=p.device)
        d = (g + wd * p) * (ratio * inside)
        if m != 0:
            if bufs[i] is None:
                bufs[i] = d.clone()
            else:
                bufs[i].mul_(m).add_(d, alpha=1.0 - damp)
            d = d + m * bufs[i] if nesterov else bufs[i]
        p.add_(d, alpha=-outside)
