"""The argument checks of lec4lib: one message style and one set of bounds.

Every check raises ``ValueError`` with torch's message style,
``Invalid <name>: <value> (must be <condition>)``, and returns the value converted
(a float, an int, an array). The bounds, for every optimizer and function of lec4lib:

=====================  ==============================================================
learning rate          a finite number ``> 0``, or (numpy optimizers, the driver, the
                       schedules' users) any callable ``lr(t)``, whose values are
                       checked to be finite and ``> 0`` when it is called
momentum, betas        in ``[0, 1)``
eps                    a finite number ``> 0`` (LARS and LAMB: ``>= 0``, as in
                       torch, because they only guard a division by a norm)
weight_decay           a finite number ``>= 0``
an integer argument    an ``int`` or NumPy integer, or a float with an integral value
                       (``2.0``); never a ``bool``; the lower bound is stated per
                       argument (``steps >= 1``, ``n_steps >= 0``, ...)
=====================  ==============================================================

Examples
--------
>>> check_int("steps", 3.0)
3
>>> check_int("steps", True)
Traceback (most recent call last):
...
ValueError: Invalid steps: True (must be an integer >= 1)
>>> check_number(0.9, "momentum", 0.0, 1.0)
0.9
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check_betas", "check_number", "check_int", "check_lr", "check_bool", "check_positive_array",
           "check_unit_interval_array"]


def check_number(value, name: str, low: float = -math.inf, high: float = math.inf, *,
                 low_open: bool = False, high_open: bool = True) -> float:
    """A finite real number in the interval from ``low`` to ``high``, as a float.

    Parameters
    ----------
    value : object
        What was passed (a ``bool`` is not a number here).
    name : str
        The parameter's name, for the message.
    low, high : float
        The bounds.
    low_open, high_open : bool
        Whether the interval excludes ``low`` (default: includes it) and ``high``
        (default: excludes it).

    Returns
    -------
    float
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"Invalid {name}: {value!r} (must be a number)")
    v = float(value)
    ok_low = v > low if low_open else v >= low
    ok_high = v < high if high_open else v <= high
    if not (math.isfinite(v) and ok_low and ok_high):
        if high == math.inf:
            cond = f"finite and {'>' if low_open else '>='} {low:g}"
        else:
            cond = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"Invalid {name}: {value!r} (must be {cond})")
    return v


def check_betas(betas) -> tuple[float, float]:
    """Adam's and LAMB's ``betas``: a pair ``(β₁, β₂)``, each in ``[0, 1)``, as floats.

    Examples
    --------
    >>> check_betas((0.9, 0.999))
    (0.9, 0.999)
    >>> check_betas((0.9, 1.0))
    Traceback (most recent call last):
    ...
    ValueError: Invalid beta2: 1.0 (must be in [0, 1))
    """
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"Invalid betas: {betas!r} (must be a pair (beta1, beta2))")
    return (check_number(betas[0], "beta1", 0.0, 1.0), check_number(betas[1], "beta2", 0.0, 1.0))


def check_int(name: str, value, low: int = 1, high: int | None = None) -> int:
    """An integer ``>= low`` (and ``<= high`` when given), as an int.

    Accepts ``int``, NumPy integers and floats with an integral value; rejects ``bool``.
    """
    integral = (not isinstance(value, (bool, np.bool_))
                and isinstance(value, numbers.Real) and math.isfinite(value)
                and float(value) == int(value))
    if not integral or value < low or (high is not None and value > high):
        cond = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
        raise ValueError(f"Invalid {name}: {value!r} (must be {cond})")
    return int(value)


def check_lr(lr, *, schedule: bool = True):
    """A learning rate: a finite number ``> 0`` (as a float) or, with ``schedule``, a callable.

    A callable ``lr(t)`` is returned as it is; its values are checked where it is called.
    """
    if schedule and callable(lr):
        return lr
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real) or not (
            math.isfinite(lr) and lr > 0):
        also = ", or a schedule lr(t)" if schedule else ""
        raise ValueError(f"Invalid learning rate: {lr!r} (must be finite and > 0{also})")
    return float(lr)


def check_bool(name: str, value) -> bool:
    """``True`` or ``False`` (NumPy's bool included), as a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Invalid {name}: {value!r} (must be True or False)")
    return bool(value)


def check_positive_array(name: str, x) -> np.ndarray:
    """A number or array whose entries are all finite and ``> 0``, as a float array."""
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"Invalid {name}: {x} (must be finite and > 0)")
    return x


def check_unit_interval_array(name: str, x) -> np.ndarray:
    """A number or array whose entries all lie in ``[0, 1)``, as a float array."""
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x >= 1):
        raise ValueError(f"Invalid {name}: {x} (must be in [0, 1))")
    return x
