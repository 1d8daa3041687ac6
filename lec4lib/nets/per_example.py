"""What the batch size buys and costs: gradient noise, computation, throughput, memory.

* :func:`per_sample_gradients` and :func:`gradient_variance_vs_batch_size` — the noise of
  the minibatch gradient ``g_B = (1/|B|) Σ_{n∈B} g_n`` around the full gradient ``g``.
  With batches drawn with replacement, ``E‖g_B − g‖² = tr Σ / |B|`` exactly, where
  ``Σ`` is the covariance of the per-sample gradients; without replacement from ``N``
  examples it is ``tr Σ / |B| · (N − |B|)/(N − 1)``.
* :func:`flops_per_step` — computation of one training step (forward + backward),
  counted by :class:`torch.utils.flop_counter.FlopCounterMode`; it is linear in ``|B|``.
* :func:`throughput_vs_batch_size` — samples per second of a training step on the
  current device, measured; where it stops growing, the device is saturated.
* :func:`saved_activation_bytes` and :func:`memory_per_sample` — the bytes autograd keeps
  for the backward pass, which grow linearly with ``|B|``; slope = memory per sample.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from ..theory.gradient_noise import minibatch_variance
from ..theory.measure import loglog_slope
from ..validation import check_int, check_number

__all__ = ["per_sample_gradients", "gradient_variance_vs_batch_size",
           "flops_per_step", "throughput_vs_batch_size", "saturation_batch_size",
           "saved_activation_bytes", "memory_per_sample"]


def _check_batch_sizes(batch_sizes, high: int | None = None) -> list[int]:
    bs = list(batch_sizes)
    if not bs:
        raise ValueError(f"Invalid batch_sizes: {bs!r} (must name at least one size)")
    return [check_int("batch_sizes entries", b, 1, high) for b in bs]


def _check_input_shape(input_shape) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if not shape:
        raise ValueError(f"Invalid input_shape: {input_shape!r} (must be a non-empty tuple)")
    return tuple(check_int("input_shape entries", s) for s in shape)


def per_sample_gradients(model: nn.Module, data, loss_fn=None) -> torch.Tensor:
    """Gradient of the loss of every example, flattened: one row per example.

    Uses ``torch.func`` (``vmap`` over ``grad`` of a ``functional_call``), so all
    examples are differentiated in one vectorized pass.

    Parameters
    ----------
    model : torch.nn.Module
        Model; its trainable parameters, in ``model.parameters()`` order, are the columns.
    data : tuple of (Tensor, Tensor)
        ``(x, y)`` with ``n`` examples.
    loss_fn : callable, optional
        ``loss_fn(output, target)`` for a batch; default mean cross-entropy.

    Returns
    -------
    Tensor, shape (n, d)

    Examples
    --------
    >>> lin = nn.Linear(1, 1, bias=False)
    >>> with torch.no_grad(): _ = lin.weight.fill_(1.0)
    >>> x = torch.tensor([[1.0], [2.0]]); y = torch.zeros(2, 1)
    >>> per_sample_gradients(lin, (x, y), loss_fn=F.mse_loss)  # d/dw (w x)² = 2 w x²
    tensor([[2.],
            [8.]])
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and len(data[0]) == len(data[1])
            and len(data[0]) > 0):
        raise ValueError("data must be a pair (x, y) of non-empty tensors of equal length")
    fn = loss_fn or F.cross_entropy
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}

    def loss_one(p, x, y):
        return fn(functional_call(model, p, (x.unsqueeze(0),)), y.unsqueeze(0))

    grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, *data)
    return torch.cat([grads[n].reshape(len(data[0]), -1) for n in params], dim=1)


def gradient_variance_vs_batch_size(per_sample_grads, batch_sizes, *, n_draws: int = 200,
                                    seed: int = 0, replace: bool = True) -> dict:
    """Measure ``E‖g_B − g‖²`` for each batch size by drawing random batches.

    Parameters
    ----------
    per_sample_grads : Tensor or ndarray, shape (N, d)
        One gradient per example (e.g. from :func:`per_sample_gradients`). Batch sums
        are computed in its precision (float32 is twice as fast as float64), the
        statistics in float64.
    batch_sizes : list of int
        Batch sizes to measure (``1 <= |B|``, and ``<= N`` without replacement).
    n_draws : int, default 200
        Batches drawn per batch size (``>= 2``).
    seed : int, default 0
        Seed of the batch draws (``>= 0``).
    replace : bool, default True
        Draw batch members with replacement (i.i.d.) or without.

    Returns
    -------
    dict
        ``batch_sizes``; ``measured`` (mean squared distance of ``g_B`` to ``g`` over the
        draws); ``predicted`` (``tr Σ / |B|``, times ``(N − |B|)/(N − 1)`` without
        replacement); ``trace_cov`` (``tr Σ``, population covariance of the rows);
        ``slope`` (log-log slope of ``measured`` against ``|B|``).

    Examples
    --------
    >>> G = torch.tensor([[1.0], [-1.0]])        # tr Σ = 1
    >>> r = gradient_variance_vs_batch_size(G, [1], n_draws=10)
    >>> r["measured"][0], r["predicted"][0]
    (1.0, 1.0)
    """
    G = torch.as_tensor(per_sample_grads)
    if not G.is_floating_point():
        G = G.double()
    if G.ndim != 2 or G.shape[0] < 2:
        raise ValueError(f"per_sample_grads must have shape (N, d) with N >= 2, got {tuple(G.shape)}")
    N = G.shape[0]
    bs = _check_batch_sizes(batch_sizes, None if replace else N)
    n_draws = check_int("n_draws", n_draws, 2)
    seed = check_int("seed", seed, 0)
    g = G.double().mean(0)
    trace_cov = float(((G.double() - g) ** 2).sum(1).mean())
    gen = torch.Generator().manual_seed(int(seed))
    measured, predicted = [], []
    for b in bs:
        if replace:
            idx = torch.randint(N, (n_draws, b), generator=gen)
        else:
            idx = torch.stack([torch.randperm(N, generator=gen)[:b] for _ in range(n_draws)])
        # batch means as (counts @ G) / b: never materializes an (n_draws, b, d) array
        counts = torch.zeros(n_draws, N, dtype=G.dtype)
        counts.scatter_add_(1, idx, torch.ones(idx.shape, dtype=G.dtype))
        gb = (counts @ G).double() / b                       # (n_draws, d), G's precision
        measured.append(float(((gb - g) ** 2).sum(1).mean()))
        predicted.append(minibatch_variance(trace_cov, N, b, replace))
    slope = loglog_slope(bs, measured) if len(bs) >= 2 and min(measured) > 0 else float("nan")
    return {"batch_sizes": bs, "measured": measured, "predicted": predicted,
            "trace_cov": trace_cov, "slope": slope}


def _train_step(model, x, y):
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def flops_per_step(model: nn.Module, input_shape, batch_size: int, num_classes: int = 10) -> int:
    """Floating-point operations of one training step (forward + backward, no optimizer).

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode` (matrix multiplies and
    convolutions; element-wise operations are not counted).

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
        Shape of one example, e.g. ``(1, 8, 8)``.
    batch_size : int
        ``>= 1``.
    num_classes : int, default 10
        Targets are drawn from ``0..num_classes-1``.

    Returns
    -------
    int

    Examples
    --------
    >>> lin = nn.Linear(4, 3)
    >>> flops_per_step(lin, (4,), 2, num_classes=3)  # forward 2·2·4·3 = 48, weight grad 48
    96
    """
    from torch.utils.flop_counter import FlopCounterMode

    shape = _check_input_shape(input_shape)
    b = check_int("batch_size", batch_size)
    x = torch.zeros((b, *shape))
    y = torch.zeros(b, dtype=torch.int64) % check_int("num_classes", num_classes, 2)
    counter = FlopCounterMode(display=False)
    with counter:
        _train_step(model, x, y)
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def throughput_vs_batch_size(model: nn.Module, input_shape, batch_sizes, *, repeats: int = 5,
                             min_time: float = 0.05, device: str | torch.device = "cpu",
                             num_classes: int = 10, seed: int = 0) -> dict:
    """Measure samples per second of a training step (forward + backward) per batch size.

    Each batch size is warmed up once, then timed as the best of ``repeats`` blocks of
    steps, each block lasting at least ``min_time`` seconds. The best block is the
    least disturbed by other processes, which matters on a shared machine.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to ``device``.
    input_shape : tuple of int
        Shape of one example.
    batch_sizes : list of int
        Each ``>= 1``.
    repeats : int, default 5
        Timed blocks per batch size (``>= 1``).
    min_time : float, default 0.05
        Minimum seconds per block (``>= 0``).
    device : str or torch.device, default "cpu"
    num_classes : int, default 10
    seed : int, default 0
        Seed of the random inputs.

    Returns
    -------
    dict
        ``batch_sizes``, ``samples_per_s``, ``seconds_per_step``, ``device``.
    """
    shape = _check_input_shape(input_shape)
    bs = _check_batch_sizes(batch_sizes)
    repeats = check_int("repeats", repeats)
    min_time = check_number(min_time, "min_time", 0.0)
    device = torch.device(device)
    model = model.to(device)
    gen = torch.Generator().manual_seed(check_int("seed", seed, 0))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    per_step = []
    for b in bs:
        x = torch.randn((b, *shape), generator=gen).to(device)
        y = torch.randint(check_int("num_classes", num_classes, 2), (b,), generator=gen).to(device)
        _train_step(model, x, y)
        sync()
        best = float("inf")
        for _ in range(repeats):
            n, t0 = 0, time.perf_counter()
            while True:
                _train_step(model, x, y)
                n += 1
                sync()
                elapsed = time.perf_counter() - t0
                if elapsed >= min_time:
                    break
            best = min(best, elapsed / n)
        per_step.append(best)
    model.zero_grad(set_to_none=True)
    return {"batch_sizes": bs, "seconds_per_step": per_step,
            "samples_per_s": [b / t for b, t in zip(bs, per_step)], "device": str(device)}


def saturation_batch_size(batch_sizes, samples_per_s, fraction: float = 0.9) -> int:
    """Smallest batch size whose throughput reaches ``fraction`` of the best measured.

    Examples
    --------
    >>> saturation_batch_size([1, 2, 4, 8], [10, 18, 30, 31])
    4
    """
    bs, sp = np.asarray(list(batch_sizes)), np.asarray(list(samples_per_s), dtype=float)
    if bs.shape != sp.shape or bs.size == 0:
        raise ValueError("batch_sizes and samples_per_s must be non-empty and of equal length")
    fraction = check_number(fraction, "fraction", 0.0, 1.0, low_open=True, high_open=False)
    order = np.argsort(bs)
    bs, sp = bs[order], sp[order]
    return int(bs[np.argmax(sp >= fraction * sp.max())])


def saved_activation_bytes(model: nn.Module, input_shape, batch_size: int, num_classes: int = 10) -> int:
    """Bytes of the tensors autograd saves for the backward pass of one batch.

    Counted with ``torch.autograd.graph.saved_tensors_hooks`` during the forward
    pass and the loss. Parameters that autograd saves (e.g. a weight kept for the input
    gradient) are counted once per use; they do not grow with the batch.

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
    batch_size : int
    num_classes : int, default 10

    Returns
    -------
    int

    Examples
    --------
    >>> lin = nn.Linear(4, 3, bias=False)
    >>> saved_activation_bytes(lin, (4,), 2, num_classes=3) > 0
    True
    """
    shape = _check_input_shape(input_shape)
    b = check_int("batch_size", batch_size)
    seen: dict[tuple, int] = {}

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype)
        seen[key] = t.numel() * t.element_size()
        return t

    x = torch.zeros((b, *shape), requires_grad=False)
    y = torch.zeros(b, dtype=torch.int64) % check_int("num_classes", num_classes, 2)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(model(x), y)
    del loss
    return int(sum(seen.values()))


def memory_per_sample(model: nn.Module, input_shape, batch_sizes=(1, 2, 4, 8, 16, 32),
                      num_classes: int = 10) -> dict:
    """Fit ``saved bytes = fixed + per_sample · |B|`` over several batch sizes.

    Returns
    -------
    dict
        ``batch_sizes``, ``bytes`` (measured), ``per_sample_bytes`` (slope),
        ``fixed_bytes`` (intercept), ``max_abs_residual`` (bytes; 0 when exactly linear),
        ``parameter_bytes`` (the model's parameters; their gradients and an optimizer's
        state add multiples of this, independent of ``|B|``).

    Examples
    --------
    >>> r = memory_per_sample(nn.Linear(4, 3), (4,), num_classes=3)
    >>> r["per_sample_bytes"] > 0
    True
    """
    bs = _check_batch_sizes(batch_sizes)
    if len(set(bs)) < 2:
        raise ValueError("batch_sizes must hold at least two different values")
    measured = [saved_activation_bytes(model, input_shape, b, num_classes) for b in bs]
    slope, intercept = np.polyfit(np.asarray(bs, float), np.asarray(measured, float), 1)
    resid = np.asarray(measured) - (intercept + slope * np.asarray(bs))
    return {"batch_sizes": bs, "bytes": measured, "per_sample_bytes": float(slope),
            "fixed_bytes": float(intercept), "max_abs_residual": float(np.abs(resid).max()),
            "parameter_bytes": int(sum(p.numel() * p.element_size() for p in model.parameters()))}
