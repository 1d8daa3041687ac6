"""Claims of chapters/98-errata.md: each correction of a slip in the slides, with the page's
settings. References, all independent of the lec4lib code under test: torch (autograd,
torch.optim.Adam, Adagrad and SGD(nesterov=True)), the slides' loops written out by hand in
this file, Rosenblatt's rule written out, and closed forms for gradient descent on a quadratic.
The MLPerf entry of the page rests on published sources, not on a computation: no test."""

import numpy as np
import pytest
import torch

from lec4lib.optim.adagrad import Adagrad
from lec4lib.optim.adam import Adam
from lec4lib.optim.driver import run
from lec4lib.optim.momentum import HeavyBall, MomentumEMA
from lec4lib.optim.nesterov import Nesterov
from lec4lib.optim.perceptron import sgd_perceptron
from lec4lib.problems.datasets import load_breast_cancer_pm1, make_separable_data
from lec4lib.problems.objectives import LogisticRegression
from lec4lib.problems.quadratic import gd_quadratic, quadratic_grad, quadratic_spectrum
from lec4lib.theory.measure import central_difference_grad
from lec4lib.theory.momentum import gd_contraction


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer_pm1(standardize=True)
    problem = LogisticRegression(X, y, l2=1e-2)
    return X, y, problem, problem.smoothness()


def torch_logistic_grad(X, y, w, l2):
    """Gradient of mean softplus(−y wᵀx) + (l2/2)‖w‖² by torch autograd."""
    wt = torch.tensor(w, requires_grad=True)
    margins = torch.from_numpy(y) * (torch.from_numpy(X) @ wt)
    (torch.nn.functional.softplus(-margins).mean() + 0.5 * l2 * (wt @ wt)).backward()
    return wt.grad.numpy()


# ---------------------------------------------------------------- Stochastic gradient
def test_gradient_check_costs_two_passes_per_coordinate_minibatch_is_the_batch_mean(data):
    X, y, problem, _ = data
    N, d = X.shape
    rng = np.random.default_rng(0)
    w = 0.1 * rng.standard_normal(d)

    class Counted:                      # counts evaluations of f, each a pass over N examples
        calls = 0

        def __call__(self, v):
            Counted.calls += 1
            return problem.loss(v)

    g_check = central_difference_grad(Counted(), w)
    assert Counted.calls == 2 * d
    # the check agrees with autograd's full gradient (central differences: error O(h²) + rounding/h)
    np.testing.assert_allclose(g_check, torch_logistic_grad(X, y, w, problem.l2), rtol=0, atol=1e-8)
    # a minibatch gradient is the mean over the batch (factor 1/|B|), as autograd of the batch mean
    batch = rng.choice(N, size=32, replace=False)
    g_B = problem.minibatch_grad(w, batch)
    np.testing.assert_allclose(g_B, torch_logistic_grad(X[batch], y[batch], w, problem.l2),
                               rtol=0, atol=1e-14)


# ---------------------------------------------------------------- Logistic Regression by SGD
def test_logistic_update_sums_the_slides_term_over_n_in_the_batch(data):
    X, y, problem, _ = data
    rng = np.random.default_rng(0)
    w = 0.1 * rng.standard_normal(X.shape[1])
    batch = rng.choice(X.shape[0], size=32, replace=False)
    terms = [-y[n] * X[n] / (1 + np.exp(y[n] * (w @ X[n]))) for n in batch]     # slide's term, n ∈ B
    np.testing.assert_allclose(problem.minibatch_grad(w, batch), np.mean(terms, axis=0) + problem.l2 * w,
                               rtol=0, atol=1e-15)
    # read literally (the same n in every term of a sum over i) it would be one example's gradient
    assert np.max(np.abs(terms[0] - np.mean(terms, axis=0))) > 1e-2


# ---------------------------------------------------------------- Ex. Perception learning
def test_slides_rule_is_rosenblatts_perceptron_and_ties_must_count_as_mistakes():
    Xs, ys, _ = make_separable_data(500, 5, margin=0.1, seed=0)
    run_ = sgd_perceptron(Xs, ys, lr=1.0, epochs=200, seed=0)
    # Rosenblatt (1958), written out: if y wᵀx <= 0 then w += y x; same visiting order
    rng, w, updates = np.random.default_rng(0), np.zeros(Xs.shape[1]), 0
    for _ in range(200):
        mistakes = 0
        for n in rng.permutation(len(ys)):
            if ys[n] * (w @ Xs[n]) <= 0:
                w, mistakes = w + ys[n] * Xs[n], mistakes + 1
        updates += mistakes
        if mistakes == 0:
            break
    assert updates > 0 and run_.n_mistakes == updates
    np.testing.assert_array_equal(run_.w, w)
    assert np.all(ys * (Xs @ run_.w) > 0)
    # with the slide's "y wᵀx >= 0 is correct", the run from w = 0 never moves
    stuck = sgd_perceptron(Xs, ys, lr=1.0, epochs=5, seed=0, at_zero="correct")
    assert stuck.n_mistakes == 0 and not np.any(stuck.w)


# ---------------------------------------------------------------- Momentum
def test_momentum_forms_are_equivalent_only_with_step_alpha_times_one_minus_beta(data):
    _, _, problem, L = data
    alpha, beta, d = 1.0 / L, 0.9, problem.n_features
    w_ema, v_ema, w_vel, v_vel = np.zeros(d), np.zeros(d), np.zeros(d), np.zeros(d)
    ema, vel = [w_ema.copy()], [w_vel.copy()]
    for _ in range(200):                       # the slide's two forms, each with the same α
        v_ema = beta * v_ema + (1 - beta) * problem.grad(w_ema)
        w_ema = w_ema - alpha * v_ema
        v_vel = beta * v_vel + alpha * problem.grad(w_vel)
        w_vel = w_vel - v_vel
        ema.append(w_ema), vel.append(w_vel)
    ours_ema = run(MomentumEMA(alpha, beta), problem.grad, np.zeros(d), 200)
    np.testing.assert_allclose(ours_ema, ema, rtol=0, atol=1e-13)
    np.testing.assert_allclose(run(HeavyBall(alpha, beta), problem.grad, np.zeros(d), 200), vel,
                               rtol=0, atol=1e-13)
    assert np.max(np.abs(np.array(ema) - np.array(vel))) > 0.1          # same α: not equivalent
    rescaled = run(HeavyBall(alpha * (1 - beta), beta), problem.grad, np.zeros(d), 200)
    np.testing.assert_allclose(rescaled, ema, rtol=0, atol=1e-13)       # α(1 − β): equivalent


# ---------------------------------------------------------------- Nesterov accelerated gradient
def test_torch_nesterov_buffer_has_the_slides_sign_and_its_parameter_is_the_lookahead(data):
    _, _, problem, L = data
    alpha, beta, d = 1.0 / L, 0.9, problem.n_features
    w, v = np.zeros(d), np.zeros(d)
    nag, w_lib = Nesterov(alpha, beta), np.zeros(d)
    p = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=alpha, momentum=beta, nesterov=True)
    far_from_w = 0.0
    for _ in range(300):
        look = w - beta * v                               # the slide's look-ahead point
        np.testing.assert_allclose(p.detach().numpy(), look, rtol=0, atol=1e-12)
        g = problem.grad(look)
        v = beta * v + alpha * g                          # the slide, written out
        w = w - v
        p.grad = torch.from_numpy(problem.grad(p.detach().numpy()))   # torch: gradient at its parameter
        opt.step()
        nag.step(w_lib, problem.grad)
        np.testing.assert_allclose(alpha * opt.state[p]["momentum_buffer"].numpy(), v, rtol=0, atol=1e-12)
        np.testing.assert_allclose(nag.lookahead(w_lib), w - beta * v, rtol=0, atol=1e-12)
        far_from_w = max(far_from_w, np.max(np.abs(p.detach().numpy() - w)))
    np.testing.assert_allclose(p.detach().numpy(), w - beta * v, rtol=0, atol=1e-12)
    assert far_from_w > 1e-2                              # torch's parameter is not the slide's w_t


# ---------------------------------------------------------------- Adagrad: Adaptive updates
def _per_example_adagrad(problem, eta=0.1, eps=1e-8, T=2000, seed=1):
    """Adagrad of lec4lib and of torch on the same per-example gradients; the page's settings."""
    samples = np.random.default_rng(seed).integers(problem.n_samples, size=T)
    opt, w = Adagrad(eta, eps=eps), np.zeros(problem.n_features)
    p = torch.zeros(problem.n_features, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adagrad([p], lr=eta, eps=0, initial_accumulator_value=eps)
    grads, iterates = np.empty((T, problem.n_features)), [w.copy()]
    for t, n in enumerate(samples):
        grads[t] = problem.minibatch_grad(w, [n])
        opt.update(w, grads[t])
        p.grad = torch.from_numpy(grads[t].copy())
        topt.step()
        iterates.append(w.copy())
    return opt, topt.state[p]["sum"].numpy(), p.detach().numpy(), grads, np.array(iterates)


def test_adagrad_accumulates_per_coordinate_over_all_sampled_examples(data):
    _, _, problem, _ = data
    eta, eps = 0.1, 1e-8
    opt, torch_sum, torch_w, grads, iterates = _per_example_adagrad(problem, eta, eps)
    d = problem.n_features
    assert opt.state["G"].shape == torch_sum.shape == (d,)            # one accumulator per coordinate
    # the corrected rule written out, coordinate by coordinate: G_j += (g_j)², w_j −= η g_j / √G_j
    G, w = np.full(d, eps), np.zeros(d)
    for t, g in enumerate(grads):
        for j in range(d):
            G[j] += g[j] ** 2
            w[j] -= eta * g[j] / np.sqrt(G[j])
        if t % 500 == 0:
            np.testing.assert_allclose(iterates[t + 1], w, rtol=0, atol=1e-13)
    np.testing.assert_allclose(opt.state["G"], G, rtol=1e-13)
    np.testing.assert_allclose(torch_sum, G, rtol=1e-13)
    np.testing.assert_allclose(iterates[-1], w, rtol=0, atol=1e-13)
    np.testing.assert_allclose(torch_w, w, rtol=0, atol=1e-13)


# ---------------------------------------------------------------- Adagrad (second slide)
def test_adagrad_root_of_accumulator_over_t_is_the_rms_not_the_slides_square(data):
    _, _, problem, _ = data
    eta, eps, T = 0.1, 1e-8, 2000
    opt, _, _, grads, _ = _per_example_adagrad(problem, eta, eps, T)
    rms = np.sqrt(np.mean(grads ** 2, axis=0))
    np.testing.assert_allclose(np.sqrt((opt.state["G"] - eps) / T), rms, rtol=1e-12)
    ratio = np.sqrt(opt.state["G"] ** 2 / T) / rms                    # the slide's √(G²/t)
    assert ratio.max() / ratio.min() > 2                               # not a constant factor
    # with the root, steps are unchanged when every gradient is multiplied by c (units of g/|g|)
    steps = {}
    for c in (1.0, 10.0):
        a, w = Adagrad(eta, eps=1e-300), np.zeros(problem.n_features)
        before = []
        for g in grads[:200]:
            prev = w.copy()
            a.update(w, c * g)
            before.append(w - prev)
        steps[c] = np.array(before)
    np.testing.assert_allclose(steps[10.0], steps[1.0], rtol=1e-12, atol=1e-300)


# ---------------------------------------------------------------- Adam
def test_adam_update_is_the_next_iterate_as_in_torch(data):
    _, _, problem, _ = data
    alpha, betas, eps, steps, d = 0.05, (0.9, 0.999), 1e-8, 100, problem.n_features
    # the corrected slide: g_t at w_t, the update gives w_{t+1}
    W, m, v = [np.zeros(d)], np.zeros(d), np.zeros(d)
    for t in range(1, steps + 1):
        g = problem.grad(W[-1])
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        W.append(W[-1] - alpha * (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps))
    # torch alone: every gradient is taken at the parameter its previous step produced
    p = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=alpha, betas=betas, eps=eps)
    theirs = [p.detach().numpy().copy()]
    for _ in range(steps):
        p.grad = torch.from_numpy(problem.grad(p.detach().numpy()))
        opt.step()
        theirs.append(p.detach().numpy().copy())
    ours = run(Adam(alpha, betas=betas, eps=eps), problem.grad, np.zeros(d), steps)
    np.testing.assert_allclose(ours, W, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-13)
    assert np.min(np.linalg.norm(np.diff(ours, axis=0), axis=1)) > 1e-3     # every step moves w


# ---------------------------------------------------------------- learning rate scaling
def test_gd_on_quadratic_converges_iff_step_below_two_over_gradient_lipschitz_constant():
    lam = quadratic_spectrum(10.0, d=20)
    L = lam.max()
    for factor in (0.99, 1.0, 1.01):
        eta = factor * 2 / L
        path = gd_quadratic(lam, lr=eta, steps=400)
        closed = (1 - eta * lam)[None, :] ** np.arange(401)[:, None]     # w_t = (1 − ηλ)^t w_0
        np.testing.assert_allclose(path, closed, rtol=1e-10, atol=1e-300)
        assert gd_contraction(lam, eta) == pytest.approx(np.max(np.abs(1 - eta * lam)), rel=1e-15)
        final = np.linalg.norm(path[-1])
        if factor < 1:
            assert final < 1e-3
        elif factor == 1:
            assert final == pytest.approx(1.0, rel=1e-9)      # the steepest mode flips sign forever
        else:
            assert final > 1e3
    # L is the Lipschitz constant of the gradient (attained along the steepest eigenvector) ...
    grad = quadratic_grad(lam)
    U, V = np.random.default_rng(2).standard_normal((2, 1000, 20))
    quot = np.linalg.norm(grad(U) - grad(V), axis=1) / np.linalg.norm(U - V, axis=1)
    assert np.all(quot <= L * (1 + 1e-12))
    e = np.eye(20)[np.argmax(lam)]
    assert np.linalg.norm(grad(e) - grad(0 * e)) == pytest.approx(L, rel=1e-15)
    # ... while f itself has no Lipschitz constant: its difference quotient grows with the scale
    f = lambda W: 0.5 * (lam * W ** 2).sum(axis=-1)  # noqa: E731
    q1 = np.max(np.abs(f(U) - f(V)) / np.linalg.norm(U - V, axis=1))
    q100 = np.max(np.abs(f(100 * U) - f(100 * V)) / np.linalg.norm(100 * U - 100 * V, axis=1))
    assert q100 == pytest.approx(100 * q1, rel=1e-9)
