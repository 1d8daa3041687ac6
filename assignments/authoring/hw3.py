# %% [markdown]
# # Homework 3 — layer-wise trust ratios, LARS, and learning-rate scaling
#
# The lecture's table shows that the ratio $\lVert w\rVert / \lVert \nabla w\rVert$ differs
# by two orders of magnitude between the layers of AlexNet, so one global learning rate
# is too large for some layers and too small for others. LARS gives each layer its own
# step. You implement the trust ratios and a LARS step on a small two-layer network,
# then the learning-rate scaling rules used when the batch size grows.
# Use numpy only (no `lec4lib`, no `torch`): the graded functions are checked for that.
# The visible tests are a subset; hidden tests run when your notebook is graded.

# %%
import numpy as np


def init_params(seed=0, n_in=4, n_hidden=16):
    """A small tanh network's parameters, as a dict name -> array."""
    r = np.random.default_rng(seed)
    return {"fc1.weight": r.normal(scale=1.0 / np.sqrt(n_in), size=(n_hidden, n_in)),
            "fc1.bias": np.zeros(n_hidden),
            "fc2.weight": r.normal(scale=1.0 / np.sqrt(n_hidden), size=(1, n_hidden)),
            "fc2.bias": np.zeros(1)}


def loss_and_grads(params, X, y):
    """Mean squared error of the network on (X, y) and its gradients (a dict)."""
    h = np.tanh(X @ params["fc1.weight"].T + params["fc1.bias"])
    pred = (h @ params["fc2.weight"].T + params["fc2.bias"])[:, 0]
    err = pred - y
    loss = float(np.mean(err ** 2))
    d_pred = 2.0 * err[:, None] / len(y)
    d_h = (d_pred @ params["fc2.weight"]) * (1.0 - h ** 2)
    return loss, {"fc1.weight": d_h.T @ X, "fc1.bias": d_h.sum(axis=0),
                  "fc2.weight": d_pred.T @ h, "fc2.bias": d_pred.sum(axis=0)}


r_data = np.random.default_rng(1)
X_demo = r_data.normal(size=(128, 4))
y_demo = np.sin(X_demo[:, 0]) + 0.5 * X_demo[:, 1] * X_demo[:, 2]

# %% [markdown]
# ## Part 1 — trust ratios (3 points)
#
# Write `trust_ratios(params, grads, c)` returning a dict with, for every layer name,
# $c\,\lVert w\rVert_2 / \lVert g\rVert_2$ (norms of the whole array, flattened) as a
# Python float. When either norm is zero the ratio is `1.0`.

# %% answer="trust_ratios"
def trust_ratios(params, grads, c):
    """Per-layer trust ratio c * ||w|| / ||g|| (1.0 when a norm is zero)."""
    # BEGIN SOLUTION
    out = {}
    for name, w in params.items():
        w_norm = float(np.linalg.norm(np.ravel(w)))
        g_norm = float(np.linalg.norm(np.ravel(grads[name])))
        out[name] = c * w_norm / g_norm if w_norm > 0 and g_norm > 0 else 1.0
    return out
    # END SOLUTION

# %% tests="trust_ratios_tests" points=3
_p = init_params(0)
_loss, _g = loss_and_grads(_p, X_demo, y_demo)
_tr = trust_ratios(_p, _g, 0.01)
assert set(_tr) == set(_p) and _tr["fc1.bias"] == 1.0, "zero biases get ratio 1"
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
_P = {"a": np.array([[3.0, 4.0]]), "b": np.array([1.0, 2.0, 2.0]), "c": np.zeros(2), "d": np.ones(2)}
_G = {"a": np.array([[0.0, 0.5]]), "b": np.array([0.0, 0.0, 1.0 / 3.0]), "c": np.ones(2), "d": np.zeros(2)}
_tr = _lec4_call(trust_ratios, _P, _G, 0.02)
assert all(isinstance(v, float) for v in _tr.values())
assert np.isclose(_tr["a"], 0.02 * 5.0 / 0.5) and np.isclose(_tr["b"], 0.02 * 3.0 / (1.0 / 3.0))
assert _tr["c"] == 1.0 and _tr["d"] == 1.0
# END HIDDEN TESTS

# %% [markdown]
# ## Part 2 — a LARS step (3 points)
#
# Write `lars_step(params, grads, lr, c, weight_decay)` returning a **new** dict (leave
# the inputs unchanged). The global learning rate `lr` is $\gamma$ and `c` is the trust
# coefficient, as in the book's notation page. For a weight layer (a name not ending in `.bias`) use
# $d = g + \text{weight\_decay}\cdot w$ and
# $w \leftarrow w - \gamma\,\rho\, d$ with $\rho = c\lVert w\rVert/\lVert d\rVert$
# ($\rho = 1$ when a norm is zero). Bias layers take a plain step $w - \gamma g$
# (no decay, no ratio), as in the LARS paper's practice. Then train the network with it.

# %% answer="lars_step"
def lars_step(params, grads, lr, c, weight_decay):
    """One LARS step (no momentum); returns a new dict of parameters."""
    # BEGIN SOLUTION
    new = {}
    for name, w in params.items():
        g = grads[name]
        if name.endswith(".bias"):
            new[name] = w - lr * g
            continue
        d = g + weight_decay * w
        w_norm, d_norm = float(np.linalg.norm(w)), float(np.linalg.norm(d))
        ratio = c * w_norm / d_norm if w_norm > 0 and d_norm > 0 else 1.0
        new[name] = w - lr * ratio * d
    return new
    # END SOLUTION

# %% tests="lars_step_tests" points=3
_p = init_params(0)
_first = loss_and_grads(_p, X_demo, y_demo)[0]
for _k in range(300):
    _p = lars_step(_p, loss_and_grads(_p, X_demo, y_demo)[1], 0.5, 0.05, 1e-4)
assert loss_and_grads(_p, X_demo, y_demo)[0] < 0.5 * _first
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
def _ref_lars(p, g, lr, c, wd):
    out = {}
    for k in p:
        if k.endswith(".bias"):
            out[k] = p[k] - lr * g[k]
        else:
            d = g[k] + wd * p[k]
            nw, nd = np.sqrt(np.sum(p[k] ** 2)), np.sqrt(np.sum(d ** 2))
            out[k] = p[k] - lr * (c * nw / nd if nw > 0 and nd > 0 else 1.0) * d
    return out
_p = init_params(3); _q = init_params(3)
for _k in range(20):
    _gp = loss_and_grads(_p, X_demo, y_demo)[1]
    _inp = _p
    _before = {k: v.copy() for k, v in _inp.items()}
    _p = _lec4_call(lars_step, _inp, _gp, 0.3, 0.02, 5e-4)
    assert all(np.array_equal(_before[k], _inp[k]) for k in _before), "the input dict must not change"
    _q = _ref_lars(_q, loss_and_grads(_q, X_demo, y_demo)[1], 0.3, 0.02, 5e-4)
assert all(np.allclose(_p[k], _q[k], rtol=1e-9, atol=1e-12) for k in _q)
_z = _lec4_call(lars_step, {"w.weight": np.zeros(2)}, {"w.weight": np.ones(2)}, 0.1, 0.01, 0.0)
assert np.allclose(_z["w.weight"], [-0.1, -0.1]), "ratio 1 when ||w|| = 0"
# END HIDDEN TESTS

# %% [markdown]
# ## Part 3 — learning-rate scaling with the batch size (2 points)
#
# The variance of a minibatch gradient falls like $1/|B|$, so a larger batch allows a
# larger step. Write `scaled_lr(base_lr, base_batch, batch, rule)` returning
# `base_lr * (batch / base_batch)` for `rule="linear"` and
# `base_lr * sqrt(batch / base_batch)` for `rule="sqrt"`. Raise `ValueError` for another
# rule or for a batch size that is not positive.

# %% answer="scaled_lr"
def scaled_lr(base_lr, base_batch, batch, rule):
    """Learning rate for `batch`, scaled from (base_lr, base_batch) by `rule`."""
    # BEGIN SOLUTION
    if base_batch <= 0 or batch <= 0:
        raise ValueError(f"batch sizes must be positive, got base_batch={base_batch}, batch={batch}")
    if rule == "linear":
        return base_lr * batch / base_batch
    if rule == "sqrt":
        return base_lr * float(np.sqrt(batch / base_batch))
    raise ValueError(f"rule must be 'linear' or 'sqrt', got {rule!r}")
    # END SOLUTION

# %% tests="scaled_lr_tests" points=2
assert np.isclose(scaled_lr(0.1, 256, 1024, "linear"), 0.4)
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
assert np.isclose(_lec4_call(scaled_lr, 0.1, 256, 1024, "sqrt"), 0.2)
assert np.isclose(scaled_lr(0.2, 512, 128, "linear"), 0.05) and np.isclose(scaled_lr(0.3, 100, 100, "sqrt"), 0.3)
_bad = 0
for _args in ((0.1, 256, 1024, "cubic"), (0.1, 256, 0, "linear"), (0.1, -1, 64, "sqrt")):
    try:
        scaled_lr(*_args)
    except ValueError:
        _bad += 1
assert _bad == 3, "an unknown rule and non-positive batch sizes must raise ValueError"
# END HIDDEN TESTS

# %% [markdown]
# ## Part 4 — gradual warm-up (1 point)
#
# Goyal et al. (2017) start a large learning rate with a linear warm-up. Write
# `warmup_lr(step, peak_lr, warmup_steps)` returning `peak_lr * (step + 1) / warmup_steps`
# while `step < warmup_steps` and `peak_lr` afterwards (`step` counts from 0).

# %% answer="warmup_lr"
def warmup_lr(step, peak_lr, warmup_steps):
    """Linear warm-up to peak_lr over warmup_steps steps, then constant."""
    # BEGIN SOLUTION
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    return peak_lr
    # END SOLUTION

# %% tests="warmup_lr_tests" points=1
assert np.isclose(warmup_lr(0, 1.0, 4), 0.25) and np.isclose(warmup_lr(10, 1.0, 4), 1.0)
# BEGIN HIDDEN TESTS
# LEC4 GUARD
_lec4_guard()
assert [round(_lec4_call(warmup_lr, s, 0.8, 5), 12) for s in range(7)] == [0.16, 0.32, 0.48, 0.64, 0.8, 0.8, 0.8]
# END HIDDEN TESTS

# %% [markdown]
# ## Part 5 — why per-layer ratios (2 points, graded by hand)
#
# Print `trust_ratios(init_params(0), loss_and_grads(init_params(0), X_demo, y_demo)[1], 1.0)`
# and compare with the lecture's AlexNet table (ratios from about 20 to 3690). In four to
# six sentences: what happens to the layer with the smallest ratio when one global
# learning rate is raised for a large batch, and how LARS's per-layer step avoids it.

# %% [markdown] written="layerwise_answer" points=2
# The ratio $\lVert w\rVert/\lVert g\rVert$ says how many plain steps of size one would
# move a layer by its own norm. One global learning rate has to be small enough for the
# layer with the smallest ratio (conv1 in the table, about 20): raising it for a large
# batch makes that layer's update as large as its weights, and training diverges, while
# layers with ratios in the thousands barely move. LARS rescales each layer's step by
# $c\lVert w\rVert/\lVert g\rVert$, so every layer moves by the same fraction $\eta$ of
# its norm per unit learning rate, whatever its gradient scale; a large global rate then
# stays stable for every layer.
