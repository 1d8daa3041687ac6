"""Mutation check: do the tests notice when lec4lib's formulas are wrong?

Each mutation is one hand-written change to one line of ``lec4lib`` (a sign, a bias
correction's exponent, β against 1 − β, the finite-population factor, the trust ratio's
norm, Nesterov's look-ahead point, a schedule's period, ...), with the claim and unit tests
that cover that code. The tool applies the mutations one at a time and runs their tests: a
mutation is *killed* when the tests fail, and *survives* when they pass. It prints the kill
rate and the survivors. Target: every mutation killed.

The working tree is never modified (other people edit ``lec4lib`` at the same time): the
package, ``tests/``, ``tools/`` and ``pyproject.toml`` are copied once into a temporary
folder (the *sandbox*), each mutation is written into the sandbox's copy and the original
bytes are restored in a ``finally`` block (Ctrl-C included), and pytest runs with the
sandbox as its working directory and first on ``PYTHONPATH``, so ``import lec4lib`` is the
mutated copy (checked before the first mutation). ``PYTHONDONTWRITEBYTECODE=1``: no stale
bytecode of a mutant can outlive it; Numba's cache lives in the sandbox and is cleared after
a mutation of a file that uses Numba.

Before the mutations, the union of their tests runs once on the unmutated copy; if that
fails, nothing is reported (a kill would mean nothing). A mutation whose original text is not
found exactly once in its file is refused (``MutationError``), so the list cannot silently
go stale.

Slow, and on demand only (not part of ``make test``, not in CI)::

    nice -n 10 .venv/bin/python tools/mutation_check.py            # all mutations
    .venv/bin/python tools/mutation_check.py --list                # names and files
    .venv/bin/python tools/mutation_check.py --only adam_bc1_exponent,sgd_sign

Its mechanics are tested on a tiny fake package by ``tests/unit/test_mutation_check.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["Mutation", "MutationError", "MUTATIONS", "apply_mutation", "make_sandbox", "run_mutation",
           "run_all"]


class MutationError(ValueError):
    """A mutation that cannot be applied (its original text is absent or not unique)."""


@dataclass(frozen=True)
class Mutation:
    """One one-line change: in ``path`` (relative to the package folder), replace the exact
    text ``original`` (found exactly once) by ``mutated``, then run pytest on ``tests``
    (paths relative to the repository root, optionally followed by pytest options such as
    ``-k EXPR``). ``slow``: include tests marked slow (default: ``-m "not slow"``)."""

    name: str
    path: str
    original: str
    mutated: str
    tests: tuple[str, ...]
    slow: bool = False
    why: str = field(default="", compare=False)


def apply_mutation(text: str, m: Mutation) -> str:
    """``text`` with ``m.original`` replaced by ``m.mutated``; refuses unless found exactly once."""
    n = text.count(m.original)
    if n != 1:
        raise MutationError(f"{m.name}: original text found {n} times in {m.path} (must be exactly once): "
                            f"{m.original!r}")
    if m.original == m.mutated:
        raise MutationError(f"{m.name}: the mutated text equals the original")
    return text.replace(m.original, m.mutated)


def make_sandbox(repo: Path, package: str, dest: Path, extra=("tests", "tools", "pyproject.toml")) -> Path:
    """Copy ``repo/package`` and the ``extra`` paths that exist into ``dest`` (no bytecode, no
    caches); return ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "test-artifacts")
    shutil.copytree(repo / package, dest / package, ignore=ignore)
    for name in extra:
        src = repo / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    return dest


def _env(sandbox: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(sandbox)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["NUMBA_CACHE_DIR"] = str(sandbox / ".numba-cache")
    env.pop("CI", None)          # a skip (e.g. no timm) must not turn into a failure here
    return env


def check_import(sandbox: Path, package: str, python: str = sys.executable) -> str:
    """Where ``import package`` resolves under the sandbox's environment; raises unless inside it."""
    out = subprocess.run([python, "-c", f"import {package}, os; print(os.path.realpath({package}.__file__))"],
                         cwd=sandbox, env=_env(sandbox), capture_output=True, text=True, check=True)
    where = Path(out.stdout.strip())
    if Path(os.path.realpath(sandbox)) not in where.parents:
        raise RuntimeError(f"import {package} resolves to {where}, not to the sandbox {sandbox}")
    return str(where)


def _pytest(sandbox: Path, tests, slow: bool, python: str, timeout: float):
    cmd = [python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=",
           "-m", "slow or not slow" if slow else "not slow", *tests]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=sandbox, env=_env(sandbox), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0, ""
    return p.returncode, time.perf_counter() - t0, p.stdout[-2000:] + p.stderr[-1000:]


def run_mutation(sandbox: Path, package: str, m: Mutation, python: str = sys.executable,
                 timeout: float = 600.0) -> tuple[str, float, str]:
    """Apply ``m`` to the sandbox's copy, run its tests, restore the copy's original bytes.

    Returns ``(outcome, seconds, output tail)``, outcome one of ``killed`` (tests failed, or
    errored during collection, or ran past ``timeout``), ``survived`` (tests passed),
    ``no tests`` (pytest collected nothing: the mutation's test list is wrong) or
    ``error (pytest rc N)`` (pytest's internal error or bad usage: not a kill).
    """
    target = sandbox / package / m.path
    original = target.read_bytes()
    mutated = apply_mutation(original.decode("utf-8"), m).encode("utf-8")
    try:
        target.write_bytes(mutated)
        rc, secs, tail = _pytest(sandbox, m.tests, m.slow, python, timeout)
    finally:
        target.write_bytes(original)
        if b"numba" in original:                # compiled code of the mutant may be cached
            shutil.rmtree(sandbox / ".numba-cache", ignore_errors=True)
    if rc == 0:
        return "survived", secs, tail
    if rc in (1, 2, "timeout"):     # tests failed; collection (import) failed; the mutant hung
        return "killed", secs, tail
    if rc == 5:
        return "no tests", secs, tail
    return f"error (pytest rc {rc})", secs, tail    # 3: internal error, 4: bad usage


def run_all(mutations, repo: Path = ROOT, package: str = "lec4lib", python: str = sys.executable,
            timeout: float = 600.0, out=print) -> dict:
    """Baseline, then every mutation; returns ``{name: outcome}`` (see :func:`run_mutation`)."""
    mutations = list(mutations)
    names = [m.name for m in mutations]
    if len(set(names)) != len(names):
        raise MutationError("mutation names must be unique")
    with tempfile.TemporaryDirectory(prefix="mutation-check-") as tmp:
        sandbox = make_sandbox(repo, package, Path(tmp))
        for m in mutations:                       # refuse stale mutations before running anything
            apply_mutation((sandbox / package / m.path).read_text("utf-8"), m)
        out(f"sandbox {sandbox}: import {package} -> {check_import(sandbox, package, python)}")
        for slow in (False, True):
            tests = sorted({t for m in mutations if m.slow == slow for t in _paths(m.tests)})
            if tests:
                rc, secs, tail = _pytest(sandbox, tests, slow, python, timeout)
                out(f"baseline ({'with' if slow else 'without'} slow tests, {len(tests)} files): "
                    f"rc {rc}, {secs:.0f} s")
                if rc != 0:
                    raise RuntimeError(f"the unmutated tests fail in the sandbox, no mutation run:\n{tail}")
        results = {}
        for i, m in enumerate(mutations, 1):
            outcome, secs, tail = run_mutation(sandbox, package, m, python, timeout)
            results[m.name] = outcome
            out(f"[{i:2d}/{len(mutations)}] {outcome:8s} {secs:5.1f} s  {m.name}  ({m.path})")
            if outcome != "killed":
                out("    " + tail.strip().splitlines()[-1] if tail.strip() else "    (no output)")
    killed = sum(o == "killed" for o in results.values())
    out(f"kill rate: {killed}/{len(results)} = {killed / max(len(results), 1):.0%}")
    survivors = [n for n, o in results.items() if o != "killed"]
    out("survivors: " + (", ".join(f"{n} ({results[n]})" for n in survivors) if survivors else "none"))
    return results


def _paths(tests):
    """The test paths among pytest arguments (drops options such as ``-k EXPR``)."""
    out, skip = [], False
    for t in tests:
        if skip:
            skip = False
        elif t in ("-k", "-m"):
            skip = True
        elif not t.startswith("-"):
            out.append(t)
    return out


# --- the mutations ---------------------------------------------------------------------
C, U = "tests/claims/", "tests/unit/"


def M(name, path, original, mutated, *tests, slow=False, why=""):
    return Mutation(name, path, original, mutated, tuple(tests), slow, why)


MUTATIONS = [
    # minibatch noise (chapter 01, 09)
    M("finite_population_factor", "theory/gradient_noise.py",
      "return spread / b * (N - b) / (N - 1) if N > 1 else 0.0",
      "return spread / b * (N - b) / N if N > 1 else 0.0",
      C + "test_01_stochastic_gradient.py", U + "test_noise_and_perceptron.py"),
    M("variance_over_b", "theory/gradient_noise.py",
      "    if replace:\n        return spread / b\n", "    if replace:\n        return spread / b ** 0.5\n",
      C + "test_01_stochastic_gradient.py", U + "test_noise_and_perceptron.py"),
    M("spread_not_centred", "theory/gradient_noise.py",
      "return float(np.mean(np.sum((G - G.mean(axis=0)) ** 2, axis=1)))",
      "return float(np.mean(np.sum(G ** 2, axis=1)))",
      C + "test_01_stochastic_gradient.py", U + "test_noise_and_perceptron.py"),
    # objectives
    M("logistic_dloss_sign", "problems/objectives.py", "        r -= 1.0\n", "        r += 1.0\n",
      U + "test_objectives.py", C + "test_01_stochastic_gradient.py"),
    M("grad_l2_sign", "problems/objectives.py", "return g / self.n_samples + self.l2 * w",
      "return g / self.n_samples - self.l2 * w", U + "test_objectives.py", C + "test_01_stochastic_gradient.py"),
    M("minibatch_grad_divides_by_N", "problems/objectives.py", "g = (r @ Xb) / idx.size",
      "g = (r @ Xb) / self.n_samples", U + "test_objectives.py", U + "test_sgd.py"),
    M("logistic_hessian_weight", "problems/objectives.py", "D = s * (1.0 - s)", "D = s",
      U + "test_objectives.py", C + "test_03_sgd_vs_gd.py", C + "test_06_nesterov.py"),
    M("logistic_smoothness_quarter", "problems/objectives.py",
      "[-1] / (4 * self.n_samples) + self.l2)", "[-1] / (2 * self.n_samples) + self.l2)",
      U + "test_objectives.py", C + "test_03_sgd_vs_gd.py", C + "test_06_nesterov.py"),
    M("least_squares_residual_sign", "problems/objectives.py", "        return z - y\n", "        return y - z\n",
      U + "test_objectives.py", U + "test_sgd.py"),
    M("kernel_logistic_residual", "problems/kernels.py", "g[j] += r * X[i, j]", "g[j] -= r * X[i, j]",
      U + "test_kernels.py", C + "test_01_stochastic_gradient.py"),
    # optimizers
    M("sgd_sign", "optim/sgd.py", "        w -= b\n", "        w += b\n",
      U + "test_optimizers.py", U + "test_sgd.py"),
    M("ema_momentum_one_minus_beta", "optim/momentum.py",
      "v += np.multiply(g, 1.0 - self.momentum, out=b)", "v += np.multiply(g, self.momentum, out=b)",
      U + "test_optimizers_vs_torch.py", U + "test_optimizers.py"),
    M("heavy_ball_damped", "optim/momentum.py",
      "v += np.multiply(g, lr, out=self._buf[0])", "v += np.multiply(g, lr * (1.0 - self.momentum), out=self._buf[0])",
      U + "test_optimizers_vs_torch.py", C + "test_06_nesterov.py"),
    M("nesterov_lookahead_sign", "optim/nesterov.py",
      'return w - self.momentum * self.state["v"]', 'return w + self.momentum * self.state["v"]',
      C + "test_06_nesterov.py", U + "test_optimizers_vs_torch.py"),
    M("nesterov_no_lookahead", "optim/nesterov.py",
      'return w - self.momentum * self.state["v"]', 'return w - 0.0 * self.state["v"]',
      C + "test_06_nesterov.py", U + "test_optimizers_vs_torch.py"),
    M("adagrad_no_root", "optim/adagrad.py", "b0 /= np.sqrt(G, out=b1)", "b0 /= G",
      C + "test_07_adagrad.py", U + "test_optimizers_vs_torch.py"),
    M("adagrad_eps_not_in_accumulator", "optim/adagrad.py",
      'self.state = {"G": np.full_like(w, self.eps)}', 'self.state = {"G": np.full_like(w, 0.0)}',
      C + "test_07_adagrad.py", U + "test_optimizers_vs_torch.py"),
    M("adam_bc1_exponent", "optim/adam.py", "bc1 = 1.0 - beta1 ** t", "bc1 = 1.0 - beta1 ** (t + 1)",
      C + "test_08_adam.py", U + "test_optimizers_vs_torch.py"),
    M("adam_bc2_root", "optim/adam.py", "bc2_sqrt = (1.0 - beta2 ** t) ** 0.5", "bc2_sqrt = (1.0 - beta2 ** t)",
      C + "test_08_adam.py", U + "test_optimizers_vs_torch.py"),
    M("adam_beta1_vs_one_minus", "optim/adam.py", "wt = 1.0 - beta1", "wt = beta1",
      C + "test_08_adam.py", U + "test_optimizers_vs_torch.py"),
    M("adam_beta2_vs_one_minus", "optim/adam.py", "np.multiply(g, 1.0 - beta2, out=b0)",
      "np.multiply(g, beta2, out=b0)", C + "test_08_adam.py", U + "test_optimizers_vs_torch.py"),
    M("adam_eps_sign", "optim/adam.py", "denom += self.eps", "denom -= self.eps",
      C + "test_08_adam.py", U + "test_optimizers_vs_torch.py"),
    M("perceptron_tie_rule", "optim/perceptron.py", 'if m < 0 or (m == 0 and at_zero == "mistake"):',
      'if m <= 0 or (m == 0 and at_zero == "mistake"):', C + "test_04_perceptron.py", U + "test_noise_and_perceptron.py"),
    M("perceptron_subgradient_sign", "optim/perceptron.py", "        return -y * x\n", "        return y * x\n",
      C + "test_04_perceptron.py", U + "test_noise_and_perceptron.py"),
    M("averaging_starts_late", "optim/driver.py", "if average_from is not None and t >= average_from:",
      "if average_from is not None and t > average_from:", U + "test_sgd.py", U + "test_rates_averaging_trajectory.py"),
    # schedules
    M("polynomial_power", "optim/schedules.py", "return self.lr * (1.0 + t / self.t0) ** (-self.power)",
      "return self.lr * (1.0 + t / self.t0) ** (-self.power / 2)", U + "test_schedules.py"),
    M("step_decay_offset", "optim/schedules.py", "return self.lr * self.gamma ** (t // self.step_size)",
      "return self.lr * self.gamma ** (t // self.step_size + 1)", U + "test_schedules.py"),
    M("cyclic_period", "optim/schedules.py", "period = self.step_size_up + self.step_size_down",
      "period = self.step_size_up + self.step_size_down + 1", U + "test_schedules.py"),
    M("cosine_frequency", "optim/schedules.py",
      "(1 + math.cos(math.pi * t / self.T_max)) / 2", "(1 + math.cos(2 * math.pi * t / self.T_max)) / 2",
      U + "test_schedules.py"),
    M("warm_restart_period_growth", "optim/schedules.py", "period *= self.T_mult", "period += self.T_mult",
      U + "test_schedules.py"),
    # momentum theory (chapters 05, 06)
    M("heavy_ball_char_poly", "theory/momentum.py", "_max_root_modulus(1 + b - a * l, b)",
      "_max_root_modulus(1 - b - a * l, b)", C + "test_06_nesterov.py", U + "test_momentum_theory.py"),
    M("nesterov_char_poly", "theory/momentum.py", "_max_root_modulus((1 + b) * q, b * q)",
      "_max_root_modulus((1 + b) * q, b)", C + "test_06_nesterov.py", U + "test_momentum_theory.py"),
    M("ema_radius_rescaling", "theory/momentum.py", "return heavy_ball_radius(a * (1 - b), b, curvatures)",
      "return heavy_ball_radius(a, b, curvatures)", U + "test_rates_averaging_trajectory.py", C + "test_05_momentum.py"),
    M("velocity_stability_limit", "theory/momentum.py", "        return 2 + 2 * b\n", "        return 2 + b\n",
      U + "test_rates_averaging_trajectory.py", C + "test_05_momentum.py"),
    M("ema_stability_limit", "theory/momentum.py", "return 2 * (1 + b) / (1 - b)", "return 2 * (1 + b)",
      U + "test_rates_averaging_trajectory.py", C + "test_05_momentum.py"),
    M("gd_optimal_step", "theory/momentum.py", "return 2.0 / (L + mu), (k - 1) / (k + 1)",
      "return 1.0 / L, (k - 1) / (k + 1)", U + "test_momentum_theory.py", C + "test_05_momentum.py"),
    # large batch (chapter 10)
    M("sqrt_rule", "theory/lr_scaling.py", '"sqrt": base_lr * math.sqrt(k)', '"sqrt": base_lr * k ** 0.25',
      U + "test_large_batch_lib.py", C + "test_10_large_batch.py"),
    M("max_stable_batch_sqrt", "theory/lr_scaling.py", "return b0 * (ratio ** 2 if rule == \"sqrt\" else ratio)",
      "return b0 * (ratio if rule == \"sqrt\" else ratio)", U + "test_large_batch_lib.py", C + "test_10_large_batch.py"),
    M("least_squares_curvature_factor", "theory/lr_scaling.py",
      "return np.linalg.eigvalsh(2.0 / X.shape[0] * X.T @ X)", "return np.linalg.eigvalsh(1.0 / X.shape[0] * X.T @ X)",
      U + "test_large_batch_lib.py", C + "test_10_large_batch.py"),
    M("loglog_slope_swapped", "theory/measure.py", "return float(np.polyfit(np.log(x), np.log(y), 1)[0])",
      "return float(np.polyfit(np.log(y), np.log(x), 1)[0])", U + "test_large_batch_lib.py",
      C + "test_01_stochastic_gradient.py"),
    # noise floors (chapters 02, 05) and the data generators
    M("second_moment_recursion_noise", "theory/noise_floor.py",
      "m[t + 1] = (1 - eta[t] * mu) ** 2 * m[t] + eta[t] ** 2 * sigma ** 2",
      "m[t + 1] = (1 - eta[t] * mu) ** 2 * m[t] + eta[t] * sigma ** 2",
      U + "test_noise_and_perceptron.py", U + "test_optimizer_studies.py", C + "test_02_step_size.py"),
    M("one_over_t_constant", "theory/noise_floor.py", "return c * c * sigma ** 2 / (2 * c * mu - 1)",
      "return c * sigma ** 2 / (2 * c * mu - 1)", U + "test_rates_averaging_trajectory.py", C + "test_02_step_size.py"),
    M("momentum_noise_floor_factor", "theory/momentum.py", "return (1 + b) * a * s2 / ((1 - b) * lam * gap)",
      "return (1 + b) * a * s2 / ((1 + b) * lam * gap)", U + "test_momentum_theory.py",
      U + "test_noise_and_perceptron.py", C + "test_05_momentum.py"),
    M("logistic_labels_flipped", "problems/datasets.py", "p = 1.0 / (1.0 + np.exp(-np.clip(X @ w_true, -500, 500)))",
      "p = 1.0 / (1.0 + np.exp(np.clip(X @ w_true, -500, 500)))", U + "test_data.py"),
    M("power_iteration_rayleigh", "nets/sharpness.py", "lam = float(v @ hv)",
      "lam = float(v @ hv) / 2", U + "test_large_batch_lib.py"),
    M("finite_population_off_by_one", "theory/gradient_noise.py",
      "return spread / b * (N - b) / (N - 1) if N > 1 else 0.0",
      "return spread / b * (N - b + 1) / (N - 1) if N > 1 else 0.0",
      C + "test_01_stochastic_gradient.py"),
    # LARS and LAMB (chapter 11)
    M("lars_trust_ratio_norm", "optim/lars.py",
      'ratio = group["trust_coefficient"] * w_norms / (g_norms + wd * w_norms + group["eps"])',
      'ratio = group["trust_coefficient"] * w_norms / (g_norms + group["eps"])',
      U + "test_lars_lamb_optimizers.py", U + "test_lars_lamb_timm.py"),
    M("lamb_trust_ratio_inverted", "optim/lamb.py", "    ratio = w_norms / u_norms\n", "    ratio = u_norms / w_norms\n",
      U + "test_lars_lamb_optimizers.py", U + "test_lars_lamb_timm.py"),
    M("lamb_bias_correction_root", "optim/lamb.py", "s = math.sqrt(bc2) / bc1", "s = bc2 / bc1",
      U + "test_lars_lamb_optimizers.py", U + "test_lars_lamb_timm.py"),
    M("lamb_phi_upper_bound", "optim/lamb.py",
      "w_norms = torch.clamp(w_norms, min=bounds[0], max=bounds[1])", "w_norms = torch.clamp(w_norms, min=bounds[0])",
      U + "test_lars_lamb_optimizers.py"),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print the mutations and exit")
    ap.add_argument("--only", default="", help="comma-separated mutation names")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per pytest run (past it: killed)")
    args = ap.parse_args(argv)
    chosen = MUTATIONS
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = set(wanted) - {m.name for m in MUTATIONS}
        if unknown:
            ap.error(f"unknown mutations: {sorted(unknown)}")
        chosen = [m for m in MUTATIONS if m.name in wanted]
    if args.list:
        for m in chosen:
            print(f"{m.name:32s} {m.path:28s} {' '.join(m.tests)}")
        return 0
    run_all(chosen, timeout=args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
