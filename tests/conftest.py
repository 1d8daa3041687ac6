"""Shared test configuration: repository paths and the tools/ scripts on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLIDES = ROOT.parent / "shared" / "lecture4-slides.md"
sys.path.insert(0, str(ROOT / "tools"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def rows_read(grad, X):
    """The rows of ``X`` that ``grad()`` reads (a claim tests' operation counter).

    Poisons one row at a time with NaN: a row is read exactly when the poisoned gradient
    is no longer the clean one (NaN propagates through every arithmetic operation, so a
    read row can never go unnoticed). ``X`` is restored row by row.
    """
    import numpy as np

    clean = grad()
    touched = []
    with np.errstate(invalid="ignore", over="ignore"):
        for n in range(len(X)):
            row = X[n].copy()
            X[n] = np.nan
            if not np.array_equal(grad(), clean):
                touched.append(n)
            X[n] = row
    return np.array(touched)
