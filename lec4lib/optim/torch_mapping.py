"""Run a lec4lib optimizer and its torch.optim mapping side by side.
"""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer
from ..validation import check_int, check_lr

__all__ = ["torch_trajectory", "torch_scheduler_values"]


def torch_trajectory(optimizer: Optimizer, torch_factory, grad_fn, w0, steps: int,
                     dtype: str = "float64", torch_lr=None):
    """Run a lec4lib optimizer and a ``torch.optim`` optimizer on the same gradients.

    At every step the gradient is evaluated once, at the lec4lib optimizer's
    :meth:`~lec4lib.optim.optimizer.Optimizer.gradient_point`, and handed to both, so the two
    runs see identical inputs and any difference comes from the update rules alone.

    Parameters
    ----------
    optimizer : Optimizer
    torch_factory : callable
        ``torch_factory(params)`` returns a ``torch.optim.Optimizer`` over ``params``.
    grad_fn : callable
        ``grad_fn(w)`` (numpy in, numpy out).
    w0 : array_like
    steps : int
    dtype : {"float64", "float32"}
    torch_lr : callable, optional
        ``torch_lr(t)`` sets torch's learning rate before its update number ``t = 0, 1, …``
        (a schedule); by default torch keeps the rate it was built with.

    Returns
    -------
    ours, lookahead, theirs : ndarray, shape (steps + 1, d)
        Our iterates, our gradient points ``gradient_point(w_t)`` after each step (the
        look-ahead points for Nesterov, else equal to ``ours``) and torch's parameters.
    """
    import torch

    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    steps = check_int("steps", steps, 0)
    w = np.array(w0, dtype=dtype)
    p = torch.tensor(np.array(w0, dtype=dtype), requires_grad=True)
    topt = torch_factory([p])
    optimizer.reset()
    ours = np.empty((steps + 1,) + w.shape, dtype=dtype)
    look = np.empty_like(ours)
    theirs = np.empty_like(ours)
    ours[0] = look[0] = theirs[0] = w
    for t in range(steps):
        g = np.asarray(grad_fn(optimizer.gradient_point(w)), dtype=dtype)
        optimizer.update(w, g)
        p.grad = torch.from_numpy(g.copy())
        if torch_lr is not None:
            for group in topt.param_groups:
                group["lr"] = float(torch_lr(t))
        topt.step()
        ours[t + 1] = w
        look[t + 1] = optimizer.gradient_point(w)
        theirs[t + 1] = p.detach().numpy()
    return ours, look, theirs


def torch_scheduler_values(make_scheduler, lr: float, n_steps: int) -> np.ndarray:
    """The step sizes ``η_0, …, η_{n−1}`` that a ``torch.optim.lr_scheduler`` produces.

    The torch counterpart of :meth:`lec4lib.optim.schedules.Schedule.values`: a one-parameter
    ``torch.optim.SGD`` with step ``lr`` is driven for ``n_steps`` steps, reading its step
    size before each.

    Parameters
    ----------
    make_scheduler : callable
        ``make_scheduler(optimizer)`` returns the scheduler, e.g.
        ``lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.3)``.
    lr : float
        The optimizer's (initial) step size, ``> 0``.
    n_steps : int
        Number of values, ``>= 0``.

    Returns
    -------
    ndarray, shape (n_steps,)

    Examples
    --------
    >>> import torch
    >>> torch_scheduler_values(lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.5), 1.0, 5)
    array([1.  , 1.  , 0.5 , 0.5 , 0.25])
    """
    import torch

    n = check_int("n_steps", n_steps, 0)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=check_lr(lr, schedule=False))
    sched = make_scheduler(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)
