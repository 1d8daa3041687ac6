"""Layer-wise trust ratios ‖w‖/‖∇w‖: the table of the slide "Non-uniform updates".

With one global learning rate ``η`` every parameter tensor moves by ``η‖∇w‖``, i.e. by
the fraction ``η‖∇w‖/‖w‖`` of its own size. When the ratio ``‖w‖/‖∇w‖`` differs by two
orders of magnitude across layers (the slide: 20 for ``conv1.1``, 3690 for ``fc6.1``),
a rate small enough for the layer with the smallest ratio barely moves the others: "some
layer becomes the bottleneck of LR". LARS and LAMB divide each layer's step by its own
ratio. This module computes the table for any model and keeps the slide's numbers
(:data:`SLIDE_ALEXNET_TABLE`) for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..validation import check_int, check_number

__all__ = ["TrustRow", "SLIDE_ALEXNET_TABLE", "trust_ratio_table", "ratio_spread",
           "layerwise_param_groups", "table_markdown"]

#: The slide's table (You, Gitman & Ginsburg 2017, Table 1: AlexNet at the first
#: iteration): Caffe name → (‖w‖, ‖∇w‖, ‖w‖/‖∇w‖), as printed.
SLIDE_ALEXNET_TABLE = {
    "fc8.0": (20.24, 0.078445, 258), "fc8.1": (0.316, 0.006147, 51),
    "fc7.0": (20.48, 0.110949, 184), "fc7.1": (6.400, 0.004939, 1296),
    "fc6.0": (30.72, 0.097996, 314), "fc6.1": (6.400, 0.001734, 3690),
    "conv5.0": (6.644, 0.034447, 193), "conv5.1": (0.160, 0.000961, 166),
    "conv4.0": (8.149, 0.039939, 204), "conv4.1": (0.196, 0.000486, 403),
    "conv3.0": (9.404, 0.049182, 191), "conv3.1": (0.196, 0.000511, 384),
    "conv2.0": (5.545, 0.057997, 96), "conv2.1": (0.160, 0.000649, 247),
    "conv1.0": (1.866, 0.071503, 26), "conv1.1": (0.098, 0.004909, 20),
}


@dataclass(frozen=True)
class TrustRow:
    """One row of the table: a parameter tensor's norm, its gradient's norm, their ratio."""

    name: str
    weight_norm: float
    grad_norm: float

    @property
    def ratio(self) -> float:
        """``‖w‖/‖∇w‖`` (``inf`` for a zero gradient)."""
        return self.weight_norm / self.grad_norm if self.grad_norm > 0 else float("inf")


def trust_ratio_table(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, seed: int = 0,
                      name_map=None, reverse: bool = True) -> list[TrustRow]:
    """‖w‖, ‖∇w‖ and ‖w‖/‖∇w‖ of every parameter tensor at one batch.

    The gradient is that of the mean cross-entropy of ``model(x)`` against ``y``, in
    training mode (dropout active, drawn from a private RNG state seeded with ``seed``,
    so the result is reproducible and the global RNG is untouched). The model's
    parameters are not changed; its ``.grad`` fields are restored.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits.
    x, y : Tensor
        A batch of inputs and class labels (same length, ``>= 1``).
    seed : int, default 0
        Seed of the dropout masks (``>= 0``).
    name_map : callable, optional
        Maps PyTorch parameter names to displayed names (e.g.
        :func:`lec4lib.nets.alexnet.caffe_name`).
    reverse : bool, default True
        List the layers output first, as the slide does (within a layer, the
        parameters keep their order: weight, then bias).

    Returns
    -------
    list of TrustRow

    Examples
    --------
    >>> lin = nn.Linear(3, 2)
    >>> rows = trust_ratio_table(lin, torch.ones(4, 3), torch.tensor([0, 1, 0, 1]))
    >>> [r.name for r in rows]
    ['weight', 'bias']
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)) or len(x) != len(y) or len(x) == 0:
        raise ValueError("x and y must be tensors of equal, non-zero length")
    seed = check_int("seed", seed, 0)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    was_training = model.training
    model.train()
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(int(seed))
        loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params)
    model.train(was_training)
    rows = [TrustRow(name_map(n) if name_map else n, float(p.detach().norm()), float(g.norm()))
            for (n, p), g in zip(named, grads)]
    if not reverse:
        return rows
    # output layer first, each layer's tensors in their own order (weight, then bias)
    layers: dict[str, list[TrustRow]] = {}
    for (n, _), row in zip(named, rows):
        layers.setdefault(n.rpartition(".")[0], []).append(row)
    return [row for layer in reversed(list(layers.values())) for row in layer]


def ratio_spread(rows: list[TrustRow]) -> float:
    """Largest over smallest ratio ``‖w‖/‖∇w‖`` in a table (finite ratios only).

    Examples
    --------
    >>> ratio_spread([TrustRow("a", 1.0, 0.5), TrustRow("b", 9.0, 0.1)])
    45.0
    """
    ratios = [r.ratio for r in rows if 0 < r.ratio < float("inf")]
    if len(ratios) < 2:
        raise ValueError("rows must hold at least two finite, non-zero ratios")
    return max(ratios) / min(ratios)


def layerwise_param_groups(model: nn.Module, weight_decay: float = 0.0, *,
                           exclude_bias_and_norm: bool = True) -> list[dict]:
    """Parameter groups for LARS/LAMB, with biases and normalization parameters excluded.

    Tensors with one dimension or fewer (biases, the scales and shifts of batch- and
    layer-normalization) go to a group with ``weight_decay=0`` and ``adapt=False`` (no
    layer-wise ratio), as in the large-batch ResNet and BERT recipes; the rest get
    ``weight_decay`` and the ratio.

    Parameters
    ----------
    model : torch.nn.Module
    weight_decay : float, default 0
        Weight decay of the adapted group (``>= 0``).
    exclude_bias_and_norm : bool, default True
        With ``False``, one group holds every parameter.

    Returns
    -------
    list of dict
        Groups to pass to :class:`lec4lib.optim.lars.LARS` or :class:`lec4lib.optim.lamb.LAMB`
        (empty groups are left out).

    Examples
    --------
    >>> groups = layerwise_param_groups(nn.Linear(3, 2), weight_decay=1e-4)
    >>> [(len(g["params"]), g["adapt"]) for g in groups]
    [(1, True), (1, False)]
    """
    weight_decay = check_number(weight_decay, "weight_decay", 0.0)
    params = [p for p in model.parameters() if p.requires_grad]
    if not exclude_bias_and_norm:
        return [{"params": params, "weight_decay": float(weight_decay), "adapt": True}]
    adapted = [p for p in params if p.ndim > 1]
    plain = [p for p in params if p.ndim <= 1]
    groups = []
    if adapted:
        groups.append({"params": adapted, "weight_decay": float(weight_decay), "adapt": True})
    if plain:
        groups.append({"params": plain, "weight_decay": 0.0, "adapt": False})
    return groups


def table_markdown(rows: list[TrustRow], reference: dict | None = None) -> str:
    """A Markdown table of ``rows``, with a reference table's columns beside them.

    Parameters
    ----------
    rows : list of TrustRow
    reference : dict, optional
        Name → (‖w‖, ‖∇w‖, ratio), e.g. :data:`SLIDE_ALEXNET_TABLE`.

    Returns
    -------
    str
    """
    head = "| layer | ‖w‖ | ‖∇w‖ | ‖w‖/‖∇w‖ |"
    rule = "|---|---:|---:|---:|"
    if reference is not None:
        head += " slide ‖w‖ | slide ‖∇w‖ | slide ratio |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    for r in rows:
        line = f"| {r.name} | {r.weight_norm:.3f} | {r.grad_norm:.6f} | {r.ratio:.0f} |"
        if reference is not None:
            w, g, q = reference.get(r.name, (float("nan"),) * 3)
            line += f" {w:.3f} | {g:.6f} | {q:.0f} |"
        lines.append(line)
    return "\n".join(lines)
