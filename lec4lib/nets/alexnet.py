"""The original AlexNet (Krizhevsky et al. 2012) with two named initializations.

The slide "Non-uniform updates between different layers" lists AlexNet's parameters
as Caffe's solver logs name them: ``conv1.0`` is blob 0 (the weight) of layer ``conv1``
and ``conv1.1`` blob 1 (its bias). That table (from You, Gitman & Ginsburg 2017, "Large
Batch Training of Convolutional Networks", arXiv:1708.03888) is computed at the first
iteration of the *original* two-tower network, in which ``conv2``, ``conv4`` and
``conv5`` are grouped convolutions (``groups=2``: each tower sees half of the channels).

Two initializations are offered (:data:`INITS`, the ``init`` argument):

``"bvlc"``
    BVLC Caffe's reference ``models/bvlc_alexnet/train_val.prototxt`` (BVLC/caffe,
    read at commit 0d2354c9): weights ``gaussian`` with ``std`` 0.01, 0.005 for ``fc6``
    and ``fc7``; biases ``constant`` 0 / 0.1 / 0 / 0.1 / 0.1 / 0.1 / 0.1 / 0 for
    ``conv1`` … ``fc8``. The same fillers are in the ``bvlc_alexnet/train_val.prototxt``
    (batch 8192) of ``borisgin/nvcaffe`` (commit 2683ab5f), an NVIDIA-Caffe fork with LARS
    code (``local_lr_auto``); by its name it is that of Boris Ginsburg, the paper's third
    author (not verified further).
``"slide"``
    The constants that reproduce the slide's ‖w‖ column: the same weights, but biases
    0.01, except ``fc6`` and ``fc7``: 0.1. These bias constants were *read off the slide*
    (``conv1.1`` = 0.098 = 0.01·√96, ``fc8.1`` = 0.316 = 0.01·√1000); neither of the two
    prototxts above has them; under ``"bvlc"`` ``conv1.1`` would be 0 and ``conv2.1`` 1.6.

Either way the ‖w‖ column is fixed by the initialization: a weight tensor with ``n``
entries drawn with standard deviation ``σ`` has norm close to ``σ√n`` (e.g. ``fc8.0``:
``0.01·√(4096·1000) = 20.24``), and a constant bias ``c`` of length ``m`` has norm
``c√m``. :func:`expected_norms` gives these closed forms.

The network takes ``3×227×227`` images (the size at which ``conv1`` with stride 4 gives
55×55 maps and ``pool5`` gives the 6×6×256 = 9216 inputs of ``fc6``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..validation import check_int, check_number

__all__ = ["AlexNet", "LAYERS", "INITS", "init_alexnet_", "caffe_name",
           "expected_norms", "alexnet_flops_per_image"]

#: Input side length (pixels) of the original network.

#: Layer names in the order of the network (input to output).
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")

_WEIGHT_STD = {name: 0.01 for name in LAYERS} | {"fc6": 0.005, "fc7": 0.005}

#: Named initializations: name → {layer: (weight std, bias constant)}. ``"bvlc"`` is
#: BVLC Caffe's ``models/bvlc_alexnet/train_val.prototxt``; ``"slide"`` has the same
#: weight stds and the bias constants that reproduce the slide's ‖w‖ column (see the
#: module docstring).
INITS = {
    "bvlc": {name: (_WEIGHT_STD[name], bias) for name, bias in zip(
        LAYERS, (0.0, 0.1, 0.0, 0.1, 0.1, 0.1, 0.1, 0.0))},
    "slide": {name: (_WEIGHT_STD[name], 0.1 if name in ("fc6", "fc7") else 0.01)
              for name in LAYERS},
}


def _check_init(init) -> str:
    if init not in INITS:
        raise ValueError(f"init must be one of {sorted(INITS)}, got {init!r}")
    return init


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
        Seed of the initialization (:func:`init_alexnet_`), drawn from a private RNG
        state (the global RNG is left as it was). ``None`` keeps PyTorch's default
        initialization.
    init : {"slide", "bvlc"}, default "slide"
        Which constants (:data:`INITS`): the slide-matching ones or BVLC's prototxt.
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

    def __init__(self, num_classes: int = 1000, seed: int | None = 0, dropout: float = 0.5,
                 init: str = "slide"):
        super().__init__()
        init = _check_init(init)
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
            init_alexnet_(self, seed, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.lrn(F.relu(self.conv1(x))), 3, 2)
        x = F.max_pool2d(self.lrn(F.relu(self.conv2(x))), 3, 2)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = self.drop(F.relu(self.fc6(x.flatten(1))))
        x = self.drop(F.relu(self.fc7(x)))
        return self.fc8(x)


def init_alexnet_(model: AlexNet, seed: int, init: str = "slide") -> AlexNet:
    """Initialize ``model`` in place with the named constants of :data:`INITS`.

    Weights are drawn from N(0, σ²) and biases set to their constant, layer by layer
    (``"bvlc"``: BVLC Caffe's prototxt; ``"slide"``: the constants that reproduce the
    slide's ‖w‖ column; see the module docstring).

    Parameters
    ----------
    model : AlexNet
        The network to initialize.
    seed : int
        Seed (``>= 0``) of a private ``torch.Generator``; the global RNG is untouched.
    init : {"slide", "bvlc"}, default "slide"
        Which constants.

    Returns
    -------
    AlexNet
        ``model`` itself.

    Examples
    --------
    >>> m = init_alexnet_(AlexNet(num_classes=10, seed=None), seed=1, init="bvlc")
    >>> float(m.conv1.bias.detach()[0]), round(float(m.conv2.bias.detach()[0]), 6)
    (0.0, 0.1)
    """
    seed = check_int("seed", seed, 0)
    constants = INITS[_check_init(init)]
    if not isinstance(model, AlexNet):
        raise ValueError(f"model must be an AlexNet, got {type(model).__name__}")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in LAYERS:
            layer = getattr(model, name)
            std, bias = constants[name]
            w = torch.randn(layer.weight.shape, generator=gen, dtype=torch.float32) * std
            layer.weight.copy_(w)
            layer.bias.fill_(bias)
    return model


def caffe_name(torch_name: str) -> str:
    """Map a PyTorch parameter name to the slide's name, ``<layer>.<blob index>``.

    That is how Caffe indexes a layer's parameter blobs (0: weight, 1: bias), and how
    NVIDIA Caffe's LARS code logs them (``layer_name << "." << blob_id`` in
    ``SGDSolver::GetLocalRate`` of ``borisgin/nvcaffe``).

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


def expected_norms(num_classes: int = 1000, init: str = "slide") -> dict[str, float]:
    """Closed-form ‖w‖ of every AlexNet parameter under a named initialization.

    A weight with ``n`` entries drawn from N(0, σ²) has ``E‖w‖² = nσ²``, so
    ``‖w‖ ≈ σ√n`` (the relative spread is about ``1/√(2n)``, below 0.3% for every
    AlexNet weight); a constant bias ``c`` of length ``m`` has ``‖b‖ = c√m`` exactly.

    Parameters
    ----------
    num_classes : int, default 1000
        Outputs of ``fc8`` (``>= 2``).
    init : {"slide", "bvlc"}, default "slide"
        Which constants (:data:`INITS`).

    Returns
    -------
    dict
        Caffe name (``"fc8.0"``, ``"fc8.1"``, …) to the expected norm, output layer first
        (the slide's order).

    Examples
    --------
    >>> round(expected_norms()["fc8.0"], 2), round(expected_norms(init="bvlc")["conv2.1"], 2)
    (20.24, 1.6)
    """
    num_classes = check_int("num_classes", num_classes, 2)
    constants = INITS[_check_init(init)]
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
        std, bias = constants[name]
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
