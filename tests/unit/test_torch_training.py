"""lec4lib.nets.training: digits tensors, SmallCNN and the training loop."""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from lec4lib.nets.training import evaluate, load_digits_tensors, SmallCNN, train, TrainHistory


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is faster, and the machine is shared (see torch_threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    return load_digits_tensors(seed=0, test_size=0.25)


def test_digits_split_sizes_classes_and_standardization(digits):
    (x_tr, y_tr), (x_te, y_te) = digits
    assert x_tr.shape == (1347, 1, 8, 8) and x_te.shape == (450, 1, 8, 8)
    assert x_tr.dtype == torch.float32 and y_tr.dtype == torch.int64
    # stratified: every class in both parts, proportions close to the full set's
    full = np.bincount(load_digits().target) / 1797
    assert np.abs(np.bincount(y_te.numpy()) / 450 - full).max() < 0.01
    # standardized with training statistics only: compare with scikit-learn's scaler
    scaler = StandardScaler().fit(x_tr.numpy().reshape(len(x_tr), -1))
    np.testing.assert_allclose(scaler.mean_, 0.0, atol=1e-5)
    nonconst = scaler.scale_ > 1e-6
    np.testing.assert_allclose(scaler.scale_[nonconst], 1.0, rtol=1e-4)
    # the test set was not used: its mean is not exactly zero
    assert np.abs(x_te.numpy().reshape(450, -1).mean(0)).max() > 1e-3


def test_digits_split_is_seeded(digits):
    (x_a, y_a), _ = load_digits_tensors(seed=0)
    (x_b, y_b), _ = load_digits_tensors(seed=1)
    assert torch.equal(x_a, digits[0][0]) and torch.equal(y_a, digits[0][1])
    assert not torch.equal(y_a, y_b)


@pytest.mark.parametrize("kwargs,match", [({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"),
                                          ({"test_size": 0.0}, "test_size"),
                                          ({"test_size": 1.2}, "test_size"),
                                          ({"dtype": torch.int64}, "dtype")])
def test_digits_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_digits_tensors(**kwargs)


def test_small_cnn_seeded_init_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b, c = SmallCNN(seed=3), SmallCNN(seed=3), SmallCNN(seed=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    # parameter count from the layer shapes: conv 1->8, conv 8->16 (3x3), 256->32, 32->10
    expected = (8 * 9 + 8) + (16 * 8 * 9 + 16) + (256 * 32 + 32) + (32 * 10 + 10)
    assert sum(p.numel() for p in a.parameters()) == expected


@pytest.mark.parametrize("kwargs,match", [({"seed": -2}, "seed"), ({"channels": (8,)}, "channels"),
                                          ({"channels": (0, 4)}, "channels"),
                                          ({"hidden": 0}, "hidden"), ({"num_classes": 1}, "num_classes")])
def test_small_cnn_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SmallCNN(**kwargs)


def test_train_is_reproducible_and_counts_steps(digits):
    tr, te = digits
    runs = []
    for _ in range(2):
        model = SmallCNN(seed=0)
        h = train(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), tr,
                  batch_size=32, epochs=2, seed=7, test_data=te)
        runs.append((h, model))
    (h1, m1), (h2, m2) = runs
    assert h1.loss == h2.loss and h1.test_accuracy == h2.test_accuracy
    assert h1.steps == 2 * math.ceil(1347 / 32) == len(h1.loss) == len(h1.lr)
    assert len(h1.test_accuracy) == len(h1.epoch_loss) == 2
    assert isinstance(h1, TrainHistory) and h1.wall_time > 0 and not h1.diverged
    # training on the digits helps: test accuracy beats chance (0.1) by far after 2 epochs
    assert h1.final_test_accuracy > 0.8
    # the last test accuracy is what evaluate() reports on the trained model
    assert evaluate(m1, te)[1] == h1.test_accuracy[-1]


def test_full_batch_train_step_is_one_gradient_descent_step(digits):
    tr, _ = digits
    model, ref = SmallCNN(seed=1), SmallCNN(seed=1)
    train(model, torch.optim.SGD(model.parameters(), lr=0.1), tr, batch_size=5000, epochs=1, seed=0)
    # reference: one hand-written GD step on the whole training set
    loss = torch.nn.functional.cross_entropy(ref(tr[0]), tr[1])
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    for p, r, g in zip(model.parameters(), ref.parameters(), grads):
        torch.testing.assert_close(p.detach(), (r - 0.1 * g).detach(), rtol=1e-5, atol=1e-6)


def test_scheduler_is_stepped_after_every_step(digits):
    tr, _ = digits
    model = SmallCNN(seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / 5))
    h = train(model, opt, tr, batch_size=500, epochs=3, seed=0, scheduler=sched)
    np.testing.assert_allclose(h.lr, [0.1 * min(1.0, (t + 1) / 5) for t in range(h.steps)])


def test_divergence_stops_training(digits):
    tr, te = digits
    model = SmallCNN(seed=0)
    h = train(model, torch.optim.SGD(model.parameters(), lr=1e6), tr, batch_size=256,
              epochs=5, seed=0, test_data=te)
    assert h.diverged and not math.isfinite(h.loss[-1])
    assert h.steps < 5 * math.ceil(1347 / 256)
    assert math.isnan(h.final_test_accuracy)


@pytest.mark.parametrize("kwargs,match", [({"batch_size": 0}, "batch_size"),
                                          ({"epochs": 0}, "epochs"), ({"seed": -1}, "seed"),
                                          ({"train_data": (torch.zeros(3, 1, 8, 8), torch.zeros(2))},
                                           "train_data"),
                                          ({"optimizer": "sgd"}, "optimizer"),
                                          ({"batch_size": 99999, "drop_last": True},
                                           r"^Invalid batch_size: 99999 \(must be an integer in 1\.\.1347\)$")])
def test_train_rejects_bad_input(digits, kwargs, match):
    model = SmallCNN(seed=0)
    args = dict(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                train_data=digits[0], batch_size=64, epochs=1, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        train(**args)


def test_torch_threads_restores_and_validates():
    from lec4lib.nets.training import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match=r"^Invalid n: 0 \(must be an integer >= 1\)$"):
        with torch_threads(0):
            pass
