"""The original AlexNet (Krizhevsky et al. 2012) with its Caffe initialization.

The slide "Non-uniform updates between different layers" lists AlexNet's parameters
as Caffe names them: ``conv1.0`` is the weight of ``conv1`` and ``conv1.1`` its bias.
That table (from You, Gitman & Ginsburg 2017, "Large Batch Training of Convolutional
Networks", arXiv:1708.03888) is computed at the first iteration of the *original*
two-tower network, in which ``conv2``, ``conv4`` and ``conv5`` are grouped convolutions
(``groups=2``: each tower sees half of the channels), with Caffe's initialization:

* weights drawn from N(0, 0.01²), except ``fc6`` and ``fc7``: N(0, 0.005²);
* biases set to a constant: 0.01, except ``fc6`` and ``fc7``: 0.1.

So the ‖w‖ column of the table is fixed by the initialization: a weight tensor with ``n``
entries drawn with standard deviation ``σ`` has norm close to ``σ√n`` (e.g. ``fc8.0``:
``0.01·√(4096·1000) = 20.24``), and a constant bias ``c`` of length ``m`` has norm ``c√m``.
:func:`caffe_expected_norms` gives these closed forms.

The network takes ``3×227×227`` images (the size at which ``conv1`` with stride 4 gives
55×55 maps and ``pool5`` gives the 6×6×256 = 9216 inputs of ``fc6``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..validation import check_int, check_number

__all__ = ["AlexNet", "LAYERS", "caffe_init_", "caffe_name",
           "caffe_expected_norms", "alexnet_flops_per_image"]

#: Input side length (pixels) of the original network.

#: Layer names in the order of the network (input to output).
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")

# (weight std, bias constant) of Caffe's bvlc AlexNet-style initialization used by the
# LARS paper's table (the slide's ‖w‖ column is reproduced by these values: the claim test
# test_alexnet_weight_norms_match_the_slide_within_one_percent).
_CAFFE_INIT = {name: (0.01, 0.01) for name in LAYERS}
_CAFFE_INIT["fc6"] = (0.005, 0.1)
_CAFFE_INIT["fc7"] = (0.005, 0.1)


class AlexNet(nn.Module):
    """The original (grouped, two-tower) AlexNet for 227×227 RGB images.

    ``conv1`` 96×11×11 stride 4 → ReLU → LRN → max-pool 3/2 → ``conv2`` 256×5×5
    (groups 2) → ReLU → LRN → max-pool → ``conv3`` 384×3×3 → ReLU → ``conv4`` 384×3×3
    (groups 2) → ReLU → ``conv5`` 256×3×3 (groups 2) → ReLU → max-pool → ``fc6`` 4096 →
    ReLU → dropout → ``fc7`` 4096 → ReLU → dropout → ``fc8`` (classes).
    With 1000 classes it has 60,965,224 parameters.

    Parameters
    ----------
    num_classes : int, default 1000
        Outputs of ``fc8`` (``>= 2``).
    seed : int or None, default 0
        Seed of the Caffe initialization (:func:`caffe_init_`), drawn from a private RNG
        state (the global RNG is left as it was). ``None`` keeps PyTorch's default
        initialization.
    dropout : float, default 0.5
        Dropout probability after ``fc6`` and ``fc7``, in ``[0, 1)``.

    Examples
    --------
    >>> model = AlexNet(num_classes=10, seed=0)
    >>> model(torch.zeros(1, 3, 227, 227)).shape
    torch.Size([1, 10])
    >>> model.conv2.groups, model.conv3.groups, model.conv4.groups
    (2, 1, 2)
    """

    def __init__(self, num_classes: int = 1000, seed: int | None = 0, dropout: float = 0.5):
        super().__init__()
        num_classes = check_int("num_classes", num_classes, 2)
        dropout = check_number(dropout, "dropout", 0.0, 1.0)
        self.num_classes = num_classes
        # with a seed, PyTorch's default initialization would be thrown away: build the
        # layers on the meta device (no memory, no RNG draws) and allocate them empty
        kw = {"device": "meta"} if seed is not None else {}
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4, **kw)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2, **kw)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1, **kw)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2, **kw)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2, **kw)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096, **kw)
        self.fc7 = nn.Linear(4096, 4096, **kw)
        self.fc8 = nn.Linear(4096, num_classes, **kw)
        self.lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.drop = nn.Dropout(float(dropout))
        if seed is not None:
            self.to_empty(device="cpu")
            caffe_init_(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.lrn(F.relu(self.conv1(x))), 3, 2)
        x = F.max_pool2d(self.lrn(F.relu(self.conv2(x))), 3, 2)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = self.drop(F.relu(self.fc6(x.flatten(1))))
        x = self.drop(F.relu(self.fc7(x)))
        return self.fc8(x)


def caffe_init_(model: AlexNet, seed: int) -> AlexNet:
    """Initialize ``model`` in place as Caffe's AlexNet (see the module docstring).

    Parameters
    ----------
    model : AlexNet
        The network to initialize.
    seed : int
        Seed (``>= 0``) of a private ``torch.Generator``; the global RNG is untouched.

    Returns
    -------
    AlexNet
        ``model`` itself.

    Examples
    --------
    >>> m = caffe_init_(AlexNet(num_classes=10, seed=None), seed=1)
    >>> round(float(m.fc6.bias.detach()[0]), 6)
    0.1
    """
    seed = check_int("seed", seed, 0)
    if not isinstance(model, AlexNet):
        raise ValueError(f"model must be an AlexNet, got {type(model).__name__}")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in LAYERS:
            layer = getattr(model, name)
            std, bias = _CAFFE_INIT[name]
            w = torch.randn(layer.weight.shape, generator=gen, dtype=torch.float32) * std
            layer.weight.copy_(w)
            layer.bias.fill_(bias)
    return model


def caffe_name(torch_name: str) -> str:
    """Map a PyTorch parameter name to the slide's Caffe name.

    Examples
    --------
    >>> caffe_name("fc8.weight"), caffe_name("conv1.bias")
    ('fc8.0', 'conv1.1')
    """
    layer, _, kind = torch_name.rpartition(".")
    if layer not in LAYERS or kind not in ("weight", "bias"):
        raise ValueError(f"torch_name must be '<layer>.weight' or '<layer>.bias' with layer "
                         f"in {LAYERS}, got {torch_name!r}")
    return f"{layer}.{0 if kind == 'weight' else 1}"


def caffe_expected_norms(num_classes: int = 1000) -> dict[str, float]:
    """Closed-form ‖w‖ of every AlexNet parameter under Caffe's initialization.

    A weight with ``n`` entries drawn from N(0, σ²) has ``E‖w‖² = nσ²``, so
    ``‖w‖ ≈ σ√n`` (the relative spread is about ``1/√(2n)``, below 0.3% for every
    AlexNet weight); a constant bias ``c`` of length ``m`` has ``‖b‖ = c√m`` exactly.

    Parameters
    ----------
    num_classes : int, default 1000
        Outputs of ``fc8`` (``>= 2``).

    Returns
    -------
    dict
        Caffe name (``"fc8.0"``, ``"fc8.1"``, …) to the expected norm, output layer first
        (the slide's order).

    Examples
    --------
    >>> round(caffe_expected_norms()["fc8.0"], 2)
    20.24
    """
    num_classes = check_int("num_classes", num_classes, 2)
    shapes = {  # (weight entries, bias entries) of the grouped network
        "conv1": (96 * 3 * 11 * 11, 96),
        "conv2": (256 * 48 * 5 * 5, 256),
        "conv3": (384 * 256 * 3 * 3, 384),
        "conv4": (384 * 192 * 3 * 3, 384),
        "conv5": (256 * 192 * 3 * 3, 256),
        "fc6": (4096 * 9216, 4096),
        "fc7": (4096 * 4096, 4096),
        "fc8": (num_classes * 4096, num_classes),
    }
    out = {}
    for name in reversed(LAYERS):
        std, bias = _CAFFE_INIT[name]
        n_w, n_b = shapes[name]
        out[f"{name}.0"] = std * math.sqrt(n_w)
        out[f"{name}.1"] = bias * math.sqrt(n_b)
    return out


def alexnet_flops_per_image(num_classes: int = 1000, training: bool = True) -> float:
    """Floating-point operations of AlexNet for one 227×227 image (model FLOPs).

    Counts ``2`` FLOPs per multiply-add of the convolutions and linear layers (the
    convention of model-FLOPs utilization, MFU; activations, pooling and LRN are
    negligible and left out). A training step costs three times the forward pass
    (forward, and backward with respect to activations and to weights).

    Parameters
    ----------
    num_classes : int, default 1000
        Outputs of ``fc8`` (``>= 2``).
    training : bool, default True
        Count forward + backward (``3×`` forward) instead of the forward pass alone.

    Returns
    -------
    float
        FLOPs per image.

    Examples
    --------
    >>> round(alexnet_flops_per_image(training=False) / 1e9, 3)
    1.449
    """
    num_classes = check_int("num_classes", num_classes, 2)
    macs = (
        55 * 55 * 96 * (3 * 11 * 11)        # conv1
        + 27 * 27 * 256 * (48 * 5 * 5)      # conv2, groups 2
        + 13 * 13 * 384 * (256 * 3 * 3)     # conv3
        + 13 * 13 * 384 * (192 * 3 * 3)     # conv4, groups 2
        + 13 * 13 * 256 * (192 * 3 * 3)     # conv5, groups 2
        + 9216 * 4096 + 4096 * 4096 + 4096 * num_classes
    )
    return float(2 * macs * (3 if training else 1))
