"""Sharpness of a minimum: the top eigenvalue of the loss Hessian, without forming it.

The Hessian of a network with ``d`` parameters has ``d²`` entries, but a
Hessian-vector product ``Hv`` costs about two backward passes (Pearlmutter 1994):
``Hv = ∇_w (∇_w L(w) · v)``. Power iteration ``v ← Hv / ‖Hv‖`` then finds the
eigenvalue of largest magnitude. :func:`exact_hessian` forms the whole matrix with
``torch.autograd.functional.hessian`` for small models, so the two can be compared.

The largest eigenvalue is also the local curvature ``L`` that bounds a stable gradient
step, ``η < 2/L`` (see :mod:`lec4lib.problems.quadratic`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ..validation import check_int, check_number

__all__ = ["hessian_vector_product", "top_hessian_eigenvalue", "exact_hessian", "SharpnessResult"]


def _check(model, data):
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(t, torch.Tensor) for t in data) and len(data[0]) == len(data[1])
            and len(data[0]) > 0):
        raise ValueError("data must be a pair (x, y) of non-empty tensors of equal length")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameters that require grad")
    return params


def _loss(model, data, loss_fn):
    x, y = data
    return (loss_fn or F.cross_entropy)(model(x), y)


def hessian_vector_product(model: nn.Module, data, vector: torch.Tensor, loss_fn=None) -> torch.Tensor:
    """Product of the Hessian of the mean loss on ``data`` with ``vector``.

    Parameters
    ----------
    model : torch.nn.Module
        The model; its parameters that require grad are the variables.
    data : tuple of (Tensor, Tensor)
        ``(x, y)``; the loss is ``loss_fn(model(x), y)``.
    vector : Tensor, shape (d,)
        A flat vector, ``d`` = number of trainable parameters, in ``model.parameters()`` order.
    loss_fn : callable, optional
        ``loss_fn(output, target) -> scalar``; default cross-entropy (mean).

    Returns
    -------
    Tensor, shape (d,)

    Examples
    --------
    >>> lin = nn.Linear(1, 1, bias=False)
    >>> data = (torch.tensor([[2.0]]), torch.tensor([[0.0]]))
    >>> hessian_vector_product(lin, data, torch.ones(1), loss_fn=F.mse_loss)  # d²/dw² (2w)² = 8
    tensor([8.])
    """
    params = _check(model, data)
    d = sum(p.numel() for p in params)
    if not (isinstance(vector, torch.Tensor) and vector.shape == (d,)):
        raise ValueError(f"vector must be a flat tensor of shape ({d},)")
    return _HVP(model, data, loss_fn)(vector)


class _HVP:
    """Keeps the graph of the gradient so that repeated products cost one backward each."""

    def __init__(self, model, data, loss_fn):
        self.params = [p for p in model.parameters() if p.requires_grad]
        grads = torch.autograd.grad(_loss(model, data, loss_fn), self.params, create_graph=True)
        self.flat_grad = torch.cat([g.reshape(-1) for g in grads])

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        v = v.to(self.flat_grad)
        hv = torch.autograd.grad(self.flat_grad, self.params, grad_outputs=v, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]).detach()


@dataclass
class SharpnessResult:
    """Result of :func:`top_hessian_eigenvalue`.

    Attributes
    ----------
    eigenvalue : float
        Rayleigh quotient ``vᵀHv`` at the last iterate (the eigenvalue of largest magnitude).
    vector : Tensor
        The unit eigenvector estimate.
    iterations : int
        Hessian-vector products used.
    residual : float
        ``‖Hv − λv‖ / |λ|`` at the last iterate.
    converged : bool
        ``residual <= tol``.
    history : list of float
        Rayleigh quotient at every iteration.
    """

    eigenvalue: float
    vector: torch.Tensor
    iterations: int
    residual: float
    converged: bool
    history: list = field(default_factory=list)


def top_hessian_eigenvalue(model: nn.Module, data, *, iters: int = 100, tol: float = 1e-4,
                           seed: int = 0, loss_fn=None) -> SharpnessResult:
    """Eigenvalue of largest magnitude of the loss Hessian, by power iteration on HVPs.

    Parameters
    ----------
    model : torch.nn.Module
        The model at the point of interest (e.g. a trained minimum).
    data : tuple of (Tensor, Tensor)
        ``(x, y)``: the loss is the mean loss on these examples.
    iters : int, default 100
        Maximum number of Hessian-vector products (``>= 1``).
    tol : float, default 1e-4
        Stop when the relative residual ``‖Hv − λv‖ / |λ|`` is at most ``tol`` (``> 0``).
    seed : int, default 0
        Seed of the random start vector (``>= 0``).
    loss_fn : callable, optional
        ``loss_fn(output, target)``; default mean cross-entropy.

    Returns
    -------
    SharpnessResult

    Notes
    -----
    Power iteration converges to the eigenvalue of largest *magnitude*; at a minimum the
    Hessian is (nearly) positive semi-definite and that is the top eigenvalue. Its speed
    depends on the gap ``|λ₂/λ₁|``: check ``converged``.

    Examples
    --------
    >>> lin = nn.Linear(2, 1, bias=False)
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 3.0]]); y = torch.zeros(2, 1)
    >>> r = top_hessian_eigenvalue(lin, (x, y), loss_fn=F.mse_loss, tol=1e-6)
    >>> round(r.eigenvalue, 4)  # H = 2 XᵀX / 2 = diag(1, 9)
    9.0
    """
    params = _check(model, data)
    iters = check_int("iters", iters)
    tol = check_number(tol, "tol", 0.0, low_open=True)
    seed = check_int("seed", seed, 0)
    hvp = _HVP(model, data, loss_fn)
    d = hvp.flat_grad.numel()
    g = torch.Generator().manual_seed(int(seed))
    v = torch.randn(d, generator=g, dtype=torch.float64).to(hvp.flat_grad)
    v = v / v.norm()
    history, lam, residual = [], 0.0, math.inf
    for k in range(1, int(iters) + 1):
        hv = hvp(v)
        lam = float(v @ hv)
        history.append(lam)
        residual = float((hv - lam * v).norm()) / max(abs(lam), 1e-300)
        if residual <= tol:
            break
        nrm = hv.norm()
        if nrm == 0:          # v is in the null space: the Hessian restricted to it is 0
            break
        v = hv / nrm
    return SharpnessResult(eigenvalue=lam, vector=v.detach(), iterations=k, residual=residual,
                           converged=residual <= tol, history=history)


def exact_hessian(model: nn.Module, data, loss_fn=None) -> torch.Tensor:
    """The full ``d × d`` Hessian of the mean loss (small models only).

    Built with ``torch.autograd.functional.hessian`` on the flattened parameters, an
    implementation independent of :func:`hessian_vector_product`.

    Parameters
    ----------
    model : torch.nn.Module
        A model with at most 5,000 trainable parameters.
    data : tuple of (Tensor, Tensor)
    loss_fn : callable, optional
        Default mean cross-entropy.

    Returns
    -------
    Tensor, shape (d, d)

    Examples
    --------
    >>> lin = nn.Linear(2, 1, bias=False)
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 3.0]]); y = torch.zeros(2, 1)
    >>> exact_hessian(lin, (x, y), loss_fn=F.mse_loss)
    tensor([[1., 0.],
            [0., 9.]])
    """
    params = _check(model, data)
    d = sum(p.numel() for p in params)
    if d > 5000:
        raise ValueError(f"model has {d} trainable parameters; exact_hessian allows at most 5000")
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    x, y = data
    fn = loss_fn or F.cross_entropy

    def loss_of(flat):
        chunks = torch.split(flat, sizes)
        p = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes)}
        return fn(functional_call(model, p, (x,)), y)

    flat0 = torch.cat([p.detach().reshape(-1) for p in params])
    return torch.autograd.functional.hessian(loss_of, flat0)
