"""lec4lib.studies.ch11_lars_lamb: input validation and determinism of the digits comparison."""

from __future__ import annotations

import pytest
import torch

from lec4lib.studies.ch11_lars_lamb import compare_lars_sgd


@pytest.mark.parametrize("kw,match", [
    (dict(sgd_lrs=(0.0,)), "sgd_lrs"), (dict(lars_lrs=(-1.0,)), "lars_lrs"),
    (dict(momentum=1.0), "momentum"), (dict(threads=0), "threads"),
])
def test_compare_rejects_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        compare_lars_sgd(**kw)


def test_compare_is_deterministic_and_restores_threads():
    before = torch.get_num_threads()
    a = compare_lars_sgd(sgd_lrs=(0.1,), lars_lrs=(1.0,), epochs=1, batch_size=512)
    b = compare_lars_sgd(sgd_lrs=(0.1,), lars_lrs=(1.0,), epochs=1, batch_size=512)
    assert [r.history.loss for r in a] == [r.history.loss for r in b]
    assert [r.optimizer for r in a] == ["SGD", "LARS"] and a[0].history.steps == 3
    assert torch.get_num_threads() == before
