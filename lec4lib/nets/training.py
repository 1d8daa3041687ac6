"""Small, seeded torch training on real data: the digits set, a small CNN, one loop.

Everything the large-batch chapters train goes through this module, so that SGD, LR
scaling, LARS and LAMB are compared on the same data, the same model and the same loop:

* :func:`load_digits_tensors` — scikit-learn's ``load_digits`` (1797 real 8×8 images of
  handwritten digits, shipped with scikit-learn, nothing is downloaded), standardized with
  the training set's statistics and split with a seed;
* :class:`SmallCNN` — a small convolutional network for ``1×8×8`` inputs whose
  initialization depends only on its ``seed``;
* :func:`train` — minibatch training with a seeded shuffle; returns a
  :class:`TrainHistory` (loss of every step, test accuracy after every epoch, wall time).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from ..validation import check_int, check_number

__all__ = ["load_digits_tensors", "digits_train_size", "SmallCNN", "TrainHistory", "train", "evaluate", "torch_threads"]


@contextmanager
def torch_threads(n: int = 1):
    """Run the block with ``torch.set_num_threads(n)``, then restore the previous count.

    The models of the book are tiny: one thread is as fast as two, and far faster when
    other processes compete for the cores (idle threads spin). Results do not depend on it
    in practice, but the chapters and their claim tests use the same setting anyway.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    n = check_int("n", n)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_digits_tensors(seed: int = 0, test_size: float = 0.25, dtype=torch.float32):
    """Load scikit-learn's digits as standardized image tensors with a seeded split.

    Parameters
    ----------
    seed : int, default 0
        Seed of the stratified train/test split (``>= 0``).
    test_size : float, default 0.25
        Fraction of the 1797 images held out for testing, in ``(0, 1)``.
    dtype : torch.dtype, default torch.float32
        Floating dtype of the images.

    Returns
    -------
    train, test : tuple of (Tensor, Tensor)
        ``(x, y)`` pairs; ``x`` has shape ``(n, 1, 8, 8)``, ``y`` holds class indices
        ``0..9`` (``torch.int64``). Each pixel is standardized with the mean and standard
        deviation of the *training* images (pixels that are constant in training are only
        centred), so no test statistics leak into training.

    Examples
    --------
    >>> (x_tr, y_tr), (x_te, y_te) = load_digits_tensors(seed=0, test_size=0.25)
    >>> tuple(x_tr.shape[1:]), len(x_tr) + len(x_te)
    ((1, 8, 8), 1797)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    seed = check_int("seed", seed, 0)
    test_size = check_number(test_size, "test_size", 0.0, 1.0, low_open=True)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating torch dtype, got {dtype!r}")
    digits = load_digits()
    x = digits.images.astype(np.float64)          # (1797, 8, 8), values 0..16
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=float(test_size),
                                              random_state=seed, stratify=y)
    mean = x_tr.mean(axis=0)
    std = x_tr.std(axis=0)
    std[std == 0] = 1.0
    x_tr = (x_tr - mean) / std
    x_te = (x_te - mean) / std

    def pack(xa, ya):
        return (torch.as_tensor(xa[:, None, :, :], dtype=dtype),
                torch.as_tensor(ya, dtype=torch.int64))

    return pack(x_tr, y_tr), pack(x_te, y_te)


def digits_train_size(test_size: float = 0.25) -> int:
    """The number of training digits :func:`load_digits_tensors` returns for ``test_size``.

    Examples
    --------
    >>> digits_train_size()
    1347
    """
    return len(load_digits_tensors(test_size=test_size)[0][0])


class SmallCNN(nn.Module):
    """A small convolutional network for ``1×8×8`` images (the digits).

    ``conv(1→c1, 3×3) → ReLU → conv(c1→c2, 3×3) → ReLU → maxpool 2 → linear(16·c2→hidden)
    → ReLU → linear(hidden→classes)``. With the defaults it has 9,802 parameters.

    Parameters
    ----------
    seed : int, default 0
        Seed of the initialization (PyTorch's default layer initialization drawn from a
        private generator state: the global RNG is left as it was).
    channels : tuple of two int, default (8, 16)
        Output channels of the two convolutions (each ``>= 1``).
    hidden : int, default 32
        Width of the hidden linear layer (``>= 1``).
    num_classes : int, default 10
        Number of outputs (``>= 2``).

    Examples
    --------
    >>> model = SmallCNN(seed=0)
    >>> model(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, seed: int = 0, channels=(8, 16), hidden: int = 32, num_classes: int = 10):
        super().__init__()
        seed = check_int("seed", seed, 0)
        if len(channels) != 2:
            raise ValueError(f"Invalid channels: {channels!r} (must be a pair of integers >= 1)")
        c1, c2 = (check_int("channels entries", c) for c in channels)
        hidden = check_int("hidden", hidden)
        num_classes = check_int("num_classes", num_classes, 2)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
            self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
            self.fc1 = nn.Linear(16 * c2, int(hidden))
            self.fc2 = nn.Linear(int(hidden), int(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


@dataclass
class TrainHistory:
    """What :func:`train` records.

    Attributes
    ----------
    loss : list of float
        Training loss (mean cross-entropy of the minibatch) at every optimizer step,
        measured before the step.
    test_accuracy : list of float
        Test accuracy after every epoch (empty without ``test_data``).
    epoch_loss : list of float
        Mean of the step losses of every epoch.
    train_loss : list of float
        Loss on the whole training set after every epoch (only with ``stop_below``).
    lr : list of float
        Learning rate of the first parameter group used at every step.
    steps : int
        Optimizer steps taken.
    wall_time : float
        Seconds spent in the loop (including test evaluations).
    diverged : bool
        True if a loss became non-finite; training stopped at that step.
    """

    loss: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    epoch_loss: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    steps: int = 0
    wall_time: float = 0.0
    diverged: bool = False

    @property
    def final_test_accuracy(self) -> float:
        """Test accuracy after the last epoch (``nan`` if diverged or never evaluated)."""
        if self.diverged or not self.test_accuracy:
            return float("nan")
        return float(self.test_accuracy[-1])


def _check_data(data, name: str):
    if not (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(t, torch.Tensor) for t in data)):
        raise ValueError(f"{name} must be a pair (x, y) of tensors")
    x, y = data
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"{name}: x and y must be non-empty and of equal length, "
                         f"got {len(x)} and {len(y)}")
    return x, y


@torch.no_grad()
def evaluate(model: nn.Module, data, batch_size: int = 1024):
    """Mean cross-entropy and accuracy of ``model`` on ``data``.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits.
    data : tuple of (Tensor, Tensor)
        ``(x, y)`` with class indices ``y``.
    batch_size : int, default 1024
        Evaluation chunk size (``>= 1``); does not change the result.

    Returns
    -------
    loss, accuracy : float, float

    Examples
    --------
    >>> x, y = torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
    >>> loss, acc = evaluate(SmallCNN(seed=0), (x, y))
    >>> 0.0 <= acc <= 1.0
    True
    """
    x, y = _check_data(data, "data")
    batch_size = check_int("batch_size", batch_size)
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(x), int(batch_size)):
        out = model(x[i:i + batch_size])
        total_loss += float(F.cross_entropy(out, y[i:i + batch_size], reduction="sum"))
        correct += int((out.argmax(1) == y[i:i + batch_size]).sum())
    model.train(was_training)
    return total_loss / len(x), correct / len(x)


def train(model: nn.Module, optimizer: torch.optim.Optimizer, train_data, batch_size: int,
          epochs: int, seed: int, scheduler=None, test_data=None, *,
          drop_last: bool = False, stop_below: float | None = None) -> TrainHistory:
    """Train ``model`` with minibatches of cross-entropy loss; return its history.

    Each epoch visits the training set in an order drawn from ``torch.Generator`` seeded
    with ``seed + epoch``, so two runs with the same seed see the same batches.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning logits; trained in place.
    optimizer : torch.optim.Optimizer
        Optimizer over ``model``'s parameters.
    train_data : tuple of (Tensor, Tensor)
        ``(x, y)``, e.g. the first return value of :func:`load_digits_tensors`.
    batch_size : int
        Examples per step, ``1 <= batch_size``; a batch size above the training set size
        is full-batch gradient descent (with ``drop_last``, at most the training set size).
    epochs : int
        Passes over the training set (``>= 1``). Steps per epoch are
        ``ceil(n / batch_size)`` (``floor`` with ``drop_last``).
    seed : int
        Seed of the shuffling (``>= 0``).
    scheduler : torch.optim.lr_scheduler.LRScheduler, optional
        Stepped after **every optimizer step** (so warm-up lengths are in steps).
    test_data : tuple of (Tensor, Tensor), optional
        Evaluated after every epoch (test accuracy).
    drop_last : bool, default False
        Drop the last incomplete batch of each epoch.
    stop_below : float, optional
        Train until the loss on the whole training set, measured after every epoch
        (:func:`evaluate`, recorded in ``train_loss``), is below this value; ``epochs`` is
        then the most epochs run. For comparing runs "trained to the same loss".

    Returns
    -------
    TrainHistory
        Step losses, per-epoch test accuracy, learning rates, wall time; training stops
        early with ``diverged=True`` when the loss becomes non-finite.

    Examples
    --------
    >>> (tr, te) = load_digits_tensors(seed=0)
    >>> model = SmallCNN(seed=0)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> h = train(model, opt, tr, batch_size=64, epochs=1, seed=0, test_data=te)
    >>> h.steps, len(h.test_accuracy)
    (22, 1)
    """
    x, y = _check_data(train_data, "train_data")
    if test_data is not None:
        _check_data(test_data, "test_data")
    # with drop_last, a batch larger than the training set would leave no batch at all
    batch_size = check_int("batch_size", batch_size, 1, len(x) if drop_last else None)
    epochs = check_int("epochs", epochs)
    seed = check_int("seed", seed, 0)
    if stop_below is not None:
        stop_below = check_number(stop_below, "stop_below", 0.0, low_open=True)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    n, b = len(x), min(batch_size, len(x))
    n_batches = n // b if drop_last else math.ceil(n / b)

    hist = TrainHistory()
    model.train()
    t0 = time.perf_counter()
    for epoch in range(int(epochs)):
        g = torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(n, generator=g)
        losses = []
        for k in range(n_batches):
            idx = order[k * b:(k + 1) * b]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            value = float(loss.detach())
            if not math.isfinite(value):
                hist.loss.append(value)
                hist.diverged = True
                break
            loss.backward()
            hist.lr.append(float(optimizer.param_groups[0]["lr"]))
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            hist.loss.append(value)
            losses.append(value)
            hist.steps += 1
        if hist.diverged:
            break
        hist.epoch_loss.append(float(np.mean(losses)))
        if test_data is not None:
            hist.test_accuracy.append(evaluate(model, test_data)[1])
        if stop_below is not None:
            hist.train_loss.append(evaluate(model, (x, y))[0])
            if hist.train_loss[-1] < stop_below:
                break
    hist.wall_time = time.perf_counter() - t0
    return hist
