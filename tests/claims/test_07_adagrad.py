"""Claims of chapters/07-adagrad.md (slides "Adagrad: Adaptive updates" and "Adagrad").
Same functions, seeds and settings as the chapter; references: tuned SGD, the RMS formula
written out here, and torch.optim.Adagrad."""

import numpy as np
import pytest
import torch

from lec4lib.optim.torch_mapping import torch_trajectory
from lec4lib.optim.driver import tuned_final_losses
from lec4lib.studies.ch07_adagrad import adagrad_rms_identity, recorded_adagrad_run, scale_invariance_gap
from lec4lib.problems.datasets import load_breast_cancer_pm1
from lec4lib.problems.objectives import LogisticRegression
from lec4lib.optim.adagrad import Adagrad


@pytest.fixture(scope="module")
def raw():
    X, y = load_breast_cancer_pm1(standardize=False)
    return LogisticRegression(X, y)


@pytest.fixture(scope="module")
def recorded(raw):
    """The chapter's run: Adagrad(η = 0.03) for 1000 minibatch steps (batch 16, seed 0)."""
    return recorded_adagrad_run(raw, 0.03, batch_size=16, steps=1000, seed=0)


@pytest.mark.slow
def test_adagrad_beats_tuned_sgd_on_unscaled_breast_cancer(raw):
    seeds = range(5)
    _, sgd = tuned_final_losses(raw, "sgd", np.geomspace(1e-7, 1e-4, 7), 16, 30, seeds)
    lr, ada = tuned_final_losses(raw, "adagrad", np.geomspace(3e-3, 3, 7), 16, 30, seeds)
    assert lr == pytest.approx(0.03)          # the step the chapter's recorded run uses
    assert np.all(ada[:, -1] < sgd[:, -1])
    assert ada[:, -1].mean() < 0.8 * sgd[:, -1].mean()


def test_adagrad_steps_follow_feature_scale(raw, recorded):
    opt, _ = recorded
    scales = raw.X.std(axis=0)
    eff = 0.03 / np.sqrt(opt.state["G"])
    slope = np.polyfit(np.log(scales), np.log(eff), 1)[0]
    assert -1.1 < slope < -0.85
    assert eff.max() / eff.min() > 1e4


def test_adagrad_step_is_eta_over_sqrt_t_whatever_the_gradient_scale():
    # the step η g_t/√G_t = (η/√t)·g_t/RMS_t: for stationary gradients g_t = σ_j z_t its size
    # is η/√t in every coordinate, whatever σ_j. Independent reference: for i.i.d. z_t the
    # ratio z_T²/Σ_{t≤T} z_t² has mean exactly 1/T (exchangeability), so E[T·step_T²/η²] = 1.
    # Run lec4lib's Adagrad on 20 scales σ_j from 1e-4 to 1e4, 5000 replicas each (the
    # update is per coordinate, so the replicas are coordinates of one vector).
    eta, T, K = 0.03, 200, 5000
    sigma = np.repeat(np.geomspace(1e-4, 1e4, 20), K)
    rng = np.random.default_rng(0)
    opt, w = Adagrad(eta, eps=1e-300), np.zeros(sigma.size)
    for t in range(T):
        before = w.copy()
        opt.update(w, sigma * rng.standard_normal(sigma.size))
    ratio = (T * (before - w) ** 2 / eta ** 2).reshape(20, K).mean(axis=1)
    # the mean of K draws of T z_T²/Σz² (variance ≈ var(z²) = 2): standard error √(2/K) = 0.02;
    # five standard errors. A step scaled by σ_j (the slide's typo, or a missing root) is
    # off by factors up to 1e8 here, and a 1/t step by T = 200
    np.testing.assert_allclose(ratio, 1.0, atol=5 * np.sqrt(2 / K))


def test_adagrad_steps_equal_the_rms_form_on_the_recorded_gradients(recorded):
    # the chapter's identity, on its own 1000 recorded gradients: the step Adagrad takes,
    # η g/√(ε + Σ g²), equals (η/√t)·g/RMS_t with RMS_t = √(mean of g² so far).
    # References written out here: Adagrad's update as a loop, and the RMS form as a loop.
    _, grads = recorded
    eta = 0.03
    steps_adagrad, steps_rms = adagrad_rms_identity(grads, eta)
    G, ref_ada, ref_rms = np.zeros(grads.shape[1]), [], []
    for t, g in enumerate(grads, start=1):
        G = G + g * g
        ref_ada.append(eta * g / np.sqrt(1e-300 + G))
        ref_rms.append(eta / np.sqrt(t) * g / np.sqrt(G / t))
    mask = np.abs(grads) > 0
    # sums of up to 1000 squares: rounding ≲ 1000 eps ≈ 2e-13, relative
    np.testing.assert_allclose(steps_adagrad[mask], np.array(ref_ada)[mask], rtol=1e-12)
    np.testing.assert_allclose(steps_rms[mask], np.array(ref_rms)[mask], rtol=1e-12)
    rel = np.max(np.abs(steps_adagrad - steps_rms)[mask] / np.abs(steps_rms[mask]))
    assert rel < 1e-12                      # the chapter: "agree ... on every coordinate of every step"


def test_scale_invariance_gap_matches_torch_and_the_slides_literal_loop(recorded):
    _, grads = recorded
    g = grads[:200]
    mask = np.abs(g) > 0

    def torch_steps(gs):               # reference 1: torch.optim.Adagrad, ε = 0
        p = torch.zeros(gs.shape[1], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adagrad([p], lr=0.03, eps=0.0)
        out = []
        for row in gs:
            before = p.detach().clone()
            p.grad = torch.tensor(row)
            opt.step()
            out.append((before - p.detach()).numpy())
        return np.array(out)

    def slide_typo_steps(gs):          # reference 2: the slide as printed, w −= η g/√(G²)
        G, out = np.zeros(gs.shape[1]), []
        for row in gs:
            G += row ** 2
            out.append(0.03 * row / np.sqrt(G ** 2))
        return np.array(out)

    for c in (0.1, 10.0, 1e3):
        ada, typo = scale_invariance_gap(g, 0.03, c)
        with np.errstate(invalid="ignore", divide="ignore"):
            ref_ada = np.max(np.abs(torch_steps(c * g)[mask] / torch_steps(g)[mask]))
            ref_typo = np.max(np.abs(slide_typo_steps(c * g)[mask] / slide_typo_steps(g)[mask]))
        # a handful of roundings per step on either side (sums of 200 squares, a root, a quotient)
        assert ada == pytest.approx(ref_ada, rel=1e3 * np.finfo(float).eps)
        assert typo == pytest.approx(ref_typo, rel=1e3 * np.finfo(float).eps)
        assert ref_ada == pytest.approx(1.0, rel=1e3 * np.finfo(float).eps)
        assert abs(np.log10(ref_typo) + np.log10(c)) < 1e-12 * max(1, abs(np.log10(c)))  # 1/c


def test_slide_adagrad_is_torch_adagrad_with_eps_in_the_accumulator():
    X, y = load_breast_cancer_pm1(standardize=True)
    obj = LogisticRegression(X, y, l2=1e-2)
    eps, eta = 0.1, 0.5
    rng = np.random.default_rng(1)
    idx = [rng.integers(obj.n_samples, size=16) for _ in range(300)]
    for factory, close in ((lambda p: torch.optim.Adagrad(p, lr=eta, eps=0, initial_accumulator_value=eps), True),
                           (lambda p: torch.optim.Adagrad(p, lr=eta, eps=eps), False)):
        stream = iter(idx)
        ours, _, theirs = torch_trajectory(Adagrad(eta, eps=eps), factory,
                                              lambda w: obj.minibatch_grad(w, next(stream)), np.zeros(30), 300)
        gap = np.max(np.abs(ours - theirs))
        assert (gap < 1e-13) if close else (gap > 0.1)
