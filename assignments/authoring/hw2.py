# %% [markdown]
# # Homework 2 — momentum, Nesterov, RMSProp and Adam
#
# You implement four optimizers of the lecture as small **numpy** functions, each one
# step (or one run) in the exact form given below, and compare them on a quadratic.
# Use numpy only (no `lec4lib`, no `torch`): the graded functions are checked for that.
# The visible tests are a subset; hidden tests run when your notebook is graded.
#
# The test problem is the ill-conditioned quadratic $f(w) = \tfrac12 w^\top A w$ with
# $A = \mathrm{diag}(1, 25)$, whose gradient is $A w$.

# %%
import numpy as np

A_demo = np.diag([1.0, 25.0])


def grad_demo(w):
    return A_demo @ w


w0_demo = np.array([1.0, 1.0])

# %% [markdown]
# ## Part 1 — heavy-ball momentum (2 points)
#
# Write `momentum_step(w, g, v, lr, beta)` returning `(w_new, v_new)` for
# $v \leftarrow \beta v + g$, $\;w \leftarrow w - \eta v$, where the step size $\eta$ is the
# argument `lr` (as in every part). Do not modify the input arrays.

# %% answer="momentum_step"
def momentum_step(w, g, v, lr, beta):
    """One heavy-ball step; returns (w_new, v_new)."""
    # BEGIN SOLUTION
    v_new = beta * np.asarray(v, dtype=float) + g
    return w - lr * v_new, v_new
    # END SOLUTION

# %% tests="momentum_step_tests" points=2
_w, _v = momentum_step(np.array([1.0]), np.array([2.0]), np.array([0.0]), 0.1, 0.9)
assert np.allclose(_w, [0.8]) and np.allclose(_v, [2.0])
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
_w, _v = np.array([0.5, -1.0]), np.array([0.2, 0.1])
_g = np.array([1.5, -3.0])
_w_in, _v_in = _w.copy(), _v.copy()
_out = _lec4_call(momentum_step, _w, _g, _v, 0.05, 0.8)
assert np.allclose(_out[1], [0.8 * 0.2 + 1.5, 0.8 * 0.1 - 3.0]) and np.allclose(_out[0], _w_in - 0.05 * np.array([0.8 * 0.2 + 1.5, 0.8 * 0.1 - 3.0]))
assert np.array_equal(_w, _w_in) and np.array_equal(_v, _v_in), "inputs must not be modified"
# END HIDDEN TESTS

# %% [markdown]
# ## Part 2 — Nesterov's accelerated gradient (3 points)
#
# Write `nesterov_run(grad, w0, lr, beta, steps)` returning an array of shape
# `(steps + 1, d)` with the iterates $w_0, \dots, w_{\text{steps}}$ of
#
# $$ v_{k+1} = \beta v_k - \eta\,\nabla f(w_k + \beta v_k), \qquad w_{k+1} = w_k + v_{k+1}, \qquad v_0 = 0 . $$
#
# Call `grad` exactly once per step, at the look-ahead point $w_k + \beta v_k$.

# %% answer="nesterov_run"
def nesterov_run(grad, w0, lr, beta, steps):
    """Iterates of Nesterov's method (look-ahead form), shape (steps + 1, d)."""
    # BEGIN SOLUTION
    w = np.array(w0, dtype=float)
    v = np.zeros_like(w)
    path = [w.copy()]
    for _ in range(steps):
        v = beta * v - lr * grad(w + beta * v)
        w = w + v
        path.append(w.copy())
    return np.array(path)
    # END SOLUTION

# %% tests="nesterov_run_tests" points=3
_path = nesterov_run(grad_demo, w0_demo, 0.03, 0.7, 40)
assert _path.shape == (41, 2) and np.allclose(_path[0], w0_demo)
assert np.linalg.norm(_path[-1]) < 0.05 * np.linalg.norm(w0_demo)
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
_seen = []
def _recording_grad(w):
    _seen.append(np.array(w, dtype=float))
    return np.array([2.0, -1.0]) * w + np.array([0.3, 0.1])
_got = _lec4_call(nesterov_run, _recording_grad, np.array([1.0, 2.0]), 0.1, 0.9, 5)
_w = np.array([1.0, 2.0]); _v = np.zeros(2); _ref = [_w.copy()]; _points = []
for _k in range(5):
    _look = _w + 0.9 * _v
    _points.append(_look)
    _v = 0.9 * _v - 0.1 * (np.array([2.0, -1.0]) * _look + np.array([0.3, 0.1]))
    _w = _w + _v
    _ref.append(_w.copy())
assert len(_seen) == 5, "grad must be called once per step"
assert all(np.allclose(a, b) for a, b in zip(_seen, _points)), "grad must be evaluated at the look-ahead point"
assert np.allclose(np.asarray(_got), np.array(_ref), rtol=1e-12, atol=1e-14)
# END HIDDEN TESTS

# %% [markdown]
# ## Part 3 — RMSProp (2 points)
#
# Write `rmsprop_step(w, g, s, lr, rho, eps)` returning `(w_new, s_new)` for
# $s \leftarrow \rho s + (1-\rho) g^2$ and $w \leftarrow w - \eta\, g / (\sqrt{s} + \varepsilon)$
# (element-wise, with the **new** $s$).

# %% answer="rmsprop_step"
def rmsprop_step(w, g, s, lr, rho, eps):
    """One RMSProp step; returns (w_new, s_new)."""
    # BEGIN SOLUTION
    s_new = rho * np.asarray(s, dtype=float) + (1.0 - rho) * g * g
    return w - lr * g / (np.sqrt(s_new) + eps), s_new
    # END SOLUTION

# %% tests="rmsprop_step_tests" points=2
_w, _s = rmsprop_step(np.array([1.0]), np.array([2.0]), np.array([0.0]), 0.1, 0.9, 0.0)
assert np.allclose(_s, [0.4]) and np.allclose(_w, [1.0 - 0.1 * 2.0 / np.sqrt(0.4)])
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
_w, _g, _s = np.array([0.3, -0.7, 2.0]), np.array([1.0, -4.0, 0.0]), np.array([0.5, 0.1, 0.0])
_s_ref = 0.95 * _s + 0.05 * _g ** 2
_w_ref = _w - 0.01 * _g / (np.sqrt(_s_ref) + 1e-3)
_out = _lec4_call(rmsprop_step, _w, _g, _s, 0.01, 0.95, 1e-3)
assert np.allclose(_out[1], _s_ref, rtol=1e-12) and np.allclose(_out[0], _w_ref, rtol=1e-12)
# END HIDDEN TESTS

# %% [markdown]
# ## Part 4 — Adam, with and without bias correction (3 points)
#
# Write `adam_step(w, g, m, s, t, lr, beta1, beta2, eps, bias_correction=True)` returning
# `(w_new, m_new, s_new)`, where $t \ge 1$ counts the steps:
# $m \leftarrow \beta_1 m + (1-\beta_1) g$, $s \leftarrow \beta_2 s + (1-\beta_2) g^2$,
# $\hat m = m/(1-\beta_1^t)$, $\hat s = s/(1-\beta_2^t)$ and
# $w \leftarrow w - \eta\,\hat m/(\sqrt{\hat s} + \varepsilon)$. With
# `bias_correction=False` use $m, s$ in place of $\hat m, \hat s$. Raise `ValueError`
# when `t < 1`.

# %% answer="adam_step"
def adam_step(w, g, m, s, t, lr, beta1, beta2, eps, bias_correction=True):
    """One Adam step at step count t >= 1; returns (w_new, m_new, s_new)."""
    # BEGIN SOLUTION
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}")
    m_new = beta1 * np.asarray(m, dtype=float) + (1.0 - beta1) * g
    s_new = beta2 * np.asarray(s, dtype=float) + (1.0 - beta2) * g * g
    if bias_correction:
        m_hat, s_hat = m_new / (1.0 - beta1 ** t), s_new / (1.0 - beta2 ** t)
    else:
        m_hat, s_hat = m_new, s_new
    return w - lr * m_hat / (np.sqrt(s_hat) + eps), m_new, s_new
    # END SOLUTION

# %% tests="adam_step_tests" points=3
_w, _m, _v = adam_step(np.array([1.0]), np.array([0.5]), np.zeros(1), np.zeros(1), 1, 0.1, 0.9, 0.999, 1e-8)
assert np.allclose(_w, [0.9]), "at t = 1 the bias-corrected step is lr * sign(g)"
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
_r = np.random.default_rng(4)
_w = _r.normal(size=3); _m = np.zeros(3); _v = np.zeros(3)
_W, _M, _V = _w.copy(), _m.copy(), _v.copy()
for _t in range(1, 8):
    _g = _r.normal(size=3)
    _w, _m, _v = _lec4_call(adam_step, _w, _g, _m, _v, _t, 0.02, 0.8, 0.99, 1e-6)
    _M = 0.8 * _M + 0.2 * _g
    _V = 0.99 * _V + 0.01 * _g ** 2
    _W = _W - 0.02 * (_M / (1 - 0.8 ** _t)) / (np.sqrt(_V / (1 - 0.99 ** _t)) + 1e-6)
assert np.allclose(_w, _W, rtol=1e-10) and np.allclose(_m, _M) and np.allclose(_v, _V)
_g = np.array([0.5, -2.0])
_out = adam_step(np.zeros(2), _g, np.zeros(2), np.zeros(2), 1, 0.1, 0.9, 0.999, 1e-8, bias_correction=False)
assert np.allclose(_out[0], -0.1 * (0.1 * _g) / (np.sqrt(0.001 * _g ** 2) + 1e-8))
_raised = False
try:
    adam_step(np.zeros(1), np.ones(1), np.zeros(1), np.zeros(1), 0, 0.1, 0.9, 0.999, 1e-8)
except ValueError:
    _raised = True
assert _raised, "t = 0 must raise ValueError"
# END HIDDEN TESTS

# %% [markdown]
# ## Part 5 — what bias correction is for (2 points, graded by hand)
#
# Compute the first step of Adam with and without bias correction from $m_0 = v_0 = 0$
# (your `adam_step` with `bias_correction=False`), with $\beta_1 = 0.9$, $\beta_2 = 0.999$.
# In four to six sentences: what goes wrong in the early steps without correction, why
# dividing by $1-\beta^t$ fixes it (what is $\mathbb{E}[m_t]$ when the gradients have a
# constant mean?), and why it matters less as $t$ grows.

# %% [markdown] written="bias_correction_answer" points=2
# Starting from $m_0 = s_0 = 0$, the moving averages are biased towards zero: with
# gradients of constant mean $\mu$, $\mathbb{E}[m_t] = (1-\beta_1^t)\mu$ and
# $\mathbb{E}[s_t] = (1-\beta_2^t)\mathbb{E}[g^2]$. Without correction the first step is
# $\eta\,(1-\beta_1)g / (\sqrt{1-\beta_2}\,|g|) \approx 3.16\,\eta$ in size, because
# $s$ is shrunk far more than $m$ ($\beta_2$ is closer to 1): the early steps are too large
# and badly scaled. Dividing by $1-\beta^t$ removes exactly the factor the zero start
# introduced, so $\hat m_t$ and $\hat s_t$ are unbiased and the first step has size $\eta$.
# As $t$ grows, $\beta^t \to 0$ and the correction tends to 1, so it only matters early.
