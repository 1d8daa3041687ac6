"""lec4lib.optim.driver: the loop does what the formula says (checked against a hand-written reference), validation."""

import numpy as np
import pytest

from lec4lib.problems.datasets import make_linear_regression_data, make_logistic_data
from lec4lib.problems.objectives import LeastSquares, LogisticRegression
from lec4lib.optim.schedules import Polynomial, StepDecay
from lec4lib.optim.driver import gd, sgd


@pytest.fixture
def ls():
    X, y, _ = make_linear_regression_data(40, 3, seed=0)
    return LeastSquares(X, y)


def test_sgd_shuffle_matches_a_hand_written_loop(ls):
    sched = StepDecay(0.05, step_size=7, gamma=0.5)
    res = sgd(ls, lr=sched, batch_size=6, n_steps=25, seed=3, record_every=5)
    # reference: same rng stream, plain formula, no lec4lib gradient
    rng = np.random.default_rng(3)
    w, pos, perm = np.zeros(3), 40, None
    for t in range(25):
        if pos >= 40:
            perm, pos = rng.permutation(40), 0
        idx = perm[pos:pos + 6]
        pos += 6
        r = ls.X[idx] @ w - ls.y[idx]
        w = w - sched(t) * (ls.X[idx].T @ r) / idx.size
    np.testing.assert_allclose(res.w, w, rtol=1e-12)
    assert res.history.step.tolist() == [0, 5, 10, 15, 20, 25]
    assert res.history.epoch[-1] == pytest.approx((6 * 21 + 4 * 3 + 6) / 40)  # 6-sample batches, 4 at epoch ends


@pytest.mark.parametrize("b", [1, 5])
def test_sgd_with_replacement_matches_a_hand_written_loop(ls, b):
    # the reference draws every batch as rng.integers(0, N, size=b); the loop draws a lone
    # index on its own (a faster call), which must be the same stream
    res = sgd(ls, lr=Polynomial(0.05, 1.0, t0=10), batch_size=b, n_steps=300, seed=7,
              sampling="replace", record_every=100)
    rng = np.random.default_rng(7)
    w = np.zeros(3)
    for t in range(300):
        idx = rng.integers(0, 40, size=b)
        r = ls.X[idx] @ w - ls.y[idx]
        w = w - 0.05 / (1 + t / 10) * (ls.X[idx].T @ r) / b
    np.testing.assert_allclose(res.w, w, rtol=1e-12)
    assert res.history.epoch[-1] == pytest.approx(300 * b / 40)


@pytest.mark.parametrize("sampling", ["subset", "replace"])
def test_other_samplings_draw_valid_batches_and_converge(ls, sampling):
    w_star = ls.solve()
    res = sgd(ls, lr=Polynomial(0.1, 1.0, t0=50), batch_size=8, n_steps=4000, sampling=sampling,
              w_star=w_star, seed=1)
    assert res.history.dist[-1] < 0.1 * res.history.dist[0]


def test_full_batch_sgd_equals_gd(ls):
    a = sgd(ls, lr=0.1, batch_size=40, n_steps=30, sampling="subset", record_every=1)
    b = gd(ls, lr=0.1, n_steps=30)
    np.testing.assert_allclose(a.w, b.w, rtol=1e-12)
    np.testing.assert_allclose(a.history.loss, b.history.loss, rtol=1e-12)


def test_target_loss_stops_early_and_average(ls):
    f_star = ls.loss(ls.solve())
    res = sgd(ls, lr=0.05, batch_size=40, n_steps=10_000, record_every=10, target_loss=f_star + 1e-3)
    assert res.n_steps < 10_000 and res.history.loss[-1] <= f_star + 1e-3
    res = sgd(ls, lr=0.05, batch_size=4, n_steps=200, average_from=100)
    # reference: the iterates w_100 ... w_200 of the same seeded run, each the end point of a
    # run stopped after t steps (the batches are drawn in order, so the runs share a prefix),
    # averaged here; 101 float64 additions of O(1) numbers
    iterates = [sgd(ls, lr=0.05, batch_size=4, n_steps=t).w for t in range(100, 201)]
    np.testing.assert_array_equal(iterates[-1], res.w)
    np.testing.assert_allclose(res.w_avg, np.mean(iterates, axis=0), rtol=0, atol=200 * np.finfo(float).eps)
    assert not np.allclose(res.w_avg, res.w, rtol=0, atol=1e-6)   # the average is not the last iterate


def test_unchecked_minibatch_gradient_equals_checked_one():
    X, y, _ = make_logistic_data(60, 4, seed=0)
    obj = LogisticRegression(X, y, l2=0.3)
    w, idx = np.ones(4), np.array([5, 1, 5, 9])
    np.testing.assert_array_equal(obj.minibatch_grad(w, idx, check=False), obj.minibatch_grad(w, idx))


def test_sgd_rejects_bad_input(ls):
    with pytest.raises(ValueError, match=r"Invalid learning rate: -0.1 \(must be finite and > 0"):
        sgd(ls, lr=-0.1, n_steps=3)
    with pytest.raises(ValueError, match="batch_size"):
        sgd(ls, lr=0.1, batch_size=0, n_steps=3)
    with pytest.raises(ValueError, match="batch_size"):
        sgd(ls, lr=0.1, batch_size=41, n_steps=3)
    with pytest.raises(ValueError, match="sampling"):
        sgd(ls, lr=0.1, sampling="cyclic", n_steps=3)
    with pytest.raises(ValueError, match="exactly one"):
        sgd(ls, lr=0.1)
    with pytest.raises(ValueError, match="w0"):
        sgd(ls, np.ones(2), lr=0.1, n_steps=3)
    with pytest.raises(ValueError, match="w_star"):
        sgd(ls, lr=0.1, n_steps=3, w_star=np.ones(5))
    with pytest.raises(ValueError, match="record_every"):
        sgd(ls, lr=0.1, n_steps=3, record_every=0)
    with pytest.raises(ValueError, match="epochs"):
        sgd(ls, lr=0.1, epochs=-1)
    with pytest.raises(ValueError, match="objective must provide"):
        sgd(object(), lr=0.1, n_steps=3)
    with pytest.raises(ValueError, match="n_steps"):
        gd(ls, lr=0.1, n_steps=-2)
