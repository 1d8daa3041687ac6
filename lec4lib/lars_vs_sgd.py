"""LARS against plain SGD at a large batch, on real data (the digits) with a small CNN.

The experiment of the chapter "LARS and LAMB": at batch size 1024 (three quarters of
the 1347 training digits per step), train :class:`lec4lib.torch_training.SmallCNN` with
``torch.optim.SGD`` and with :class:`lec4lib.lars.LARS` — the same momentum, the same
seeded batches, the same global learning rate ``γ`` — and record loss curves and test
accuracy. Plain SGD moves every tensor by ``γ‖g‖``; LARS moves it by
``γ·η·‖w‖`` (``η`` the trust coefficient) whatever the size of its gradient, so a rate
at which SGD's largest relative steps wreck the network still gives LARS steps of a
fixed, small fraction ``γη`` of each layer's norm.

Data, model and loop come from :mod:`lec4lib.torch_training`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .lars import LARS
from .torch_training import SmallCNN, TrainHistory, load_digits_tensors, train
from .trust_ratio import layerwise_param_groups

__all__ = ["LarsSgdRun", "compare_lars_sgd"]


@dataclass
class LarsSgdRun:
    """One training run of :func:`compare_lars_sgd`."""

    optimizer: str
    lr: float
    history: TrainHistory

    @property
    def final_test_accuracy(self) -> float:
        return self.history.final_test_accuracy

    @property
    def final_loss(self) -> float:
        return float(self.history.loss[-1])


def compare_lars_sgd(sgd_lrs=(0.1, 1.0), lars_lrs=(1.0,), *, batch_size: int = 1024,
                     epochs: int = 20, momentum: float = 0.9, trust_coefficient: float = 0.01,
                     seed: int = 0, threads: int | None = 1) -> list[LarsSgdRun]:
    """Train the digits CNN with SGD and with LARS at a large batch.

    Every run starts from the same initialization (``SmallCNN(seed=seed)``) and sees the
    same batches (``train(..., seed=seed)``). LARS uses
    :func:`lec4lib.trust_ratio.layerwise_param_groups` (biases not adapted) and no weight
    decay, as the SGD runs.

    Parameters
    ----------
    sgd_lrs, lars_lrs : sequence of float
        Global learning rates of the SGD and of the LARS runs (each ``> 0``).
    batch_size : int, default 1024
        Examples per step (``>= 1``).
    epochs : int, default 20
        Passes over the 1347 training images (``>= 1``).
    momentum : float, default 0.9
        Shared momentum, in ``[0, 1)``.
    trust_coefficient : float, default 0.01
        LARS's ``η > 0``.
    seed : int, default 0
        Seed of the split, the initialization and the batch order (``>= 0``).
    threads : int or None, default 1
        torch threads during the runs (``None`` leaves the setting alone); one thread is
        fastest for this small network and does not change the result.

    Returns
    -------
    list of LarsSgdRun
        The SGD runs in the order of ``sgd_lrs``, then the LARS runs.

    Examples
    --------
    >>> runs = compare_lars_sgd(sgd_lrs=(0.1,), lars_lrs=(1.0,), epochs=1)
    >>> [(r.optimizer, r.lr) for r in runs]
    [('SGD', 0.1), ('LARS', 1.0)]
    """
    for name, lrs in (("sgd_lrs", sgd_lrs), ("lars_lrs", lars_lrs)):
        if any(not (float(lr) > 0) for lr in lrs):
            raise ValueError(f"{name} must hold learning rates > 0, got {lrs!r}")
    if not (0.0 <= momentum < 1.0):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if threads is not None and (int(threads) != threads or threads < 1):
        raise ValueError(f"threads must be an integer >= 1 or None, got {threads!r}")
    tr, te = load_digits_tensors(seed=seed)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        runs = []
        for lr in sgd_lrs:
            model = SmallCNN(seed=seed)
            opt = torch.optim.SGD(model.parameters(), lr=float(lr), momentum=momentum)
            runs.append(LarsSgdRun("SGD", float(lr),
                                   train(model, opt, tr, batch_size, epochs, seed, test_data=te)))
        for lr in lars_lrs:
            model = SmallCNN(seed=seed)
            opt = LARS(layerwise_param_groups(model), lr=float(lr), momentum=momentum,
                       trust_coefficient=trust_coefficient)
            runs.append(LarsSgdRun("LARS", float(lr),
                                   train(model, opt, tr, batch_size, epochs, seed, test_data=te)))
    finally:
        torch.set_num_threads(previous)
    return runs
