"""Optimizers: numpy ones (one family per module, as in ``torch.optim``), schedules, the one
minibatch driver, the perceptron, and the torch optimizers LARS and LAMB.

Every numpy optimizer shares one small interface (:class:`~lec4lib.optim.optimizer.Optimizer`):

* ``opt.gradient_point(w)`` — the point where the next gradient must be taken (``w``
  itself, except for Nesterov's look-ahead);
* ``opt.update(w, g)`` — apply one step with the gradient ``g`` taken at that point;
  ``w`` (a float array) is updated **in place**, like a ``torch`` parameter, and returned;
* ``opt.step(w, grad_fn)`` — both at once: ``update(w, grad_fn(gradient_point(w)))``;
* ``opt.t`` (steps taken), ``opt.state`` (dict of arrays), ``opt.reset()``.

The learning rate may be a float or a schedule ``lr(t)`` called with the number of
updates already made, ``t = 0, 1, …`` (the convention of :mod:`lec4lib.optim.schedules` and
of ``torch.optim.lr_scheduler``). Every class docstring states the exact ``torch.optim`` call
that produces the same iterates; ``tests/unit/test_optimizers_vs_torch.py`` checks each
mapping with property-based tests over random problems and hyper-parameters
(``tests/unit/test_adamw_rmsprop.py`` for :class:`~lec4lib.optim.adam.AdamW` and
:class:`~lec4lib.optim.rmsprop.RMSprop`).

:data:`OPTIMIZERS` names the methods that the step-size tuning of
:func:`~lec4lib.optim.driver.tuned_final_losses` builds by name; AdamW and RMSprop are built
from their classes.
"""

from __future__ import annotations

from .adagrad import Adagrad
from .adam import Adam
from .momentum import HeavyBall, MomentumEMA
from .nesterov import Nesterov
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["OPTIMIZERS", "make_optimizer"]

#: name → class, for building optimizers from configuration
OPTIMIZERS = {"sgd": SGD, "momentum_ema": MomentumEMA, "heavy_ball": HeavyBall,
              "nesterov": Nesterov, "adagrad": Adagrad, "adam": Adam}


def make_optimizer(name: str, **hyper) -> Optimizer:
    """Build an optimizer by name (a key of :data:`OPTIMIZERS`).

    Examples
    --------
    >>> make_optimizer("adam", lr=0.1).betas
    (0.9, 0.999)
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](**hyper)
