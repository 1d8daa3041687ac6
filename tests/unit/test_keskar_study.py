"""Chapter 10a's machinery: training to a loss, label noise, the paired summary, stored results."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lec4lib import results
from lec4lib.nets.training import SmallCNN, evaluate, load_digits_tensors, train, torch_threads
from lec4lib.studies.ch10_large_batch import (generalization_summary, sharpness_accuracy_correlation,
                                              trained_to_same_loss)


def test_train_stops_at_the_first_epoch_whose_training_loss_is_below_the_target():
    (x, y), _ = load_digits_tensors(seed=0)
    x, y = x[:128], y[:128]
    with torch_threads(1):
        model = SmallCNN(seed=0)
        h = train(model, torch.optim.SGD(model.parameters(), lr=0.1), (x, y), 32, 200, 0, stop_below=0.5)
        assert len(h.train_loss) == len(h.epoch_loss) < 200
        assert h.train_loss[-1] < 0.5 <= min(h.train_loss[:-1])
        assert h.train_loss[-1] == evaluate(model, (x, y))[0]      # measured on the whole set
        # the same run without the stop, for as many epochs, ends at the same weights
        ref = SmallCNN(seed=0)
        train(ref, torch.optim.SGD(ref.parameters(), lr=0.1), (x, y), 32, len(h.epoch_loss), 0)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match=r"^Invalid stop_below: 0.0 \(must be finite and > 0\)$"):
        train(ref, torch.optim.SGD(ref.parameters(), lr=0.1), (x, y), 32, 1, 0, stop_below=0.0)


def test_trained_to_same_loss_records_and_label_noise():
    runs = trained_to_same_loss([16, 64], lr=0.1, target_loss=0.3, seeds=(1,), train_examples=64,
                                sharpness_iters=5, sharpness_examples=32)
    assert [(r["seed"], r["batch_size"]) for r in runs] == [(1, 16), (1, 64)]
    for r in runs:
        assert r["reached"] and r["train_loss"] < 0.3
        assert r["gap"] == r["train_accuracy"] - r["test_accuracy"]
        assert r["steps"] == r["epochs"] * math.ceil(64 / r["batch_size"])
        assert r["sharpness"] > 0
    noisy = trained_to_same_loss([64], lr=0.1, target_loss=0.3, seeds=(1,), train_examples=64,
                                 sharpness_iters=5, sharpness_examples=32, label_noise=0.5)
    # random labels are harder to fit: more epochs to the same loss
    assert noisy[0]["epochs"] > runs[1]["epochs"]
    with pytest.raises(ValueError, match=r"^Invalid label_noise: 1.0 \(must be in \[0, 1\)\)$"):
        trained_to_same_loss([16], seeds=(0,), label_noise=1.0)
    with pytest.raises(ValueError, match=r"^Invalid train_examples: 1 "):
        trained_to_same_loss([16], seeds=(0,), train_examples=1)


def _rec(seed, b, gap, sharp, test):
    return {"seed": seed, "batch_size": b, "gap": gap, "sharpness": sharp, "test_accuracy": test,
            "train_accuracy": test + gap}


def test_generalization_summary_against_a_hand_computation():
    gaps_s, gaps_l = [0.10, 0.12, 0.08, 0.11], [0.13, 0.12, 0.10, 0.16]
    recs = []
    for s, (a, b) in enumerate(zip(gaps_s, gaps_l)):
        recs += [_rec(s, 16, a, 5.0 + s, 0.9 - a), _rec(s, 256, b, 12.0 + s, 0.9 - b)]
    out = generalization_summary(recs)
    d = np.array(gaps_l) - np.array(gaps_s)          # 0.03, 0, 0.02, 0.05
    assert out["small"] == 16 and out["large"] == 256 and out["n_seeds"] == 4
    assert out["gap_diff"] == pytest.approx(0.025)
    assert out["gap_diff_se"] == pytest.approx(np.std(d, ddof=1) / 2)
    assert out["t"] == pytest.approx(0.025 / (np.std(d, ddof=1) / 2))
    assert out["t_crit"] == pytest.approx(3.182446305284263)    # t(0.975, 3), from tables
    assert out["n_larger"] == 3 and out["n_ties"] == 1
    assert out["sharpness_ratio_min"] == pytest.approx(15.0 / 8.0)
    assert out["significant"] == (out["t"] > 3.182446305284263)
    with pytest.raises(ValueError, match="exactly two"):
        generalization_summary(recs + [_rec(0, 64, 0.1, 1.0, 0.8)])
    with pytest.raises(ValueError, match="every seed"):
        generalization_summary(recs[:-1])
    with pytest.raises(ValueError, match="at least 3"):
        sharpness_accuracy_correlation(recs[:2])


def test_stored_results_round_trip_and_refuse_bad_input(tmp_path):
    data = {"records": [1, 2], "provenance": results.provenance(seed=7)}
    path = results.write_result("demo_run", data, tmp_path)
    assert path == tmp_path / "demo_run" / "result.json"
    assert results.read_result("demo_run", tmp_path) == json.loads(json.dumps(data))
    assert data["provenance"]["seed"] == 7 and data["provenance"]["cpu_capability"]
    with pytest.raises(ValueError, match="provenance"):
        results.write_result("demo_run", {"records": []}, tmp_path)
    with pytest.raises(ValueError, match="Invalid name"):
        results.write_result("../escape", data, tmp_path)
    with pytest.raises(FileNotFoundError, match="missing_run/result.json"):
        results.read_result("missing_run", tmp_path)
