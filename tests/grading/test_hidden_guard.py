"""The helpers inlined into every hidden test: tampering and delegation are detected."""

from __future__ import annotations

import numpy as np
import pytest

from coursetools import authoring


@pytest.fixture
def guard():
    ns: dict = {}
    exec(authoring.guard_code(), ns)
    return ns


def test_guard_passes_on_an_untouched_interpreter(guard):
    assert guard["_lec4_guard"]() is None
    assert guard["_lec4_call"](np.add, 1.0, 2.0) == 3.0


@pytest.mark.parametrize("name", ["allclose", "isclose", "array_equal", "exp"])
def test_guard_detects_a_replaced_numpy_function(guard, monkeypatch, name):
    monkeypatch.setattr(np, name, lambda *a, **k: True)
    with pytest.raises(RuntimeError, match="numpy"):
        guard["_lec4_guard"]()


def test_guard_detects_a_faked_assert_allclose(guard, monkeypatch):
    monkeypatch.setattr(np.testing, "assert_allclose", lambda *a, **k: None)
    with pytest.raises(RuntimeError, match="numpy.testing"):
        guard["_lec4_guard"]()


def test_call_detects_delegation_to_lec4lib_and_torch_optim(guard):
    from lec4lib.problems.objectives import log1pexp

    with pytest.raises(RuntimeError, match="delegates to .*lec4lib"):
        guard["_lec4_call"](lambda z: log1pexp(z), np.zeros(3))

    def torch_step():
        import torch

        p = torch.zeros(2, requires_grad=True)
        opt = torch.optim.SGD([p], lr=0.1)
        p.grad = torch.ones(2)
        opt.step()
        return p.detach().numpy()

    with pytest.raises(RuntimeError, match="delegates to .*torch.optim"):
        guard["_lec4_call"](torch_step)


def test_guard_code_has_no_blank_line_for_otters_doctests():
    code = authoring.guard_code()
    assert "" not in [line.strip() for line in code.splitlines()]
    assert "def _lec4_guard" in code and "def _lec4_call" in code
