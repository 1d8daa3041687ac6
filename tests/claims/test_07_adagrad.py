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


def test_adagrad_step_is_eta_over_sqrt_t_divided_by_rms(recorded):
    _, grads = recorded
    eta = 0.03
    steps, _ = adagrad_rms_identity(grads, eta)
    T = len(grads)
    for t in (0, 1, 10, T - 1):                 # written out, one step at a time
        rms = np.sqrt(np.sum(grads[: t + 1] ** 2, axis=0) / (t + 1))
        np.testing.assert_allclose(steps[t], eta / np.sqrt(t + 1) * grads[t] / rms, rtol=1e-12)


def test_adagrad_is_scale_free_slide_typo_is_not(recorded):
    _, grads = recorded
    ada, typo = scale_invariance_gap(grads[:200], 0.03, 10.0)
    assert ada == pytest.approx(1.0, rel=1e-12)
    assert typo == pytest.approx(0.1, rel=1e-12)


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
