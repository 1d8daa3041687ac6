"""Self-checking exercises: a chapter's computational exercise ends in one :func:`check`.

An exercise cell computes an answer two ways, for example a rate measured on a run and the
closed form the reader derives, and hands both to :func:`check`. It prints one line that
says whether they agree; when they do not, it raises ``AssertionError`` with the same line,
so a chapter whose own exercise fails cannot build, and a reader who edits the cell on
Binder or Colab sees at once whether the new answer holds.

Examples
--------
>>> check("ex-demo", computed=0.5012, expected=0.5, rtol=0.01)
✓ ex-demo: 0.5012 agrees with 0.5 (relative tolerance 0.01)
>>> check("ex-demo", computed=0.6, expected=0.5, rtol=0.01)
Traceback (most recent call last):
...
AssertionError: ✗ ex-demo: 0.6 differs from 0.5 by 0.1, more than the tolerance 0.005
"""

from __future__ import annotations

import numpy as np

from ..validation import check_number

__all__ = ["check"]


def _fmt(x) -> str:
    return np.array2string(x, precision=4) if np.ndim(x) else f"{float(x):.4g}"


def check(label: str, computed, expected, *, rtol: float = 1e-6, atol: float = 0.0) -> None:
    """Compare an exercise's computed answer with the expected one; print the verdict.

    Parameters
    ----------
    label : str
        The exercise's label (``ex-ch05-2``), shown in the verdict.
    computed, expected : float or array_like
        The two answers; arrays are compared element by element.
    rtol, atol : float
        Agreement means ``|computed - expected| <= atol + rtol * |expected|`` everywhere.

    Raises
    ------
    AssertionError
        When the answers disagree (the message is the verdict line).
    ValueError
        On a tolerance that is negative or not finite, a non-string label, answers of
        different shapes or answers that are not finite.
    """
    if not isinstance(label, str) or not label:
        raise ValueError(f"Invalid label: {label!r} (must be a non-empty str)")
    rtol = check_number(rtol, "rtol", 0.0)
    atol = check_number(atol, "atol", 0.0)
    c = np.asarray(computed, dtype=float)
    e = np.asarray(expected, dtype=float)
    if c.shape != e.shape:
        raise ValueError(f"Invalid computed: shape {c.shape} (must be the shape of expected, {e.shape})")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(e))):
        raise ValueError(f"Invalid computed/expected: {_fmt(c)} / {_fmt(e)} (must be finite)")
    err = np.abs(c - e)
    bound = atol + rtol * np.abs(e)
    tol = f"relative tolerance {rtol:g}" if atol == 0 else f"tolerance {atol:g} + {rtol:g}·|expected|"
    if np.all(err <= bound):
        print(f"✓ {label}: {_fmt(c)} agrees with {_fmt(e)} ({tol})")
        return
    worst = int(np.argmax(err - bound)) if err.ndim else 0
    raise AssertionError(f"✗ {label}: {_fmt(c)} differs from {_fmt(e)} by "
                         f"{_fmt(err.flat[worst])}, more than the tolerance {_fmt(bound.flat[worst])}")
