"""What :class:`lec4lib.optim.lars.LARS` and :class:`lec4lib.optim.lamb.LAMB` share.

Both are ``torch.optim.Optimizer`` subclasses with the same contract: hyper-parameters
validated at construction and in :meth:`~LayerwiseOptimizer.add_param_group` (the same
messages), per-group defaults restored by ``__setstate__`` for old state dicts, a ``step``
that evaluates the closure with gradients enabled and then updates each group, no sparse
gradients, tensors bucketed by (device, dtype) so their norms can be stacked, and a trust
ratio that falls back to 1 where a norm is zero.
"""

from __future__ import annotations


import torch
from torch.optim import Optimizer
from ..validation import check_bool, check_lr

__all__ = ["LayerwiseOptimizer"]


def _check_lr(group: dict) -> None:
    if isinstance(group["lr"], torch.Tensor):
        raise ValueError("Invalid learning rate: a Tensor lr is not supported (use a float)")
    check_lr(group["lr"], schedule=False)


def _check_flags(group: dict, keys) -> None:
    """``keys`` must be bools and ``foreach`` one of None, True, False."""
    for key in keys:
        check_bool(key, group[key])
    if group["foreach"] not in (None, True, False):
        raise ValueError(f"Invalid foreach: {group['foreach']!r} (must be None, True or False)")


def _buckets(params) -> list[list[int]]:
    """Indices of ``params`` grouped by (device, dtype), so their norms can be stacked."""
    out: dict = {}
    for i, p in enumerate(params):
        out.setdefault((p.device, p.dtype), []).append(i)
    return list(out.values())


def _zero_norm_guard(ratio: torch.Tensor, w_norms: torch.Tensor,
                     d_norms: torch.Tensor) -> torch.Tensor:
    """``ratio`` where both norms are positive, 1 elsewhere (a zero norm gives no scale)."""
    return torch.where((w_norms > 0) & (d_norms > 0), ratio, torch.ones_like(ratio))


class LayerwiseOptimizer(Optimizer):
    """Base of LARS and LAMB: validation, ``__setstate__`` defaults and the closure in ``step``.

    A subclass sets ``_name`` (for error messages) and ``_group_defaults`` (the keys
    ``__setstate__`` fills in), and defines ``_validate(group)`` and ``_step_group(group)``.
    """

    _name: str = ""
    _group_defaults: tuple = ()

    def __init__(self, params, defaults: dict):
        self._validate(defaults)
        super().__init__(params, defaults)

    @staticmethod
    def _validate(group: dict) -> None:
        raise NotImplementedError

    def _step_group(self, group: dict) -> None:
        raise NotImplementedError

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (as ``torch.optim.Optimizer``), validating its hyper-parameters."""
        super().add_param_group(param_group)
        self._validate(self.param_groups[-1])

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self._group_defaults:
                group.setdefault(key, value)

    def _params_with_grad(self, group: dict):
        """The group's parameters that have a (dense) gradient, in order."""
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(f"{self._name} does not support sparse gradients")
            yield p

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one optimization step.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss.

        Returns
        -------
        loss or None
            What ``closure`` returned.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss
