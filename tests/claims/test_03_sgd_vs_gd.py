"""Claims of chapters/03-sgd-vs-gd.md on the digits problem: SGD iterations are cheaper, SGD is ahead
per epoch at the start, less stable and slower at the end, and harder to tune than GD."""

import numpy as np
import pytest

from tests.conftest import rows_read

from lec4lib.problems.datasets import load_digits_pm1
from lec4lib.problems.objectives import LogisticRegression
from lec4lib.optim.schedules import Polynomial
from lec4lib.optim.driver import gd, sgd
from lec4lib.theory.measure import loglog_slope
from lec4lib.studies.ch03_sgd_vs_gd import mean_final_gap

BATCH = 32


@pytest.fixture(scope="module")
def problem():
    X, y = load_digits_pm1(positive=[0, 1, 2, 3, 4])
    obj = LogisticRegression(X, y, l2=0.1)
    w_star = obj.solve()
    # reference optimum from scikit-learn (independent solver) to anchor f*
    from sklearn.linear_model import LogisticRegression as Sk
    sk = Sk(C=1 / (len(y) * 0.1), fit_intercept=False, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(w_star, sk.coef_.ravel(), atol=1e-6)
    return obj, w_star, obj.loss(w_star), obj.smoothness(), -(-len(y) // BATCH)


def test_sgd_iteration_is_cheaper_than_gd_iteration(problem):
    obj, w_star, f_star, L, pe = problem
    # the work per iteration, counted: GD's gradient reads all N rows, SGD's the |B| rows of
    # its batch (the wall-time ratio is printed by benchmarks/bench_full_gradient.py)
    w = np.random.default_rng(0).standard_normal(obj.n_features) * 0.1
    idx = np.random.default_rng(1).permutation(obj.n_samples)[:BATCH]
    X = obj.X.copy()
    try:
        gd_rows = rows_read(lambda: obj.grad(w), obj.X)
        sgd_rows = rows_read(lambda: obj.minibatch_grad(w, idx, check=False), obj.X)
    finally:
        obj.X[...] = X                       # the fixture is shared with the other tests
    np.testing.assert_array_equal(gd_rows, np.arange(obj.n_samples))
    np.testing.assert_array_equal(sgd_rows, np.sort(idx))
    assert len(gd_rows) / len(sgd_rows) == obj.n_samples / BATCH > 50


def test_sgd_faster_than_gd_at_the_beginning_per_epoch(problem):
    obj, w_star, f_star, L, pe = problem
    g = gd(obj, lr=1 / L, n_steps=5).history.loss - f_star
    s = sgd(obj, lr=0.1, batch_size=BATCH, epochs=5, seed=0, record_every=pe).history.loss - f_star
    assert s[1] < g[1] / 5   # after one epoch
    assert s[5] < g[5] / 5   # after five


def test_sgd_less_stable_and_slower_at_the_end(problem):
    obj, w_star, f_star, L, pe = problem
    finals = np.array([sgd(obj, lr=0.1, batch_size=BATCH, epochs=50, seed=s, record_every=pe).history.loss[-1]
                       for s in range(10)]) - f_star
    # spread over seeds: measured 8.47 (seeds 0-9, deterministic). Ten log-normal draws
    # with the measured σ(log gap) = 0.56 have an expected range of 3.08σ, i.e. a ratio of
    # about 5.5; the band (4, 20) keeps a margin around the seeded value and fails if the
    # noise floor collapses (e.g. a decaying step) or blows up
    assert 4 < finals.max() / finals.min() < 20
    g50 = gd(obj, lr=1 / L, n_steps=50).history.loss[-1] - f_star
    assert g50 < finals.min() / 10                  # GD ends lower, and identically every time
    assert gd(obj, lr=1 / L, n_steps=50).history.loss[-1] - f_star == g50
    run = sgd(obj, lr=0.1, batch_size=BATCH, epochs=300, seed=0, record_every=pe)
    assert np.sum(np.diff(run.history.loss) > 1e-12) > 50  # the SGD loss often goes up
    gdr = gd(obj, lr=1 / L, n_steps=300)
    assert np.sum(np.diff(gdr.history.loss) > 1e-12) == 0  # GD's never does
    assert gdr.history.loss[-1] - f_star < 1e-12
    dec = sgd(obj, lr=Polynomial(0.3, 1.0, t0=pe), batch_size=BATCH, epochs=300, seed=0, record_every=pe)
    assert dec.history.loss[-1] - f_star > 1e3 * max(gdr.history.loss[-1] - f_star, 1e-16)
    late = slice(100, 301)
    rate = loglog_slope(dec.history.epoch[late], dec.history.loss[late] - f_star)   # as the chapter
    # a power law, not geometric: with η_t ∝ 1/t the gap falls like t^-1 at best (t^-2cμ
    # when the constant is small, chapter 02); measured -0.636 for seed 0 and -0.82 to
    # -1.02 for seeds 1-3. A geometric decay over epochs 100-300 would be far steeper
    assert -1.2 < rate < -0.5


def test_sgd_harder_to_tune_than_gd(problem):
    obj, w_star, f_star, L, pe = problem
    mult = np.array([0.25, 0.5, 1.0, 1.5, 1.9, 2.5, 4.0, 8.0])
    gd_final = np.array([gd(obj, lr=m / L, n_steps=50).history.loss[-1] - f_star for m in mult])
    ok = mult <= 2.5
    assert np.all(np.diff(gd_final[ok]) < 0)          # GD: bigger is better up to the edge...
    assert np.all(gd_final[~ok] > 0.1)                # ... and fails past it
    edge = 2 / np.linalg.eigvalsh(obj.hessian(w_star))[-1] * L
    assert 2.5 < edge < 4.0                           # the edge is 2/λ_max(H*) in units of 1/L
    lrs = np.array([0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0])
    f5, f50 = (np.array([mean_final_gap(obj, lr, batch_size=BATCH, epochs=ep, seeds=range(3), f_star=f_star,
                                        record_every=pe) for lr in lrs])
               for ep in (5, 50))
    i5, i50 = int(np.argmin(f5)), int(np.argmin(f50))
    assert 0 < i5 < len(lrs) - 1 and 0 < i50 < len(lrs) - 1   # a minimum inside the grid: U-shaped
    assert lrs[i50] < lrs[i5]                                  # and it moves with the budget
