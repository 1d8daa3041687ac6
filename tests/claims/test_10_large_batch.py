"""Claims of chapters/10-large-batch.md: accuracy vs batch size at a fixed epoch budget,
sharpness by Hessian-vector products, the √|B| and |B| rules, and divergence past 2/L.

The runs use the chapter's functions, seeds and settings. References are independent:
`torch.func.hessian` + `eigvalsh` for the exact eigenvalue, numpy's eigenvalues for the
least-squares curvature, a brute-force search for the rules' limits.
"""

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lec4lib.studies.ch10_large_batch import batch_size_sweep, over_seeds, sharpness_vs_batch_size
from lec4lib.theory.lr_scaling import least_squares_curvatures, max_stable_batch, scaled_lr
from lec4lib.problems.quadratic import gd_quadratic
from lec4lib.theory.measure import measured_contraction
from lec4lib.theory.momentum import gd_contraction
from lec4lib.nets.sharpness import top_hessian_eigenvalue
from lec4lib.nets.training import digits_train_size, load_digits_tensors, SmallCNN, torch_threads, train

SIZES = [16, 64, 256, 1024]


@pytest.fixture(scope="module")
def sweep():
    """The chapter's runs: seed 0 with sharpness, seeds 1 and 2 without."""
    seed0 = batch_size_sweep(SIZES, base_lr=0.02, base_batch=16, epochs=10, seeds=(0,),
                             sharpness_iters=20, sharpness_examples=256)
    return seed0 + batch_size_sweep(SIZES, base_lr=0.02, base_batch=16, epochs=10, seeds=(1, 2))


def _mean(records, rule, b, key="test_accuracy"):
    return over_seeds(records, rule, b, key, n_seeds=3)[0]


def _seed0(records, rule, b, key):
    return next(r[key] for r in records if r["rule"] == rule and r["batch_size"] == b and r["seed"] == 0)


@pytest.mark.slow
def test_large_batch_loses_accuracy_at_fixed_epochs(sweep):
    acc = [_mean(sweep, "none", b) for b in SIZES]
    assert acc[0] > 0.9                                   # the small batch trains well
    assert all(a > b for a, b in zip(acc, acc[1:]))       # accuracy falls with every step up in |B|
    assert acc[-1] < 0.3                                  # ... to near chance at |B| = 1024
    steps = [_seed0(sweep, "none", b, "steps") for b in SIZES]
    assert steps == [10 * math.ceil(digits_train_size() / b) for b in SIZES]   # same epochs, fewer steps


@pytest.mark.slow
def test_lr_scaling_recovers_accuracy_until_the_step_is_too_large(sweep):
    base = _mean(sweep, "none", 16)
    for b in (64, 256):                 # none < sqrt < linear, and linear is near the base
        assert _mean(sweep, "none", b) < _mean(sweep, "sqrt", b) < _mean(sweep, "linear", b)
        assert _mean(sweep, "linear", b) > base - 0.06
        assert _seed0(sweep, "linear", b, "lr") == pytest.approx(0.02 * b / 16)
        assert _seed0(sweep, "sqrt", b, "lr") == pytest.approx(0.02 * math.sqrt(b / 16))
    # at |B| = 1024 the linear rule's step (1.28) breaks training: below the sqrt rule,
    # far below the linear rule at 256
    assert _mean(sweep, "linear", 1024) < _mean(sweep, "sqrt", 1024)
    assert _mean(sweep, "linear", 1024) < _mean(sweep, "linear", 256) - 0.4
    seed0 = [r for r in sweep if r["seed"] == 0]
    assert _seed0(sweep, "linear", 1024, "lr") > 2 / min(r["sharpness"] for r in seed0
                                                          if r["train_loss"] < 0.5)


@pytest.mark.slow
def test_power_iteration_matches_exact_top_eigenvalue():
    (xtr, ytr), _ = load_digits_tensors(seed=0, dtype=torch.float64)
    tiny = SmallCNN(seed=0, channels=(2, 2), hidden=4).double()       # the chapter's check
    train(tiny, torch.optim.SGD(tiny.parameters(), lr=0.1, momentum=0.9), (xtr, ytr), 32, 3, seed=0)
    x, y = xtr[:300], ytr[:300]
    # reference: torch.func.hessian of the loss as a function of the flat parameters
    names = [n for n, _ in tiny.named_parameters()]
    shapes = [p.shape for p in tiny.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in tiny.parameters()])

    def loss(v):
        chunks = torch.split(v, [math.prod(s) for s in shapes])
        params = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes)}
        return F.cross_entropy(torch.func.functional_call(tiny, params, (x,)), y)

    with torch_threads(1):
        eigs = torch.linalg.eigvalsh(torch.func.hessian(loss)(flat))
        r = top_hessian_eigenvalue(tiny, (x, y), iters=500, tol=1e-9, seed=0)
    assert r.converged
    assert r.eigenvalue == pytest.approx(float(eigs[-1]), rel=1e-8)
    assert abs(float(eigs[0])) < float(eigs[-1])      # largest magnitude is the top eigenvalue


@pytest.mark.slow
def test_larger_batch_ends_in_sharper_minimum():
    runs = sharpness_vs_batch_size([16, 64, 256], lr=0.05, steps=800, seed=0,
                                   sharpness_iters=30, sharpness_examples=512)
    sharp = [r["sharpness"] for r in runs]
    assert all(r["sharpness_converged"] for r in runs)
    assert all(r["train_loss"] < 0.1 for r in runs)        # all are (near) minima
    assert sharp[0] < sharp[1] < sharp[2]
    assert sharp[2] > 2 * sharp[0]
    assert max(sharp) < 2 / 0.05                           # the step caps the sharpness


@pytest.mark.slow
def test_lr_scaling_ends_in_wider_minima(sweep):
    trained = [r for r in sweep if r["seed"] == 0 and r["train_loss"] < 0.5]
    assert len(trained) >= 4
    assert all(r["sharpness"] <= 2 / r["lr"] for r in trained)
    # linear rule at |B| = 256 (η = 0.32) ends far flatter than the base run (η = 0.02)
    assert _seed0(sweep, "linear", 256, "sharpness") < 0.5 * _seed0(sweep, "none", 16, "sharpness")


def test_gd_diverges_above_two_over_L():
    (xtr, ytr), _ = load_digits_tensors(seed=0, dtype=torch.float64)
    X = xtr.reshape(len(xtr), -1)
    lam = least_squares_curvatures(X.numpy())
    # reference: numpy's singular values of X give the eigenvalues of (2/n) XᵀX
    sv = np.linalg.svd(X.numpy(), compute_uv=False)
    assert lam[-1] == pytest.approx(2 / len(X) * sv[0] ** 2, rel=1e-10)
    L = lam[-1]
    lin = torch.nn.Linear(64, 1, bias=False).double()
    L_power = top_hessian_eigenvalue(lin, (X, ytr.double()[:, None]), loss_fn=F.mse_loss,
                                     iters=500, tol=1e-10).eigenvalue
    assert L_power == pytest.approx(L, rel=1e-8)
    curv = lam[lam > 1e-10 * L]
    below = gd_quadratic(curv, lr=0.95 * 2 / L, steps=300)
    above = gd_quadratic(curv, lr=1.05 * 2 / L, steps=300)
    assert np.linalg.norm(below[-1]) < 1e-1 * np.linalg.norm(below[0])
    assert measured_contraction(below[150:]) <= gd_contraction(curv, 0.95 * 2 / L) < 1
    assert np.linalg.norm(above[-1]) > 1e6 * np.linalg.norm(above[0])
    # the growth rate is |1 − ηL| = 1.1 once the top mode dominates
    assert measured_contraction(above[150:]) == pytest.approx(1.1, rel=1e-6)


def test_scaling_rules_and_their_limits():
    assert scaled_lr(0.02, 16, 256, "linear") == pytest.approx(0.32)
    assert scaled_lr(0.02, 16, 256, "sqrt") == pytest.approx(0.08)
    assert scaled_lr(0.02, 16, 256, "none") == 0.02
    # the sqrt rule grows more slowly than the linear one above B0, faster below
    assert scaled_lr(0.1, 32, 8, "sqrt") > scaled_lr(0.1, 32, 8, "linear")
    # limits against a brute-force search over integer batch sizes
    for rule in ("linear", "sqrt"):
        for L in (26.66, 5.71):
            bmax = max_stable_batch(0.02, 16, L, rule)
            brute = max(b for b in range(1, 20000) if 0.02 * (b / 16 if rule == "linear"
                                                               else math.sqrt(b / 16)) <= 2 / L)
            assert math.floor(bmax) == brute
    assert max_stable_batch(0.02, 16, 50.0, "none") == math.inf
    assert max_stable_batch(0.2, 16, 50.0, "none") == 0.0
