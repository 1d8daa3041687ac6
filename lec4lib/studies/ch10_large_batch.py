"""The large-batch problem and learning-rate scaling, measured on the digits.

* :func:`~lec4lib.theory.lr_scaling.scaled_lr` — the square-root and linear scaling rules: going from batch ``B₀``
  with step ``η₀`` to batch ``B``, use ``η₀·√(B/B₀)`` or ``η₀·B/B₀``.
* :func:`~lec4lib.theory.lr_scaling.max_stable_batch` — how far a rule can go before the step exceeds the
  gradient-descent bound ``2/L``.
* :func:`batch_size_sweep` — test accuracy (and sharpness of the point reached) against
  batch size at a fixed budget of epochs, with each scaling rule, optionally with a
  linear warm-up (Goyal et al. 2017), on :func:`lec4lib.nets.training.load_digits_tensors`
  with :class:`lec4lib.nets.training.SmallCNN`.
* :func:`~lec4lib.theory.lr_scaling.least_squares_curvatures` — the Hessian eigenvalues of a least-squares loss,
  the exact quadratic on which ``η > 2/L`` diverges.
* :func:`seed_bands`, :func:`accuracy_table`, :func:`fixed_budget_values` — the chapter's
  bookkeeping: error bars, the accuracy table and the glued numbers of the sweep.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..theory.lr_scaling import RULES, scaled_lr
from ..nets.sharpness import top_hessian_eigenvalue
from ..nets.training import (digits_train_size, evaluate, load_digits_tensors, SmallCNN,
                             torch_threads, train)
from ..validation import check_int, check_number

__all__ = ["batch_size_sweep", "sharpness_vs_batch_size", "over_seeds", "seed_bands",
           "accuracy_table", "fixed_budget_values", "trained_to_same_loss",
           "sharpness_accuracy_correlation", "generalization_summary", "KESKAR_SETTINGS",
           "keskar_study", "load_keskar_study"]


def _rule(rule: str) -> str:
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    return rule


def batch_size_sweep(batch_sizes, rules=RULES, *, base_lr: float = 0.02, base_batch: int = 16,
                     epochs: int = 10, seeds=(0,), warmup_epochs: float = 0.0,
                     sharpness_iters: int = 0, sharpness_examples: int = 512,
                     momentum: float = 0.0) -> list[dict]:
    """Train ``SmallCNN`` on the digits for each batch size and scaling rule; record results.

    Every run has the same budget of ``epochs`` passes over the training images (1347 at the default split), so a
    larger batch takes fewer steps. Runs with the same batch size and learning rate are
    done once and reported under every rule that gives that learning rate. Runs use one
    thread (:func:`lec4lib.nets.training.torch_threads`).

    Parameters
    ----------
    batch_sizes : list of int
        Each in ``[1, N]``, ``N`` the number of training digits (:func:`~lec4lib.nets.training.digits_train_size`).
    rules : tuple of str, default ("none", "sqrt", "linear")
        Scaling rules (:func:`~lec4lib.theory.lr_scaling.scaled_lr`).
    base_lr : float, default 0.02
        SGD step ``η₀`` at ``base_batch``.
    base_batch : int, default 16
        ``B₀``.
    epochs : int, default 10
    seeds : tuple of int, default (0,)
        Each seed fixes the split, the initialization and the shuffling of one run.
    warmup_epochs : float, default 0
        If ``> 0``, the step rises linearly from ``η/steps_warmup`` to ``η`` over the
        first ``warmup_epochs`` epochs (Goyal et al. 2017), then stays constant.
    sharpness_iters : int, default 0
        If ``> 0``, also estimate the top Hessian eigenvalue of the training loss at the
        end of the run (:func:`lec4lib.nets.sharpness.top_hessian_eigenvalue`, at most this many
        Hessian-vector products).
    sharpness_examples : int, default 512
        The sharpness is that of the mean loss on the first ``sharpness_examples``
        training images (in ``[1, N]``).
    momentum : float, default 0
        SGD momentum in ``[0, 1)``.

    Returns
    -------
    list of dict
        One record per (rule, batch size, seed): ``rule``, ``batch_size``, ``seed``, ``lr``,
        ``steps``, ``test_accuracy``, ``train_loss`` (final, whole training set; ``nan`` if
        diverged), ``diverged``, ``sharpness`` (``nan`` if not computed or diverged),
        ``sharpness_converged``, ``wall_time``.
    """
    n_train = digits_train_size()
    bs = [check_int("batch_sizes entry", b, 1, n_train) for b in batch_sizes]
    if not bs:
        raise ValueError(f"Invalid batch_sizes: {batch_sizes!r} (must name at least one size)")
    rules = [_rule(r) for r in rules]
    if not rules:
        raise ValueError("rules must name at least one rule")
    check_number(base_lr, "base_lr", 0.0, low_open=True)
    epochs = check_int("epochs", epochs)
    seeds = list(seeds)
    if not seeds:
        raise ValueError(f"Invalid seeds: {seeds!r} (must name at least one seed)")
    seeds = [check_int("seeds entry", s, 0) for s in seeds]
    warmup_epochs = check_number(warmup_epochs, "warmup_epochs", 0.0, epochs, high_open=False)
    sharpness_iters = check_int("sharpness_iters", sharpness_iters, 0)
    sharpness_examples = check_int("sharpness_examples", sharpness_examples, 1, n_train)
    momentum = check_number(momentum, "momentum", 0.0, 1.0)

    cache: dict[tuple, dict] = {}
    records = []
    with torch_threads(1):
        for seed in seeds:
            tr, te = load_digits_tensors(seed=seed)
            for rule in rules:
                for b in bs:
                    lr = scaled_lr(base_lr, base_batch, b, rule)
                    key = (seed, int(b), round(lr, 15))
                    if key not in cache:
                        cache[key] = _one_run(tr, te, int(b), lr, epochs, seed, warmup_epochs,
                                              sharpness_iters, sharpness_examples, momentum)
                    records.append({"rule": rule, "batch_size": int(b), "seed": seed, "lr": lr,
                                    **cache[key]})
    return records


def _one_run(tr, te, b, lr, epochs, seed, warmup_epochs, sharpness_iters, sharpness_examples,
             momentum) -> dict:
    model = SmallCNN(seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    sched = None
    steps_per_epoch = math.ceil(len(tr[0]) / b)
    warm = int(round(warmup_epochs * steps_per_epoch))
    if warm > 0:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / warm))
    h = train(model, opt, tr, b, epochs, seed, scheduler=sched, test_data=te)
    out = {"steps": h.steps, "diverged": h.diverged, "wall_time": h.wall_time,
           "test_accuracy": h.final_test_accuracy, "train_loss": float("nan"),
           "sharpness": float("nan"), "sharpness_converged": False}
    if not h.diverged:
        loss, _ = evaluate(model, tr)
        out["train_loss"] = loss if math.isfinite(loss) else float("nan")
        if not math.isfinite(loss):
            out["diverged"] = True
            out["test_accuracy"] = float("nan")
        elif sharpness_iters > 0:
            sub = (tr[0][:sharpness_examples], tr[1][:sharpness_examples])
            r = top_hessian_eigenvalue(model, sub, iters=sharpness_iters, tol=1e-3, seed=seed)
            out["sharpness"], out["sharpness_converged"] = r.eigenvalue, r.converged
    return out


def sharpness_vs_batch_size(batch_sizes, *, lr: float = 0.05, steps: int = 800, seed: int = 0,
                            sharpness_iters: int = 30, sharpness_examples: int = 512) -> list[dict]:
    """Same step size, same number of steps, different batch sizes: how sharp is the end point?

    This is the comparison of Keskar et al. (2017): only the gradient noise differs
    between the runs (it falls as ``1/|B|``). Each run trains ``SmallCNN(seed)`` with plain
    SGD for ``ceil(steps / steps_per_epoch)`` epochs (so at least ``steps`` steps) on one
    thread.

    Parameters
    ----------
    batch_sizes : list of int
        Each in ``[1, N]``, ``N`` the number of training digits (:func:`~lec4lib.nets.training.digits_train_size`).
    lr : float, default 0.05
        The common SGD step (``> 0``).
    steps : int, default 800
        Minimum number of SGD steps (``>= 1``).
    seed : int, default 0
    sharpness_iters : int, default 30
        Maximum Hessian-vector products of the power iteration (``>= 1``).
    sharpness_examples : int, default 512
        The loss whose Hessian is measured is the mean over the first this-many training
        images (``[1, N]``).

    Returns
    -------
    list of dict
        Per batch size: ``batch_size``, ``lr``, ``steps``, ``epochs``, ``train_loss``,
        ``test_accuracy``, ``sharpness``, ``sharpness_converged``, ``diverged``.
    """
    n_train = digits_train_size()
    bs = [check_int("batch_sizes entry", b, 1, n_train) for b in batch_sizes]
    if not bs:
        raise ValueError(f"Invalid batch_sizes: {batch_sizes!r} (must name at least one size)")
    lr = check_number(lr, "lr", 0.0, low_open=True)
    steps = check_int("steps", steps, 1)
    seed = check_int("seed", seed, 0)
    sharpness_iters = check_int("sharpness_iters", sharpness_iters, 1)
    sharpness_examples = check_int("sharpness_examples", sharpness_examples, 1, n_train)
    out = []
    with torch_threads(1):
        tr, te = load_digits_tensors(seed=seed)
        sub = (tr[0][:sharpness_examples], tr[1][:sharpness_examples])
        for b in bs:
            epochs = math.ceil(steps / math.ceil(len(tr[0]) / b))
            model = SmallCNN(seed=seed)
            h = train(model, torch.optim.SGD(model.parameters(), lr=lr), tr, int(b), epochs, seed)
            rec = {"batch_size": int(b), "lr": lr, "steps": h.steps, "epochs": epochs,
                   "diverged": h.diverged, "train_loss": float("nan"), "test_accuracy": float("nan"),
                   "sharpness": float("nan"), "sharpness_converged": False}
            if not h.diverged:
                rec["train_loss"] = evaluate(model, tr)[0]
                rec["test_accuracy"] = evaluate(model, te)[1]
                r = top_hessian_eigenvalue(model, sub, iters=sharpness_iters, tol=1e-3, seed=seed)
                rec["sharpness"], rec["sharpness_converged"] = r.eigenvalue, r.converged
            out.append(rec)
    return out


def over_seeds(records, rule: str, batch_size: int, key: str = "test_accuracy",
               n_seeds: int | None = None) -> tuple[float, float, float]:
    """Mean, minimum and maximum of ``key`` over the seeds of one (rule, batch size).

    Parameters
    ----------
    records : list of dict
        Output of :func:`batch_size_sweep`.
    rule : str
        A scaling rule (:data:`lec4lib.theory.lr_scaling.RULES`).
    batch_size : int
    key : str
        The recorded quantity, e.g. ``"test_accuracy"`` or ``"train_loss"``.
    n_seeds : int, optional
        The number of seeds expected; fewer or more records raise.

    Returns
    -------
    (mean, min, max) : tuple of float
    """
    vals = np.array([r[key] for r in records if r["rule"] == rule and r["batch_size"] == batch_size])
    if vals.size == 0 or (n_seeds is not None and vals.size != n_seeds):
        raise ValueError(f"Invalid records: {vals.size} runs for rule {rule!r} and batch size "
                         f"{batch_size} (expected {n_seeds if n_seeds is not None else 'at least 1'})")
    return float(vals.mean()), float(vals.min()), float(vals.max())


def seed_bands(records, rule: str, batch_sizes, key: str = "test_accuracy"):
    """Mean over seeds and the distances to the lowest and highest seed, per batch size.

    The shape matplotlib's ``Axes.errorbar`` takes: ``ax.errorbar(sizes, mean,
    yerr=spread)`` draws the mean with a bar from the lowest to the highest seed.

    Parameters
    ----------
    records : list of dict
        Output of :func:`batch_size_sweep`.
    rule : str
        A scaling rule.
    batch_sizes : list of int
    key : str, default "test_accuracy"

    Returns
    -------
    (mean, spread) : numpy arrays of shape ``(n,)`` and ``(2, n)``
        ``spread[0]`` is mean − min, ``spread[1]`` max − mean (:func:`over_seeds`).

    Examples
    --------
    >>> recs = [{"rule": "none", "batch_size": 16, "test_accuracy": a} for a in (0.8, 0.9, 1.0)]
    >>> mean, spread = seed_bands(recs, "none", [16])
    >>> mean.round(6).tolist(), spread.round(6).tolist()
    ([0.9], [[0.1], [0.1]])
    """
    m, lo, hi = np.array([over_seeds(records, rule, b, key) for b in batch_sizes]).T
    return m, np.vstack([m - lo, hi - m])


def accuracy_table(runs, warm, batch_sizes) -> str:
    """Markdown table of the fixed-budget sweep: mean test accuracy per rule and batch size.

    Parameters
    ----------
    runs : list of dict
        Output of :func:`batch_size_sweep` with the rules ``none``, ``sqrt`` and ``linear``.
    warm : list of dict
        The linear rule with warm-up (:func:`batch_size_sweep` with ``warmup_epochs > 0``);
        batch sizes it lacks show "—".

    Returns
    -------
    str
        One row per batch size: the SGD steps of the run, then the mean test accuracy over
        the seeds for each rule, three decimals.

    Examples
    --------
    >>> runs = [{"rule": r, "batch_size": 16, "steps": 850, "test_accuracy": 0.9}
    ...         for r in ("none", "sqrt", "linear")]
    >>> print(accuracy_table(runs, [], [16]).splitlines()[-1])
    | 16 | 850 | 0.900 | 0.900 | 0.900 | — |
    """
    warm_sizes = {r["batch_size"] for r in warm}
    head = ["| $\\lvert B\\rvert$ | steps | no scaling | square-root rule | linear rule "
            "| linear, warm-up |", "|---:|---:|---:|---:|---:|---:|"]
    rows = []
    for b in batch_sizes:
        steps = next(r["steps"] for r in runs if r["batch_size"] == b)
        acc = [f"{over_seeds(runs, rule, b)[0]:.3f}" for rule in ("none", "sqrt", "linear")]
        w = f"{over_seeds(warm, 'linear', b)[0]:.3f}" if b in warm_sizes else "—"
        rows.append(f"| {b} | {steps:,} | " + " | ".join(acc) + f" | {w} |")
    return "\n".join(head + rows)


def fixed_budget_values(sweep, runs, warm, batch_sizes, *, base_lr: float,
                        base_batch: int) -> dict:
    """The numbers :ref:`chapter 10 <ch10>` quotes from its fixed-budget sweep, keyed for ``glue_values``.

    Parameters
    ----------
    sweep : list of dict
        The seed-0 runs (:func:`batch_size_sweep`), which also measured the sharpness.
    runs : list of dict
        All seeds, rules ``none``, ``sqrt`` and ``linear``.
    warm : list of dict
        The linear rule with warm-up.
    batch_sizes : list of int
    base_lr, base_batch : float, int
        ``η₀`` and ``B₀`` of the sweep.

    Returns
    -------
    dict
        ``lb_n_train``; ``lb_steps_{B}`` and ``lb_acc_{rule}_{B}`` (mean over seeds) for every
        batch size; ``lb_acc_none_16_min``/``_max`` for the smallest batch;
        ``lb_loss_{rule}_{B}`` (mean training loss) for the largest batch;
        ``lb_lr_linear_{B}`` and ``lb_acc_warm_{B}`` for the warm-up sizes; ``lb_ln10``;
        ``lb_frac_{B}`` (the largest batch as a fraction of the training set) and
        ``lb_frac_goyal`` (8192 of ImageNet's 1,281,167 training images).
    """
    n_train = digits_train_size()
    b0, b1 = batch_sizes[0], batch_sizes[-1]
    out = {"lb_n_train": n_train, "lb_ln10": math.log(10),
           f"lb_frac_{b1}": b1 / n_train, "lb_frac_goyal": 8192 / 1_281_167,
           f"lb_acc_none_{b0}_min": over_seeds(runs, "none", b0)[1],
           f"lb_acc_none_{b0}_max": over_seeds(runs, "none", b0)[2]}
    for b in batch_sizes:
        out[f"lb_steps_{b}"] = next(r["steps"] for r in sweep if r["batch_size"] == b)
        for rule in ("none", "sqrt", "linear"):
            out[f"lb_acc_{rule}_{b}"] = over_seeds(runs, rule, b)[0]
    for rule in ("none", "linear"):
        out[f"lb_loss_{rule}_{b1}"] = over_seeds(runs, rule, b1, "train_loss")[0]
    for b in sorted({r["batch_size"] for r in warm}):
        out[f"lb_acc_warm_{b}"] = over_seeds(warm, "linear", b)[0]
        out[f"lb_lr_linear_{b}"] = scaled_lr(base_lr, base_batch, b, "linear")
    return out


#: Relative residual at which :func:`trained_to_same_loss`'s power iteration stops.
SHARPNESS_TOL = 1e-3


def trained_to_same_loss(batch_sizes, *, lr: float = 0.05, target_loss: float = 0.01,
                         seeds=(0, 1, 2), max_epochs: int = 2000, sharpness_iters: int = 50,
                         sharpness_examples: int = 512, train_examples: int | None = None,
                         label_noise: float = 0.0) -> list[dict]:
    """Keskar et al.'s protocol: every batch size trained to the same training loss.

    Keskar et al. (2017, "On Large-Batch Training for Deep Learning: Generalization Gap
    and Sharp Minima", ICLR) compare small- and large-batch runs that all reach a low
    training loss, giving the large batch as many epochs as it needs, and then compare
    test accuracy and the sharpness of the end point. Here each run trains
    ``SmallCNN(seed)`` on the digits split of ``seed`` with plain SGD at the common step
    ``lr`` until the loss on the whole training set is below ``target_loss`` (checked after
    every epoch, :func:`lec4lib.nets.training.train` with ``stop_below``), on one thread.

    Parameters
    ----------
    batch_sizes : list of int
        Each in ``[1, N]``, ``N`` the number of training digits.
    lr : float, default 0.05
        The common SGD step (``> 0``).
    target_loss : float, default 0.01
        The training loss every run is trained to (``> 0``).
    seeds : tuple of int
        One run per seed and batch size (the seed fixes split, initialization, shuffling).
    max_epochs : int, default 2000
        A run that has not reached ``target_loss`` by then is recorded with ``reached=False``.
    sharpness_iters, sharpness_examples : int
        Power iteration (at most this many Hessian-vector products, relative tolerance
        :data:`SHARPNESS_TOL`) on the mean loss over the first ``sharpness_examples`` training images
        (all of them when ``train_examples`` is smaller).
    train_examples : int, optional
        Train on the first this-many images of the training split only (the test split
        is unchanged); default all of it.
    label_noise : float, default 0
        Fraction in ``[0, 1)`` of the training labels replaced by labels drawn uniformly at
        random (``numpy.random.default_rng(seed)``), as in Zhang et al. (2017); the test
        labels stay clean. Accuracy on the training set is measured on the labels trained on.

    Returns
    -------
    list of dict
        Per (seed, batch size): ``seed``, ``batch_size``, ``lr``, ``epochs``, ``steps``,
        ``reached``, ``train_loss``, ``train_accuracy``, ``test_accuracy``, ``gap``
        (train minus test accuracy), ``sharpness``, ``sharpness_converged``.
    """
    n_train = digits_train_size()
    bs = [check_int("batch_sizes entry", b, 1, n_train) for b in batch_sizes]
    if not bs:
        raise ValueError(f"Invalid batch_sizes: {batch_sizes!r} (must name at least one size)")
    lr = check_number(lr, "lr", 0.0, low_open=True)
    target_loss = check_number(target_loss, "target_loss", 0.0, low_open=True)
    seeds = [check_int("seeds entry", s, 0) for s in seeds]
    if not seeds:
        raise ValueError(f"Invalid seeds: {seeds!r} (must name at least one seed)")
    max_epochs = check_int("max_epochs", max_epochs)
    sharpness_iters = check_int("sharpness_iters", sharpness_iters)
    n_used = n_train if train_examples is None else check_int("train_examples", train_examples, 2, n_train)
    sharpness_examples = min(check_int("sharpness_examples", sharpness_examples, 1, n_train), n_used)
    label_noise = check_number(label_noise, "label_noise", 0.0, 1.0)
    out = []
    with torch_threads(1):
        for seed in seeds:
            (x, y), te = load_digits_tensors(seed=seed)
            x, y = x[:n_used], y[:n_used].clone()
            if label_noise > 0:
                rng = np.random.default_rng(seed)
                flip = rng.random(n_used) < label_noise
                y[torch.from_numpy(flip)] = torch.from_numpy(rng.integers(0, 10, int(flip.sum()))).to(y.dtype)
            tr = (x, y)
            sub = (x[:sharpness_examples], y[:sharpness_examples])
            for b in bs:
                model = SmallCNN(seed=seed)
                h = train(model, torch.optim.SGD(model.parameters(), lr=lr), tr, b, max_epochs, seed,
                          stop_below=target_loss)
                train_loss, train_acc = evaluate(model, tr)
                test_acc = evaluate(model, te)[1]
                r = top_hessian_eigenvalue(model, sub, iters=sharpness_iters, tol=SHARPNESS_TOL,
                                           seed=seed)
                out.append({"seed": seed, "batch_size": b, "lr": lr, "epochs": len(h.epoch_loss),
                            "steps": h.steps, "reached": (not h.diverged) and train_loss < target_loss,
                            "train_loss": train_loss, "train_accuracy": train_acc,
                            "test_accuracy": test_acc, "gap": train_acc - test_acc,
                            "sharpness": r.eigenvalue, "sharpness_converged": r.converged})
    return out


def sharpness_accuracy_correlation(records) -> float:
    """Pearson correlation between the end-point sharpness and the test accuracy over runs.

    Parameters
    ----------
    records : list of dict
        Output of :func:`trained_to_same_loss` (at least 3 runs).
    """
    s = np.array([r["sharpness"] for r in records], dtype=float)
    a = np.array([r["test_accuracy"] for r in records], dtype=float)
    if s.size < 3 or not (np.all(np.isfinite(s)) and np.all(np.isfinite(a))):
        raise ValueError(f"Invalid records: {s.size} runs (must be at least 3 with finite values)")
    return float(np.corrcoef(s, a)[0, 1])


#: The settings of the stored Keskar-protocol study (:ref:`chapter 10a <ch10a>`): name -> arguments of
#: :func:`trained_to_same_loss`. All train to loss 0.01 at η = 0.05, ten seeds each.
KESKAR_SETTINGS = {
    "digits": dict(batch_sizes=(16, 1024), lr=0.05, target_loss=0.01, seeds=tuple(range(10))),
    "digits_256": dict(batch_sizes=(16, 256), lr=0.05, target_loss=0.01, seeds=tuple(range(10)),
                       train_examples=256),
    "digits_256_noisy": dict(batch_sizes=(16, 256), lr=0.05, target_loss=0.01, seeds=tuple(range(10)),
                             train_examples=256, label_noise=0.2),
}
KESKAR_RESULT = "keskar_digits"


def keskar_study(settings=None, *, progress=print) -> dict:
    """Run :func:`trained_to_same_loss` for every setting; return records with provenance.

    This takes minutes on one core (the large batches need hundreds of epochs), so the
    book shows the stored result (:func:`load_keskar_study`, written by
    ``python -m lec4lib.studies.ch10_large_batch``) and the claim test recomputes it.
    """
    import time

    from ..results import provenance

    settings = KESKAR_SETTINGS if settings is None else settings
    out = {"settings": {k: dict(v) for k, v in settings.items()}, "records": {}}
    t0 = time.perf_counter()
    for name, kwargs in settings.items():
        t = time.perf_counter()
        out["records"][name] = trained_to_same_loss(**kwargs)
        progress(f"[keskar] {name}: {len(out['records'][name])} runs in {time.perf_counter() - t:.1f} s")
    out["provenance"] = provenance(torch_threads=1, wall_time_s=round(time.perf_counter() - t0, 1))
    return out


def load_keskar_study(folder=None) -> dict:
    """The stored Keskar-protocol study (see :func:`keskar_study`), settings as tuples again."""
    from ..results import read_result

    data = read_result(KESKAR_RESULT, folder)
    data["settings"] = {k: {a: tuple(v) if isinstance(v, list) else v for a, v in kw.items()}
                        for k, kw in data["settings"].items()}
    return data


def generalization_summary(records) -> dict:
    """Small against large batch, paired by seed, for one setting of :func:`trained_to_same_loss`.

    Parameters
    ----------
    records : list of dict
        Runs of exactly two batch sizes, each seed with both.

    Returns
    -------
    dict
        ``small``, ``large`` (the batch sizes), ``n_seeds``; ``gap_small``, ``gap_large``,
        ``test_small``, ``test_large`` (means over seeds); ``gap_diff`` (mean of large − small
        per seed), ``gap_diff_se`` (its standard error), ``t`` (paired t statistic),
        ``t_crit`` (two-sided 5 % critical value, ``n_seeds − 1`` degrees of freedom),
        ``significant`` (``|t| > t_crit``); ``n_larger``, ``n_ties`` (seeds whose large-batch
        gap is larger than, equal to the small-batch one); ``sharpness_small``,
        ``sharpness_large`` (means), ``sharpness_ratio_min`` (smallest large/small ratio over
        seeds); ``correlation`` (:func:`sharpness_accuracy_correlation` over all runs).
    """
    from scipy import stats

    sizes = sorted({r["batch_size"] for r in records})
    if len(sizes) != 2:
        raise ValueError(f"Invalid records: batch sizes {sizes} (must be exactly two)")
    small, large = sizes
    by = {(r["seed"], r["batch_size"]): r for r in records}
    seeds = sorted({r["seed"] for r in records})
    if len(by) != len(records) or any((s, b) not in by for s in seeds for b in sizes) or len(seeds) < 2:
        raise ValueError("Invalid records: every seed (at least 2) needs one run of each batch size")
    S = [by[s, small] for s in seeds]
    L = [by[s, large] for s in seeds]
    diff = np.array([l["gap"] - s["gap"] for s, l in zip(S, L)])
    n = len(seeds)
    se = float(diff.std(ddof=1) / math.sqrt(n))
    if se > 0:
        t = float(diff.mean() / se)
    else:                                   # every seed gave the same difference
        t = 0.0 if diff.mean() == 0 else math.copysign(math.inf, diff.mean())
    t_crit = float(stats.t.ppf(0.975, n - 1))
    return {
        "small": small, "large": large, "n_seeds": n,
        "gap_small": float(np.mean([r["gap"] for r in S])),
        "gap_large": float(np.mean([r["gap"] for r in L])),
        "test_small": float(np.mean([r["test_accuracy"] for r in S])),
        "test_large": float(np.mean([r["test_accuracy"] for r in L])),
        "gap_diff": float(diff.mean()), "gap_diff_se": se, "t": t, "t_crit": t_crit,
        "significant": bool(abs(t) > t_crit),
        "n_larger": int(np.sum(diff > 0)), "n_ties": int(np.sum(diff == 0)),
        "sharpness_small": float(np.mean([r["sharpness"] for r in S])),
        "sharpness_large": float(np.mean([r["sharpness"] for r in L])),
        "sharpness_ratio_min": float(min(l["sharpness"] / s["sharpness"] for s, l in zip(S, L))),
        "correlation": sharpness_accuracy_correlation(records),
    }


def main(argv=None) -> int:
    """``python -m lec4lib.studies.ch10_large_batch``: run and store the Keskar-protocol study."""
    import argparse

    from ..results import write_result

    p = argparse.ArgumentParser(description="Run the Keskar-protocol study of chapter 10a and "
                                            "store it in lec4lib/data/results/keskar_digits/.")
    p.add_argument("--out", default=None, help="results folder (default: lec4lib's own)")
    args = p.parse_args(argv)
    path = write_result(KESKAR_RESULT, keskar_study(), args.out)
    print(f"[keskar] wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
