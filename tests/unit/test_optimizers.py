"""lec4lib.optim: the shared interface and the validation of hyper-parameters."""


import numpy as np
import pytest

from lec4lib.optim import make_optimizer, OPTIMIZERS
from lec4lib.optim.adagrad import Adagrad
from lec4lib.optim.adam import Adam
from lec4lib.optim.driver import run
from lec4lib.optim.momentum import HeavyBall, MomentumEMA
from lec4lib.optim.nesterov import Nesterov
from lec4lib.optim.sgd import SGD


@pytest.mark.parametrize("cls", [SGD, MomentumEMA, HeavyBall, Nesterov, Adagrad, Adam])
@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan"), float("inf"), "0.1", None])
def test_rejects_bad_learning_rate(cls, lr):
    with pytest.raises(ValueError, match="learning rate"):
        cls(lr=lr)


@pytest.mark.parametrize("cls", [MomentumEMA, HeavyBall, Nesterov])
@pytest.mark.parametrize("beta", [-0.1, 1.0, 1.5, float("nan")])
def test_rejects_momentum_outside_0_1(cls, beta):
    with pytest.raises(ValueError, match=r"^Invalid momentum: .* \(must be in \[0, 1\)\)$"):
        cls(lr=0.1, momentum=beta)


@pytest.mark.parametrize("kw", [{"betas": (1.0, 0.999)}, {"betas": (-0.5, 0.999)},
                                {"betas": (0.9, 1.0)}, {"betas": (0.9, -1e-9)}])
def test_adam_rejects_betas_outside_0_1(kw):
    with pytest.raises(ValueError, match=r"beta[12].*\[0, 1\)"):
        Adam(lr=0.1, **kw)


@pytest.mark.parametrize("betas", [(0.9,), 0.9, (0.9, 0.99, 0.999), "ab"])
def test_adam_betas_must_be_a_pair(betas):
    with pytest.raises(ValueError, match=r"^Invalid betas: .* \(must be a pair \(beta1, beta2\)\)$"):
        Adam(lr=0.1, betas=betas)


@pytest.mark.parametrize("cls", [Adagrad, Adam])
@pytest.mark.parametrize("eps", [0.0, -1e-8, float("nan"), float("inf")])
def test_rejects_non_positive_eps(cls, eps):
    with pytest.raises(ValueError, match=r"eps.*> 0"):
        cls(lr=0.1, eps=eps)


def test_adam_rejects_non_bool_bias_correction():
    with pytest.raises(ValueError, match="bias_correction"):
        Adam(lr=0.1, bias_correction="yes")


def test_schedule_returning_bad_value_is_rejected_when_used():
    opt = SGD(lr=lambda t: 0.1 if t == 0 else -0.1)
    w = np.ones(2)
    opt.step(w, lambda w: w)
    with pytest.raises(ValueError, match="schedule returned -0.1 at step 1"):
        opt.step(w, lambda w: w)


def test_update_rejects_wrong_shapes_and_non_float_parameters():
    with pytest.raises(ValueError, match="gradient has shape"):
        SGD(0.1).update(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="floating-point numpy array"):
        SGD(0.1).update(np.ones(3, dtype=int), np.ones(3))
    with pytest.raises(ValueError, match="floating-point numpy array"):
        SGD(0.1).update([1.0, 2.0], np.ones(2))


def test_make_optimizer_and_run_validate():
    with pytest.raises(ValueError, match="Unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop", lr=0.1)
    with pytest.raises(ValueError, match="steps"):
        run(SGD(0.1), lambda w: w, [1.0], steps=-1)
    with pytest.raises(ValueError, match="optimizer"):
        run("sgd", lambda w: w, [1.0], steps=1)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_shares_the_interface_and_minimises_a_quadratic(name):
    lr = {"adam": 0.05, "adagrad": 0.5}.get(name, 0.1)
    opt = make_optimizer(name, lr=lr)
    path = run(opt, lambda w: np.array([1.0, 4.0]) * w, [1.0, -1.0], steps=400)
    assert path.shape == (401, 2)
    assert np.linalg.norm(path[-1]) < 1e-2 * np.linalg.norm(path[0])
    # per-parameter state as torch keeps it: none for plain SGD, the buffers otherwise
    expected = {"sgd": set(), "momentum_ema": {"v"}, "heavy_ball": {"v"}, "nesterov": {"v"},
                "adagrad": {"G"}, "adam": {"m", "v"}}[name]
    assert opt.t == 400 and set(opt.state) == expected
    opt.reset()
    assert opt.t == 0 and not opt.state


def test_update_is_in_place_and_run_copies_the_start():
    w0 = np.array([1.0, 2.0])
    run(HeavyBall(0.1, 0.5), lambda w: w, w0, steps=3)
    assert w0.tolist() == [1.0, 2.0]
    w = np.array([1.0])
    out = SGD(0.5).update(w, np.array([1.0]))
    assert out is w and w[0] == 0.5


def test_schedule_is_called_with_updates_done_so_far():
    seen = []
    opt = SGD(lambda t: seen.append(t) or 0.1)
    run(opt, lambda w: w, [1.0], steps=3)
    assert seen == [0, 1, 2]


def test_momentum_forms_and_nesterov_by_hand():
    # two steps on f = w²/2 from w = 1 with α = 0.5, β = 0.5, written out by hand
    ema = run(MomentumEMA(0.5, 0.5), lambda w: w, [1.0], 2)[:, 0]
    # v1 = 0.5·1 = 0.5, w1 = 1 − 0.25 = 0.75; v2 = 0.25 + 0.5·0.75 = 0.625, w2 = 0.75 − 0.3125
    np.testing.assert_allclose(ema, [1.0, 0.75, 0.4375])
    hb = run(HeavyBall(0.5, 0.5), lambda w: w, [1.0], 2)[:, 0]
    # v1 = 0.5, w1 = 0.5; v2 = 0.25 + 0.25 = 0.5, w2 = 0
    np.testing.assert_allclose(hb, [1.0, 0.5, 0.0])
    nag = run(Nesterov(0.5, 0.5), lambda w: w, [1.0], 2)[:, 0]
    # v1 = 0.5·∇f(1) = 0.5, w1 = 0.5; look-ahead 0.5 − 0.25 = 0.25: v2 = 0.25 + 0.125, w2 = 0.125
    np.testing.assert_allclose(nag, [1.0, 0.5, 0.125])


def test_repr_shows_hyper_parameters_only():
    opt = Adam(lr=0.1)
    opt.update(np.zeros(3), np.ones(3))
    assert repr(opt) == "Adam(betas=(0.9, 0.999), eps=1e-08, bias_correction=True, lr=0.1)"
