# %% [markdown]
# # Homework 1 — minibatch SGD for logistic regression
#
# In this homework you build stochastic gradient descent from its parts, the way the
# lecture derives it: the objective and its gradient, a minibatch sampler that visits
# every example once per epoch, a decaying step size, and the loop that puts them
# together. Use **numpy only** (no `lec4lib`, no `torch`): the graded functions are
# checked for that.
#
# Each part has a test cell. The tests you see are a subset: more tests, hidden from
# you, run when your notebook is graded. Points are shown next to each part.
#
# **Setting.** Data $x_i \in \mathbb{R}^d$ with labels $y_i \in \{-1, +1\}$, and the
# $\ell_2$-regularised logistic loss
#
# $$ F(w) = \frac{1}{n}\sum_{i=1}^n \log\bigl(1 + e^{-y_i x_i^\top w}\bigr) + \frac{\lambda}{2}\lVert w\rVert^2 . $$

# %%
import numpy as np

rng_data = np.random.default_rng(0)
n_samples, n_features = 200, 5
X_demo = rng_data.normal(size=(n_samples, n_features))
w_true = rng_data.normal(size=n_features)
y_demo = np.where(X_demo @ w_true + 0.5 * rng_data.normal(size=n_samples) > 0, 1.0, -1.0)

# %% [markdown]
# ## Part 1 — loss and gradient (3 points)
#
# Write `loss_and_grad(w, X, y, lam)` returning the pair `(F(w), ∇F(w))`: a Python
# float and an array of shape `(d,)`. With margins $m_i = y_i x_i^\top w$, the gradient is
# $-\frac1n\sum_i y_i x_i\,\sigma(-m_i) + \lambda w$ with $\sigma(z) = 1/(1+e^{-z})$.
# It must stay finite for margins of size 1000 in either sign (hint: `np.logaddexp`).

# %% answer="loss_and_grad"
def loss_and_grad(w, X, y, lam):
    """Regularised logistic loss and its gradient at w."""
    # BEGIN SOLUTION
    w = np.asarray(w, dtype=float)
    margins = y * (X @ w)
    loss = np.mean(np.logaddexp(0.0, -margins)) + 0.5 * lam * float(w @ w)
    weights = np.exp(-np.logaddexp(0.0, margins))  # sigma(-m), computed stably
    grad = -(X.T @ (y * weights)) / len(y) + lam * w
    return float(loss), grad
    # END SOLUTION

# %% tests="loss_and_grad_tests" points=3
_w = np.zeros(n_features)
_loss, _grad = loss_and_grad(_w, X_demo, y_demo, 0.1)
assert np.isclose(_loss, np.log(2.0)), "at w = 0 every term is log 2"
assert _grad.shape == (n_features,)
_e = 1e-6 * np.eye(n_features)[0]
assert np.isclose((loss_and_grad(_w + _e, X_demo, y_demo, 0.1)[0] - loss_and_grad(_w - _e, X_demo, y_demo, 0.1)[0]) / 2e-6, _grad[0], atol=1e-6)
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
_r = np.random.default_rng(11)
_X = _r.normal(size=(37, 4))
_y = np.where(_r.random(37) < 0.5, -1.0, 1.0)
_w = _r.normal(size=4)
_m = _y * (_X @ _w)
_ref_loss = sum(np.log1p(np.exp(-mi)) for mi in _m) / 37 + 0.35 * float(np.sum(_w ** 2))
_ref_grad = sum(-_y[i] * _X[i] / (1.0 + np.exp(_m[i])) for i in range(37)) / 37 + 0.7 * _w
_out = _lec4_call(loss_and_grad, _w, _X, _y, 0.7)
assert isinstance(_out[0], float) and np.isclose(_out[0], _ref_loss, rtol=1e-10, atol=0)
assert np.allclose(_out[1], _ref_grad, rtol=1e-10, atol=1e-14)
_big = np.array([[1000.0], [-1000.0]])
_l, _g = _lec4_call(loss_and_grad, np.array([1.0]), _big, np.array([1.0, 1.0]), 0.0)
assert np.isclose(_l, 500.0) and np.isclose(_g[0], 500.0) and np.all(np.isfinite(_g))
# END HIDDEN TESTS

# %% [markdown]
# ## Part 2 — a minibatch sampler without replacement (2 points)
#
# Write `minibatches(n, batch_size, rng)` returning a list of integer index arrays that
# together cover `0, …, n-1` exactly once (one epoch). Draw **one** permutation with
# `rng.permutation(n)` and cut it into consecutive pieces of `batch_size`; the last piece
# holds the remainder when `batch_size` does not divide `n`. Raise `ValueError` when
# `batch_size` is not a positive integer.

# %% answer="minibatches"
def minibatches(n, batch_size, rng):
    """One epoch of minibatch index arrays, sampled without replacement."""
    # BEGIN SOLUTION
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    order = rng.permutation(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]
    # END SOLUTION

# %% tests="minibatches_tests" points=2
_batches = minibatches(10, 5, np.random.default_rng(0))
assert len(_batches) == 2 and all(len(b) == 5 for b in _batches)
assert sorted(np.concatenate(_batches).tolist()) == list(range(10))
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
_b = _lec4_call(minibatches, 23, 5, np.random.default_rng(3))
_p = np.random.default_rng(3).permutation(23)
assert [len(x) for x in _b] == [5, 5, 5, 5, 3]
assert all(np.array_equal(np.asarray(x), _p[5 * k:5 * k + 5]) for k, x in enumerate(_b))
_single = _lec4_call(minibatches, 4, 9, np.random.default_rng(1))
assert len(_single) == 1 and sorted(np.asarray(_single[0]).tolist()) == [0, 1, 2, 3]
_raised = False
try:
    minibatches(10, 0, np.random.default_rng(0))
except ValueError:
    _raised = True
assert _raised, "batch_size = 0 must raise ValueError"
# END HIDDEN TESTS

# %% [markdown]
# ## Part 3 — a decaying step size (1 point)
#
# Write `step_size(t, eta0, decay)` returning $\eta_t = \eta_0 / (1 + \text{decay}\cdot t)$
# for the update counter $t = 0, 1, 2, \dots$

# %% answer="step_size"
def step_size(t, eta0, decay):
    """The step size eta0 / (1 + decay * t) of update t (counting from 0)."""
    # BEGIN SOLUTION
    return eta0 / (1.0 + decay * t)
    # END SOLUTION

# %% tests="step_size_tests" points=1
assert np.isclose(step_size(0, 0.5, 0.1), 0.5)
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
assert all(np.isclose(_lec4_call(step_size, t, 0.8, 0.25), 0.8 / (1.0 + 0.25 * t)) for t in (1, 2, 7, 100))
assert np.isclose(step_size(5, 0.3, 0.0), 0.3)
# END HIDDEN TESTS

# %% [markdown]
# ## Part 4 — the SGD loop (3 points)
#
# Write `sgd(X, y, lam, batch_size, epochs, eta0, decay, seed)`: start at $w_0 = 0$,
# create **one** generator `rng = np.random.default_rng(seed)`, and for each epoch call
# `minibatches(n, batch_size, rng)` once; for each batch $B$ (in order) take the step
# $w \leftarrow w - \eta_t \nabla F_B(w)$ where $F_B$ is the loss of Part 1 on the rows
# `X[B], y[B]` (same `lam`) and $t$ counts the updates made so far (0 for the first).
# Return the final $w$.

# %% answer="sgd"
def sgd(X, y, lam, batch_size, epochs, eta0, decay, seed):
    """Minibatch SGD with step eta0 / (1 + decay t); returns the final weights."""
    # BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    w = np.zeros(X.shape[1])
    t = 0
    for _ in range(epochs):
        for batch in minibatches(X.shape[0], batch_size, rng):
            _, grad = loss_and_grad(w, X[batch], y[batch], lam)
            w = w - step_size(t, eta0, decay) * grad
            t += 1
    return w
    # END SOLUTION

# %% tests="sgd_tests" points=3
_w_sgd = sgd(X_demo, y_demo, 0.01, 20, 5, 0.5, 0.1, 0)
assert _w_sgd.shape == (n_features,)
assert loss_and_grad(_w_sgd, X_demo, y_demo, 0.01)[0] < np.log(2.0)
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
def _ref_sgd(X, y, lam, b, epochs, a0, decay, seed):
    r = np.random.default_rng(seed)
    w = np.zeros(X.shape[1])
    t = 0
    for _e in range(epochs):
        p = r.permutation(X.shape[0])
        for s in range(0, X.shape[0], b):
            B = p[s:s + b]
            m = y[B] * (X[B] @ w)
            g = -(X[B].T @ (y[B] / (1.0 + np.exp(m)))) / len(B) + lam * w
            w = w - a0 / (1.0 + decay * t) * g
            t += 1
    return w
assert np.allclose(_lec4_call(sgd, X_demo, y_demo, 0.05, 7, 3, 0.4, 0.3, 5), _ref_sgd(X_demo, y_demo, 0.05, 7, 3, 0.4, 0.3, 5), rtol=1e-9, atol=1e-12)
assert np.allclose(_lec4_call(sgd, X_demo[:50], y_demo[:50], 0.0, 50, 2, 1.0, 0.0, 2), _ref_sgd(X_demo[:50], y_demo[:50], 0.0, 50, 2, 1.0, 0.0, 2), rtol=1e-9, atol=1e-12)
# END HIDDEN TESTS

# %% [markdown]
# ## Part 5 — why a fixed step does not converge (2 points, graded by hand)
#
# Run your `sgd` with `decay=0` and a fixed step: the loss stops decreasing at some level
# instead of reaching the minimum. In four to six sentences, explain why, using the
# variance of the minibatch gradient at the minimiser $w^\star$, and say what a decaying
# step changes (which conditions on $\sum_t \eta_t$ and $\sum_t \eta_t^2$ matter).

# %% [markdown] written="fixed_step_answer" points=2
# At the minimiser the full gradient vanishes, but a minibatch gradient does not: it is
# an unbiased estimate whose variance, of order $\sigma^2/|B|$, stays positive at $w^\star$.
# With a fixed step each update therefore moves the iterate by a random amount of size
# about $\eta\sigma/\sqrt{|B|}$ even at the optimum, so the iterates settle into a noise
# ball around $w^\star$ whose size grows with $\eta$ and never shrinks. A decaying step
# averages the noise away: with $\sum_t \eta_t = \infty$ the iterates can still travel
# any distance, and with $\sum_t \eta_t^2 < \infty$ the accumulated noise variance is
# finite, so SGD converges (for example $\eta_t = \eta_0/(1+ct)$).
