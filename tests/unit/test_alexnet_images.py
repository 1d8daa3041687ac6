"""AlexNet (grouped; the "slide" and "bvlc" initializations), its FLOP count, and the ImageNet-shaped image sources."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image
from torch import nn

from lec4lib.nets.alexnet import (AlexNet, alexnet_flops_per_image, caffe_name,
                                  expected_norms, init_alexnet_, LAYERS)
from lec4lib.nets.images import ImageFolder, synthetic_images, write_image_folder
from lec4lib.nets.trust_ratio import ratio_spread, table_markdown, trust_ratio_table, TrustRow
from tests.alexnet_reference import BIAS, WEIGHT_STD


@pytest.fixture(scope="module")
def alexnet():
    return AlexNet(seed=0)


def test_alexnet_architecture(alexnet):
    shapes = {caffe_name(n): tuple(p.shape) for n, p in alexnet.named_parameters()}
    assert shapes["conv1.0"] == (96, 3, 11, 11)
    assert shapes["conv2.0"] == (256, 48, 5, 5)       # groups = 2
    assert shapes["conv3.0"] == (384, 256, 3, 3)
    assert shapes["conv4.0"] == (384, 192, 3, 3)      # groups = 2
    assert shapes["conv5.0"] == (256, 192, 3, 3)      # groups = 2
    assert shapes["fc6.0"] == (4096, 9216)
    assert shapes["fc8.1"] == (1000,)
    assert sum(p.numel() for p in alexnet.parameters()) == 60_965_224
    assert len(shapes) == 2 * len(LAYERS)


def test_slide_init_statistics_and_determinism(alexnet):
    for name in LAYERS:
        layer = getattr(alexnet, name)
        assert float(layer.weight.detach().std()) == pytest.approx(WEIGHT_STD[name], rel=0.02)
        assert torch.all(layer.bias == BIAS["slide"][name])
    again = AlexNet(seed=0)
    assert torch.equal(again.conv1.weight, alexnet.conv1.weight)
    other = AlexNet(seed=1)
    assert not torch.equal(other.conv1.weight, alexnet.conv1.weight)
    state = torch.get_rng_state()
    AlexNet(num_classes=10, seed=3)
    assert torch.equal(state, torch.get_rng_state())   # global RNG untouched


@pytest.mark.parametrize("init", ["slide", "bvlc"])
def test_expected_norms_are_the_closed_forms(alexnet, init):
    exp = expected_norms(init=init)
    # independent: σ√n and c√m from the parameter shapes of the built model and the
    # constants typed in tests/alexnet_reference.py
    for n, p in alexnet.named_parameters():
        layer, kind = n.split(".")
        c = WEIGHT_STD[layer] if kind == "weight" else BIAS[init][layer]
        assert exp[caffe_name(n)] == pytest.approx(c * math.sqrt(p.numel()), rel=1e-12, abs=0)
    assert list(exp)[:2] == ["fc8.0", "fc8.1"]


def test_bvlc_init_has_the_prototxt_constants():
    model = AlexNet(num_classes=10, seed=0, init="bvlc")
    for name in LAYERS:
        layer = getattr(model, name)
        assert torch.all(layer.bias == BIAS["bvlc"][name]), name
        assert float(layer.weight.detach().std()) == pytest.approx(WEIGHT_STD[name], rel=0.02)
    # same seed, same weights under both: only the biases differ
    slide = AlexNet(num_classes=10, seed=0, init="slide")
    assert torch.equal(slide.fc7.weight, model.fc7.weight)
    assert not torch.equal(slide.conv1.bias, model.conv1.bias)


def test_flops_match_a_hook_count(alexnet):
    macs = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            k = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            macs.append(out.numel() * k)
        else:
            macs.append(out.numel() * mod.in_features)

    hs = [m.register_forward_hook(hook) for m in alexnet.modules()
          if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        alexnet.eval()(torch.zeros(1, 3, 227, 227))
    for h in hs:
        h.remove()
    alexnet.train()
    assert alexnet_flops_per_image(training=False) == 2 * sum(macs)
    assert alexnet_flops_per_image() == 3 * alexnet_flops_per_image(training=False)


def test_alexnet_rejects_bad_input():
    with pytest.raises(ValueError, match="num_classes"):
        AlexNet(num_classes=1)
    with pytest.raises(ValueError, match="dropout"):
        AlexNet(dropout=1.0)
    with pytest.raises(ValueError, match="seed"):
        init_alexnet_(AlexNet(num_classes=2, seed=None), seed=-1)
    with pytest.raises(ValueError, match="model"):
        init_alexnet_(nn.Linear(2, 2), seed=0)
    with pytest.raises(ValueError, match="init"):
        AlexNet(num_classes=2, init="caffe")
    with pytest.raises(ValueError, match="init"):
        expected_norms(init="BVLC")
    with pytest.raises(ValueError, match="torch_name"):
        caffe_name("fc9.weight")
    with pytest.raises(ValueError, match="num_classes"):
        expected_norms(num_classes=0)
    with pytest.raises(ValueError, match="num_classes"):
        alexnet_flops_per_image(num_classes=1)


def test_synthetic_images_shape_determinism_and_classes():
    x, y = synthetic_images(6, num_classes=5, image_size=32, seed=3)
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.float32
    assert y.min() >= 0 and y.max() < 5
    x2, y2 = synthetic_images(6, num_classes=5, image_size=32, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert abs(float(x.mean())) < 1e-5 and float(x.std()) == pytest.approx(1.0, abs=1e-4)
    # structure: two images of one class correlate more than images of different classes
    xs, _ = synthetic_images(40, num_classes=2, image_size=32, seed=0, noise=0.0,
                             labels=[0] * 20 + [1] * 20)
    f = torch.fft.rfft2(xs).abs().flatten(1)       # phase-free: the class's spectrum
    f = (f - f.mean(0)) / f.norm(dim=1, keepdim=True)
    sim = f @ f.T
    same = (sim[:20, :20].sum() - sim[:20, :20].diag().sum()) / (20 * 19)
    diff = sim[:20, 20:].mean()
    assert float(same) > float(diff) + 0.1


def test_synthetic_images_reject_bad_input():
    for kw, match in [(dict(n=0), "n"), (dict(n=2, num_classes=1), "num_classes"),
                      (dict(n=2, image_size=4), "image_size"), (dict(n=2, seed=-1), "seed"),
                      (dict(n=2, noise=-1.0), "noise"), (dict(n=2, labels=[0]), "labels"),
                      (dict(n=2, num_classes=3, labels=[0, 3]), "labels")]:
        with pytest.raises(ValueError, match=match):
            synthetic_images(**kw)


def test_image_folder_reads_a_generated_folder(tmp_path):
    root = write_image_folder(tmp_path / "imgs", num_classes=3, per_class=2, image_size=24, seed=1)
    (root / "class_001" / "notes.txt").write_text("not an image")
    # a non-square RGBA image: resized on its shorter side, centre-cropped, made RGB
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(root / "class_002" / "wide.png")
    data = ImageFolder(root, image_size=16)
    assert data.classes == ["class_000", "class_001", "class_002"]
    assert len(data) == 7
    x, y = data.batch(range(len(data)))
    assert x.shape == (7, 3, 16, 16) and y.tolist() == [0, 0, 1, 1, 2, 2, 2]
    # the red image: channel values (1 - mean)/std and (0 - mean)/std exactly
    red = x[data.samples.index((root / "class_002" / "wide.png", 2))]
    assert torch.allclose(red[0], torch.full((16, 16), (1 - 0.485) / 0.229), atol=1e-6)
    assert torch.allclose(red[1], torch.full((16, 16), (0 - 0.456) / 0.224), atol=1e-6)
    xb, yb = data.random_batch(4, seed=0)
    xb2, yb2 = data.random_batch(4, seed=0)
    assert torch.equal(xb, xb2) and len(set(yb.tolist())) >= 1
    assert data.random_batch(10, seed=0)[0].shape[0] == 10


def test_image_folder_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="root"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        ImageFolder(tmp_path / "empty")
    root = write_image_folder(tmp_path / "ok", num_classes=2, per_class=1, image_size=16)
    data = ImageFolder(root, image_size=16)
    with pytest.raises(ValueError, match="indices"):
        data.batch([5])
    with pytest.raises(ValueError, match="indices"):
        data.batch([])
    with pytest.raises(ValueError, match="batch_size"):
        data.random_batch(0)
    with pytest.raises(ValueError, match="image_size"):
        ImageFolder(root, image_size=2)


def test_trust_ratio_table_on_a_linear_model():
    # independent reference: the gradient of mean cross-entropy of a linear model in closed form
    torch.manual_seed(0)
    lin = nn.Linear(4, 3)
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    p = torch.softmax(lin(x), 1).detach()
    d = (p - nn.functional.one_hot(y, 3)) / 5
    rows = {r.name: r for r in trust_ratio_table(lin, x, y)}
    assert rows["weight"].grad_norm == pytest.approx(float((d.T @ x).norm()), rel=1e-5)
    assert rows["bias"].grad_norm == pytest.approx(float(d.sum(0).norm()), rel=1e-5)
    assert rows["weight"].ratio == pytest.approx(float(lin.weight.norm()) / float((d.T @ x).norm()), rel=1e-5)
    assert lin.weight.grad is None                     # .grad left alone
    with pytest.raises(ValueError, match="x and y"):
        trust_ratio_table(lin, x, y[:2])
    with pytest.raises(ValueError, match="seed"):
        trust_ratio_table(lin, x, y, seed=-1)
    with pytest.raises(ValueError, match="model"):
        trust_ratio_table("lin", x, y)


def test_ratio_spread_and_markdown():
    rows = [TrustRow("a", 2.0, 1.0), TrustRow("b", 300.0, 1.0), TrustRow("z", 1.0, 0.0)]
    assert ratio_spread(rows) == 150.0
    assert rows[2].ratio == float("inf")
    with pytest.raises(ValueError, match="rows"):
        ratio_spread(rows[:1])
    md = table_markdown(rows[:2], {"a": (2.0, 1.0, 2)})
    assert md.count("\n") == 3 and "| a | 2.000 | 1.000000 | 2 | 2.000 | 1.000000 | 2 |" in md


def test_write_image_folder_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="num_classes"):
        write_image_folder(tmp_path, num_classes=1)
    with pytest.raises(ValueError, match="per_class"):
        write_image_folder(tmp_path, per_class=0)
    with pytest.raises(ValueError, match="image_size"):
        write_image_folder(tmp_path, image_size=3)
