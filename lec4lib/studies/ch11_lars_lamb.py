"""The experiments of :ref:`chapter 11 <ch11>` (LARS and LAMB).

0. :func:`init_norm_comparison`: the slide's ‖w‖ column against the closed forms of the
   two named AlexNet initializations; :func:`compare_lars_forms`: LARS with the rate
   inside the momentum buffer (You et al. 2017, Algorithm 1) and outside it (torch).
1. :func:`compare_lars_sgd`: LARS against plain SGD at a large batch, on the digits.
2. :func:`run_experiment` (also a command-line program): AlexNet at a large batch, SGD
   against LARS, run at full scale on a GPU and stored; the book runs it at CPU scale.

Part 1
------
LARS against plain SGD at a large batch, on real data (the digits) with a small CNN.

The experiment of the chapter "LARS and LAMB": at batch size 1024 (three quarters of
the training digits per step), train :class:`lec4lib.nets.training.SmallCNN` with
``torch.optim.SGD`` and with :class:`lec4lib.optim.lars.LARS` — the same momentum, the same
seeded batches, the same global learning rate ``γ`` — and record loss curves and test
accuracy. Plain SGD moves every tensor by ``γ‖g‖``; LARS moves it by ``γ·c·‖w‖``
(``c`` the trust coefficient, which You et al. write ``η``) whatever the size of its
gradient, so a rate at which SGD's largest relative steps wreck the network still gives
LARS steps of a fixed, small fraction ``γc`` of each layer's norm.

Data, model and loop come from :mod:`lec4lib.nets.training`.

Part 2
------
AlexNet at a large batch: SGD against LARS, with trust-ratio tables, throughput and MFU.

Run it on a GPU (full scale)::

    python -m lec4lib.studies.ch11_lars_lamb --device cuda --batch-size 4096 \\
        --steps 300 --warmup-steps 30 --train-images 16384 --name alexnet_b4096

which writes ``lec4lib/data/results/alexnet_b4096/result.json`` (:func:`stored_results`:
package data, so a pip-installed lec4lib, e.g. on Colab, has it too);

and at tiny scale on a CPU (what the book and the tests do)::

    python -m lec4lib.studies.ch11_lars_lamb --device cpu --batch-size 4 --steps 2 \\
        --train-images 8 --eval-images 4 --results-dir /tmp/results --name tiny

From one initialized AlexNet (:mod:`lec4lib.nets.alexnet`; ``--init slide``, the
constants that reproduce the slide's ‖w‖ column, or ``--init bvlc``, BVLC Caffe's
prototxt), it trains a copy with ``torch.optim.SGD`` (momentum, weight decay) and a copy
with :class:`lec4lib.optim.lars.LARS` (the same momentum, weight decay and learning-rate
schedule — linear warm-up, then polynomial decay of power 2 as in You et al. 2017), on
the same batches. LARS runs in the paper's form by default, as in You et al. 2017,
Algorithm 1: the scheduled rate goes *into* the momentum buffer,
``v ← m v + γ_t λ(g + βw)``, ``w ← w − v`` (``LARS(lr_in_buffer=True)``;
``--lars-rate-outside-buffer`` selects torch's ``w ← w − γ_t v`` instead). The SGD
baseline is ``torch.optim.SGD``, whose rate is outside the buffer. It records

* the trust-ratio table (:func:`lec4lib.nets.trust_ratio.trust_ratio_table`) before training
  and after each run, on the same held-out batch;
* the loss of every step, the learning rate, and the held-out accuracy at the end;
* throughput (images/s over the timed steps, the first step excluded as warm-up) and
  model-FLOPs utilization: ``flops_per_image × images/s / peak`` with
  :func:`lec4lib.nets.alexnet.alexnet_flops_per_image` (3× the forward FLOPs) and the
  device's dense peak for the precision used (:data:`PEAK_TFLOPS`; ``--peak-tflops``
  overrides; ``null`` on a device it does not know, e.g. a CPU);
* provenance: device name, torch and CUDA versions, the git commit of the lec4lib that
  ran (and whether its tree had uncommitted changes; see :func:`source_revision`), seed,
  wall time, UTC date, the command line.

Data: structured synthetic ImageNet-shaped images (:func:`lec4lib.nets.images.synthetic_images`),
generated on the device, or ``--data PATH`` for an ImageFolder-style directory of real
images (``PATH/<class>/<image>``, read by :class:`lec4lib.nets.images.ImageFolder`).

It writes ``<results-dir>/<name>/result.json`` (by default in :func:`stored_results`, the
folder the book reads) and prints progress to stderr while it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as _dt
import json
import math
import platform
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from ..nets.alexnet import AlexNet, alexnet_flops_per_image, caffe_name, expected_norms, INITS
from ..nets.images import ImageFolder, synthetic_images
from ..nets.training import SmallCNN, TrainHistory, load_digits_tensors, torch_threads, train
from ..nets.trust_ratio import layerwise_param_groups, SLIDE_ALEXNET_TABLE, trust_ratio_table
from ..optim.lars import LARS
from ..results import provenance, source_revision, stored_results, write_result
from ..validation import check_int, check_number

__all__ = ["init_norm_comparison", "LarsFormsRun", "compare_lars_forms", "warmup_poly",
           "LarsSgdRun", "compare_lars_sgd", "ExperimentConfig", "run_experiment", "load_results", "stored_results", "source_revision", "peak_tflops", "PEAK_TFLOPS", "main"]


def init_norm_comparison(num_classes: int = 1000) -> list[dict]:
    """The slide's ‖w‖ column beside the closed forms of both AlexNet initializations.

    For every parameter of the slide's table (output layer first): ``name``, ``slide``
    (the printed ‖w‖), ``slide_init`` and ``bvlc_init`` (``σ√n`` or ``c√m`` under the
    constants of :data:`lec4lib.nets.alexnet.INITS`, from
    :func:`lec4lib.nets.alexnet.expected_norms`) and the relative deviations of the slide
    from each, ``dev_slide_init`` and ``dev_bvlc_init`` (``|slide − x|/x``; ``inf`` where
    ``x = 0``, i.e. a zero bias under BVLC's constants).

    Examples
    --------
    >>> rows = init_norm_comparison()
    >>> rows[-1]["name"], rows[-1]["slide"], rows[-1]["bvlc_init"]
    ('conv1.1', 0.098, 0.0)
    """
    num_classes = check_int("num_classes", num_classes, 2)
    closed = {init: expected_norms(num_classes, init) for init in ("slide", "bvlc")}
    rows = []
    for name, (w_norm, _, _) in SLIDE_ALEXNET_TABLE.items():
        row = {"name": name, "slide": w_norm, "slide_init": closed["slide"][name],
               "bvlc_init": closed["bvlc"][name]}
        for init in ("slide", "bvlc"):
            x = row[f"{init}_init"]
            row[f"dev_{init}_init"] = abs(w_norm - x) / x if x > 0 else math.inf
        rows.append(row)
    return rows


def warmup_poly(warmup_steps: int, total_steps: int, power: float = 2.0):
    """The factor ``t ↦ γ_t/γ`` of a linear warm-up, then polynomial decay (You et al. 2017).

    ``(t + 1)/warmup_steps`` for ``t < warmup_steps``, then ``(1 − t/total_steps)^power``
    (for ``torch.optim.lr_scheduler.LambdaLR``; ``t`` counts optimizer steps from 0).

    Examples
    --------
    >>> f = warmup_poly(2, 4)
    >>> [f(t) for t in range(4)]
    [0.5, 1.0, 0.25, 0.0625]
    """
    warmup_steps = check_int("warmup_steps", warmup_steps, 0)
    total_steps = check_int("total_steps", total_steps, 1)
    power = check_number(power, "power", 0.0)

    def factor(t: int) -> float:
        if t < warmup_steps:
            return (t + 1) / warmup_steps
        return max(0.0, 1.0 - t / total_steps) ** power

    return factor


@dataclass
class LarsFormsRun:
    """Both placements of LARS's rate on the same batches (:func:`compare_lars_forms`)."""

    schedule: str
    lr: list            # γ_t of every step
    loss_paper: list    # training loss of every step, rate inside the buffer
    loss_torch: list    # the same, rate outside the buffer
    gap: list           # max over tensors of ‖w_paper − w_torch‖/‖w_torch‖ after each step


def compare_lars_forms(*, steps: int = 40, warmup_steps: int = 8, lr: float = 0.8,
                       batch_size: int = 256, momentum: float = 0.9,
                       trust_coefficient: float = 0.01, weight_decay: float = 5e-4,
                       seed: int = 0) -> list[LarsFormsRun]:
    """Train the digits CNN with LARS in both forms, under a schedule and at a constant rate.

    ``LARS(lr_in_buffer=True)`` is You et al. 2017, Algorithm 1 (``v ← m v + γ_t λ(g + βw)``,
    ``w ← w − v``), ``lr_in_buffer=False`` torch's placement (``w ← w − γ_t v``). Each pair
    of runs starts from ``SmallCNN(seed=seed)`` in float64 and sees the same batches
    (drawn with replacement from a generator seeded with ``seed``); every tensor is
    adapted. Two schedules: ``"warm-up + poly"`` (:func:`warmup_poly`, power 2, through
    ``torch.optim.lr_scheduler.LambdaLR``) and ``"constant"``.

    Returns
    -------
    list of LarsFormsRun
        The scheduled pair, then the constant one.

    Examples
    --------
    >>> sched, const = compare_lars_forms(steps=4, warmup_steps=2)
    >>> sched.schedule, len(sched.gap), const.gap[-1] < 1e-12 < sched.gap[-1]
    ('warm-up + poly', 4, True)
    """
    steps = check_int("steps", steps, 1)
    warmup_steps = check_int("warmup_steps", warmup_steps, 0)
    batch_size = check_int("batch_size", batch_size, 1)
    check_number(lr, "lr", 0.0, low_open=True)
    check_number(momentum, "momentum", 0.0, 1.0)
    check_number(trust_coefficient, "trust_coefficient", 0.0, low_open=True)
    check_number(weight_decay, "weight_decay", 0.0)
    seed = check_int("seed", seed, 0)
    (x, y), _ = load_digits_tensors(seed=seed, dtype=torch.float64)
    out = []
    with torch_threads(1):
        for name, factor in (("warm-up + poly", warmup_poly(warmup_steps, steps)),
                             ("constant", lambda t: 1.0)):
            models, opts, scheds = [], [], []
            for paper in (True, False):
                model = SmallCNN(seed=seed).double()
                opt = LARS(model.parameters(), lr=lr, momentum=momentum,
                           weight_decay=weight_decay, trust_coefficient=trust_coefficient,
                           lr_in_buffer=paper)
                models.append(model)
                opts.append(opt)
                scheds.append(torch.optim.lr_scheduler.LambdaLR(opt, factor))
            gen = torch.Generator().manual_seed(seed)
            rec = LarsFormsRun(name, [], [], [], [])
            for _ in range(steps):
                idx = torch.randint(0, len(x), (batch_size,), generator=gen)
                rec.lr.append(opts[0].param_groups[0]["lr"])
                for model, opt, sched, losses in zip(models, opts, scheds,
                                                     (rec.loss_paper, rec.loss_torch)):
                    opt.zero_grad(set_to_none=True)
                    loss = F.cross_entropy(model(x[idx]), y[idx])
                    loss.backward()
                    opt.step()
                    sched.step()
                    losses.append(float(loss.detach()))
                with torch.no_grad():
                    rec.gap.append(max(float((a - b).norm() / b.norm()) for a, b in zip(
                        models[0].parameters(), models[1].parameters())))
            out.append(rec)
    return out


@dataclass
class LarsSgdRun:
    """One training run of :func:`compare_lars_sgd`."""

    optimizer: str
    lr: float
    history: TrainHistory

    @property
    def final_test_accuracy(self) -> float:
        return self.history.final_test_accuracy

    @property
    def final_loss(self) -> float:
        return float(self.history.loss[-1])


def compare_lars_sgd(sgd_lrs=(0.1, 1.0), lars_lrs=(1.0,), *, batch_size: int = 1024,
                     epochs: int = 20, momentum: float = 0.9, trust_coefficient: float = 0.01,
                     seed: int = 0, threads: int | None = 1) -> list[LarsSgdRun]:
    """Train the digits CNN with SGD and with LARS at a large batch.

    Every run starts from the same initialization (``SmallCNN(seed=seed)``) and sees the
    same batches (``train(..., seed=seed)``). LARS uses
    :func:`lec4lib.nets.trust_ratio.layerwise_param_groups` (biases not adapted) and no weight
    decay, as the SGD runs.

    Parameters
    ----------
    sgd_lrs, lars_lrs : sequence of float
        Global learning rates of the SGD and of the LARS runs (each ``> 0``).
    batch_size : int, default 1024
        Examples per step (``>= 1``).
    epochs : int, default 20
        Passes over the training images (``>= 1``).
    momentum : float, default 0.9
        Shared momentum, in ``[0, 1)``.
    trust_coefficient : float, default 0.01
        LARS's trust coefficient ``c > 0`` (the paper's ``η``).
    seed : int, default 0
        Seed of the split, the initialization and the batch order (``>= 0``).
    threads : int or None, default 1
        torch threads during the runs (``None`` leaves the setting alone); one thread is
        fastest for this small network and does not change the result.

    Returns
    -------
    list of LarsSgdRun
        The SGD runs in the order of ``sgd_lrs``, then the LARS runs.

    Examples
    --------
    >>> runs = compare_lars_sgd(sgd_lrs=(0.1,), lars_lrs=(1.0,), epochs=1)
    >>> [(r.optimizer, r.lr) for r in runs]
    [('SGD', 0.1), ('LARS', 1.0)]
    """
    for name, lrs in (("sgd_lrs", sgd_lrs), ("lars_lrs", lars_lrs)):
        for lr in lrs:
            check_number(lr, f"{name} entry", 0.0, low_open=True)   # a learning rate: finite, > 0
    momentum = check_number(momentum, "momentum", 0.0, 1.0)
    if threads is not None:
        threads = check_int("threads", threads)
    tr, te = load_digits_tensors(seed=seed)
    with torch_threads(threads) if threads is not None else contextlib.nullcontext():
        runs = []
        for lr in sgd_lrs:
            model = SmallCNN(seed=seed)
            opt = torch.optim.SGD(model.parameters(), lr=float(lr), momentum=momentum)
            runs.append(LarsSgdRun("SGD", float(lr),
                                   train(model, opt, tr, batch_size, epochs, seed, test_data=te)))
        for lr in lars_lrs:
            model = SmallCNN(seed=seed)
            opt = LARS(layerwise_param_groups(model), lr=float(lr), momentum=momentum,
                       trust_coefficient=trust_coefficient)
            runs.append(LarsSgdRun("LARS", float(lr),
                                   train(model, opt, tr, batch_size, epochs, seed, test_data=te)))
    return runs


# -------------------------------------------------------------------- part 2: AlexNet
#: Dense (no sparsity) peak TFLOP/s by GPU name fragment and precision, from NVIDIA's
#: data sheets (A100 SXM; H100 SXM5; H200 SXM has H100's compute). TF32 and BF16 are
#: tensor-core rates. Matched against ``torch.cuda.get_device_name()``; first match wins.
PEAK_TFLOPS = {
    "H200": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},
    "H100": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4},
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0},
}

#: Where :func:`stored_results` lies inside the lec4lib package (and inside the repository).
STORED_RESULTS = "lec4lib/data/results"


@dataclass
class ExperimentConfig:
    """Settings of one run (every field is a command-line option of the same name).

    Attributes
    ----------
    device : str
        ``"cuda"``, ``"cuda:N"`` or ``"cpu"``.
    batch_size : int
        Images per step (``>= 1``).
    steps : int
        Optimizer steps per run (``>= 1``).
    train_images, eval_images : int
        Size of the training pool and of the held-out batch (``>= 1``; the held-out batch
        also gives the trust-ratio tables). Both live on the device: 618 kB per image
        (3×227×227 float32), e.g. 10 GB for 16384 images.
    lr_sgd, lr_lars : float
        Peak learning rates (``> 0``).
    momentum, weight_decay : float
        Shared by both optimizers (``momentum`` in ``[0, 1)``, ``weight_decay >= 0``).
    trust_coefficient : float
        LARS's trust coefficient ``c`` (``> 0``; the paper's ``η``).
    warmup_steps : int
        Linear warm-up length (``>= 0``); then the rate decays as ``(1 − t/steps)²``.
    num_classes : int
        Classes (``>= 2``).
    precision : str
        ``"fp32"``, ``"tf32"`` (CUDA matmuls in TF32) or ``"bf16"`` (autocast, CUDA only).
    seed : int
        Seed of initialization, data and batch order (``>= 0``).
    data : str
        ``"synthetic"`` or a path to an ImageFolder-style directory.
    log_every : int
        Print progress every this many steps (``>= 1``).
    peak_tflops : float or None
        Peak TFLOP/s for MFU; ``None`` looks the device up in :data:`PEAK_TFLOPS`.
    exclude_bias : bool
        Leave biases out of LARS's layer-wise scaling (and out of its weight decay);
        default ``False``: every tensor is scaled, as in You et al. 2017 for AlexNet,
        whose table lists the biases too.
    lr_in_buffer : bool
        LARS in the paper's form (You et al. 2017, Algorithm 1: ``v ← m v + γ_t λ(g + βw)``,
        ``w ← w − v``), the default; ``False``: torch's ``w ← w − γ_t v``.
    init : str
        AlexNet's initialization (:data:`lec4lib.nets.alexnet.INITS`): ``"slide"`` (the
        default; it reproduces the slide's ‖w‖ column) or ``"bvlc"`` (BVLC's prototxt).
    """

    device: str = "cpu"
    batch_size: int = 4
    steps: int = 2
    train_images: int = 8
    eval_images: int = 4
    lr_sgd: float = 0.01
    lr_lars: float = 2.0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    trust_coefficient: float = 0.001
    warmup_steps: int = 0
    num_classes: int = 1000
    precision: str = "fp32"
    seed: int = 0
    data: str = "synthetic"
    log_every: int = 1
    peak_tflops: float | None = None
    exclude_bias: bool = False
    lr_in_buffer: bool = True
    init: str = "slide"

    def validate(self) -> "ExperimentConfig":
        """Raise ``ValueError`` naming the first invalid field; return ``self``.

        The integer fields are stored as ``int`` (``4.0`` becomes ``4``); the others are
        left as they are.
        """
        for name in ("batch_size", "steps", "train_images", "eval_images", "log_every"):
            setattr(self, name, check_int(name, getattr(self, name), 1))
        for name in ("warmup_steps", "seed"):
            setattr(self, name, check_int(name, getattr(self, name), 0))
        self.num_classes = check_int("num_classes", self.num_classes, 2)
        for name in ("lr_sgd", "lr_lars", "trust_coefficient"):
            check_number(getattr(self, name), name, 0.0, low_open=True)
        check_number(self.momentum, "momentum", 0.0, 1.0)
        check_number(self.weight_decay, "weight_decay", 0.0)
        if self.precision not in ("fp32", "tf32", "bf16"):
            raise ValueError(f"precision must be 'fp32', 'tf32' or 'bf16', got {self.precision!r}")
        try:
            dev = torch.device(self.device)
        except (RuntimeError, TypeError):
            dev = None
        if dev is None or dev.type not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r} was asked for but torch.cuda.is_available() "
                             f"is False (torch {torch.__version__})")
        if self.precision in ("tf32", "bf16") and dev.type != "cuda":
            raise ValueError(f"precision {self.precision!r} needs a CUDA device; use 'fp32' on CPU")
        if self.data != "synthetic" and not Path(self.data).is_dir():
            raise ValueError(f"data must be 'synthetic' or an existing directory, got {self.data!r}")
        for name in ("exclude_bias", "lr_in_buffer"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {sorted(INITS)}, got {self.init!r}")
        if self.peak_tflops is not None:
            check_number(self.peak_tflops, "peak_tflops", 0.0, low_open=True)
        return self


def peak_tflops(device_name: str, precision: str) -> float | None:
    """Dense peak TFLOP/s of a GPU from :data:`PEAK_TFLOPS`, or ``None`` if unknown.

    Examples
    --------
    >>> peak_tflops("NVIDIA H100 80GB HBM3", "bf16")
    989.4
    >>> peak_tflops("cpu", "fp32") is None
    True
    """
    for key, table in PEAK_TFLOPS.items():
        if key in device_name:
            return table.get(precision)
    return None


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _provenance(cfg: ExperimentConfig, dev: torch.device) -> dict:
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
    else:
        name = platform.processor() or platform.machine() or "cpu"
        n = torch.get_num_threads()
        name = f"CPU ({name}, {n} torch thread{'' if n == 1 else 's'})"
    return provenance(device_type=dev.type, device_name=name, cuda_version=torch.version.cuda,
                      seed=cfg.seed)


def _data(cfg: ExperimentConfig, dev: torch.device):
    """Training pool and held-out batch, on the device."""
    if cfg.data == "synthetic":
        chunks_x, chunks_y = [], []
        for k, start in enumerate(range(0, cfg.train_images, 256)):
            n = min(256, cfg.train_images - start)
            x, y = synthetic_images(n, num_classes=cfg.num_classes, seed=cfg.seed * 7919 + 1 + k,
                                    class_seed=cfg.seed, device=dev)
            chunks_x.append(x)
            chunks_y.append(y)
        xe, ye = synthetic_images(cfg.eval_images, num_classes=cfg.num_classes,
                                  seed=cfg.seed * 7919, class_seed=cfg.seed, device=dev)
        return torch.cat(chunks_x), torch.cat(chunks_y), xe, ye
    folder = ImageFolder(cfg.data)
    if len(folder.classes) > cfg.num_classes:
        raise ValueError(f"data has {len(folder.classes)} classes > num_classes={cfg.num_classes}")
    g = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(folder), generator=g).tolist()
    if len(order) < 2:
        raise ValueError("data must hold at least 2 images (train and held-out)")
    n_eval = min(cfg.eval_images, len(order) // 2)
    xe, ye = folder.batch(order[:n_eval])
    xt, yt = folder.batch(order[n_eval:n_eval + cfg.train_images])
    return xt.to(dev), yt.to(dev), xe.to(dev), ye.to(dev)


def _table(model, x, y, seed):
    return [{"name": r.name, "weight_norm": r.weight_norm, "grad_norm": r.grad_norm,
             "ratio": r.ratio} for r in trust_ratio_table(model, x, y, seed=seed, name_map=caffe_name)]


@torch.no_grad()
def _accuracy(model, x, y, chunk: int = 256) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(x), chunk):
        correct += int((model(x[i:i + chunk]).argmax(1) == y[i:i + chunk]).sum())
    model.train()
    return correct / len(x)


def _train(label: str, model, opt, cfg: ExperimentConfig, xt, yt, dev) -> dict:
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    base = [g["lr"] for g in opt.param_groups]
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cfg.precision == "bf16" else None
    losses, lrs, step_times = [], [], []
    diverged = False
    lr_factor = warmup_poly(cfg.warmup_steps, cfg.steps)
    model.train()
    for step in range(cfg.steps):
        factor = lr_factor(step)
        for g, lr in zip(opt.param_groups, base):
            g["lr"] = lr * factor
        idx = torch.randint(0, len(xt), (cfg.batch_size,), generator=gen).to(dev)
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if autocast is not None:
            with autocast:
                loss = F.cross_entropy(model(xt[idx]), yt[idx])
        else:
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
        value = float(loss.detach())
        sync()
        step_times.append(time.perf_counter() - t0)
        losses.append(value)
        lrs.append(base[0] * factor)
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            rate = cfg.batch_size / step_times[-1]
            _log(f"[{label}] step {step + 1}/{cfg.steps}  loss {value:.4f}  "
                 f"lr {lrs[-1]:.4g}  {rate:.1f} images/s")
        if not math.isfinite(value):
            diverged = True
            _log(f"[{label}] loss is not finite at step {step + 1}: stopping this run")
            break
    timed = step_times[1:] if len(step_times) > 1 else step_times
    throughput = cfg.batch_size * len(timed) / sum(timed)
    return {"loss": losses, "lr": lrs, "step_seconds": step_times, "diverged": diverged,
            "images_per_second": throughput}


@contextmanager
def _matmul_precision(dev: torch.device, precision: str):
    """TF32 CUDA matmuls and convolutions while the block runs, for ``precision="tf32"``.

    The two process-wide flags are restored on exit, so a caller's setting survives a run.
    """
    if dev.type != "cuda" or precision != "tf32":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def run_experiment(cfg: ExperimentConfig) -> dict:
    """Train AlexNet with SGD and with LARS from one initialization; return the record.

    Parameters
    ----------
    cfg : ExperimentConfig
        The settings (validated here).

    Returns
    -------
    dict
        ``config``, ``provenance`` (with ``wall_time_s``), ``flops_per_image``,
        ``peak_tflops``, ``table_before`` and, under ``runs["sgd"]`` and
        ``runs["lars"]``: ``loss``, ``lr``, ``step_seconds``, ``diverged``,
        ``images_per_second``, ``mfu``, ``eval_accuracy``, ``table_after``.
        Everything is plain JSON data.
    """
    cfg.validate()
    t_start = time.perf_counter()
    dev = torch.device(cfg.device)
    with _matmul_precision(dev, cfg.precision):
        prov = _provenance(cfg, dev)
        _log(f"AlexNet large batch on {prov['device_name']}: batch {cfg.batch_size}, "
             f"{cfg.steps} steps per optimizer, seed {cfg.seed}")
        xt, yt, xe, ye = _data(cfg, dev)
        _log(f"data: {cfg.data} ({len(xt)} training images, {len(xe)} held out)")
        init = AlexNet(num_classes=cfg.num_classes, seed=cfg.seed, init=cfg.init).to(dev)
        table_before = _table(init, xe, ye, cfg.seed)
        peak = cfg.peak_tflops if cfg.peak_tflops is not None else (
            peak_tflops(prov["device_name"], cfg.precision) if dev.type == "cuda" else None)
        flops = alexnet_flops_per_image(cfg.num_classes, training=True)
        runs = {}
        for label in ("sgd", "lars"):
            model = copy.deepcopy(init)
            if label == "sgd":
                opt = torch.optim.SGD(model.parameters(), lr=cfg.lr_sgd, momentum=cfg.momentum,
                                      weight_decay=cfg.weight_decay)
            else:
                groups = layerwise_param_groups(model, cfg.weight_decay,
                                                exclude_bias_and_norm=cfg.exclude_bias)
                opt = LARS(groups, lr=cfg.lr_lars, momentum=cfg.momentum,
                           trust_coefficient=cfg.trust_coefficient,
                           lr_in_buffer=cfg.lr_in_buffer)
            # dropout draws from torch's global generator: seed it (the same masks for both
            # optimizers) inside fork_rng, which restores the caller's generator state after
            with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                torch.manual_seed(cfg.seed + 2)
                rec = _train(label, model, opt, cfg, xt, yt, dev)
            rec["mfu"] = None if peak is None else flops * rec["images_per_second"] / (peak * 1e12)
            rec["eval_accuracy"] = _accuracy(model, xe, ye)
            rec["table_after"] = _table(model, xe, ye, cfg.seed)
            _log(f"[{label}] done: final loss {rec['loss'][-1]:.4f}, held-out accuracy "
                 f"{rec['eval_accuracy']:.3f}, {rec['images_per_second']:.1f} images/s"
                 + ("" if rec["mfu"] is None else f", MFU {100 * rec['mfu']:.1f}%"))
            runs[label] = rec
            del model, opt
        prov["wall_time_s"] = time.perf_counter() - t_start
        return {"experiment": "alexnet_large_batch", "config": asdict(cfg), "provenance": prov,
                "flops_per_image": flops, "peak_tflops": peak, "table_before": table_before,
                "runs": runs}


def load_results(results_dir=None, device_type: str | None = None) -> list[dict]:
    """Every stored ``alexnet_large_batch`` record under ``results_dir``, newest first.

    Parameters
    ----------
    results_dir : str or Path, optional
        Folder holding ``<name>/result.json`` files (missing folder: empty list); by
        default :func:`stored_results`, the runs packaged with lec4lib.
    device_type : str, optional
        Keep only records run on this device type (``"cuda"`` for GPU runs).

    Returns
    -------
    list of dict
        Each record with its ``"path"`` added: ``lec4lib/data/results/<name>/result.json``
        for a packaged run (the same path in the repository and in any install), else the
        file's path.
    """
    folder = stored_results() if results_dir is None else Path(results_dir)
    if not folder.is_dir():
        return []
    out = []
    for sub in sorted(folder.iterdir(), key=lambda t: t.name):
        file = sub.joinpath("result.json")
        if not file.is_file():
            continue
        rec = json.loads(file.read_text("utf-8"))
        if rec.get("experiment") != "alexnet_large_batch":
            continue
        if device_type is not None and rec["provenance"].get("device_type") != device_type:
            continue
        rec["path"] = (f"{STORED_RESULTS}/{sub.name}/result.json" if results_dir is None
                       else str(file))
        out.append(rec)
    return sorted(out, key=lambda r: r["provenance"].get("date_utc", ""), reverse=True)


def main(argv=None) -> int:
    """Command-line entry point (``python -m lec4lib.studies.ch11_lars_lamb``)."""
    d = ExperimentConfig()
    p = argparse.ArgumentParser(prog="python -m lec4lib.studies.ch11_lars_lamb",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=d.device, help="cuda, cuda:N or cpu")
    for field in ("batch_size", "steps", "train_images", "eval_images", "warmup_steps",
                  "num_classes", "seed", "log_every"):
        p.add_argument("--" + field.replace("_", "-"), type=int, default=getattr(d, field))
    for field in ("lr_sgd", "lr_lars", "momentum", "weight_decay", "trust_coefficient"):
        p.add_argument("--" + field.replace("_", "-"), type=float, default=getattr(d, field))
    p.add_argument("--precision", default=d.precision, choices=["fp32", "tf32", "bf16"])
    p.add_argument("--data", default=d.data, help="'synthetic' or an ImageFolder-style directory")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="peak TFLOP/s for MFU (default: looked up for known GPUs)")
    p.add_argument("--exclude-bias", action="store_true",
                   help="leave biases out of LARS's scaling and weight decay")
    p.add_argument("--lars-rate-outside-buffer", dest="lr_in_buffer", action="store_false",
                   help="LARS with torch's w <- w - lr*v instead of the paper's "
                        "v <- m*v + lr*lambda*(g + wd*w), w <- w - v")
    p.add_argument("--init", default=d.init, choices=sorted(INITS),
                   help="AlexNet initialization: 'slide' (reproduces the slide's norms) or "
                        "'bvlc' (BVLC Caffe's prototxt)")
    p.add_argument("--results-dir", default=None,
                   help="where to write <name>/result.json (default: the stored results "
                        "packaged with lec4lib, lec4lib/data/results of the installed "
                        "package; in the editable checkout of `make setup`, the folder to "
                        "commit)")
    p.add_argument("--name", default=None,
                   help="results sub-folder (default alexnet_large_batch_<device>_<date>)")
    a = p.parse_args(argv)
    cfg = ExperimentConfig(**{k: v for k, v in vars(a).items() if k not in ("results_dir", "name")})
    try:
        cfg.validate()
    except ValueError as err:
        p.error(str(err))
    results_dir = a.results_dir
    if results_dir is None:   # checked before the run, which may take hours
        results_dir = stored_results()
        if not isinstance(results_dir, Path):   # e.g. lec4lib imported from a zip file
            p.error(f"lec4lib's {STORED_RESULTS} is not a folder on disk: pass --results-dir")
    record = run_experiment(cfg)
    name = a.name or ("alexnet_large_batch_" + torch.device(cfg.device).type + "_"
                      + _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    path = write_result(name, record, results_dir)
    _log(f"wrote {path} (wall time {record['provenance']['wall_time_s']:.1f} s)")
    if a.results_dir is None:
        _log(f"commit {STORED_RESULTS}/{name}/ in the repository and the LARS chapter shows "
             "the run (it reads the runs packaged with lec4lib)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
