"""lec4lib.validation: the one set of bounds and the one message style (torch's)."""

import ast
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from lec4lib.optim.adam import Adam
from lec4lib.optim.lamb import LAMB
from lec4lib.optim.lars import LARS
from lec4lib.optim.momentum import MomentumEMA
from lec4lib.optim.schedules import Constant
from lec4lib.validation import (check_bool, check_int, check_lr, check_number,
                                check_positive_array, check_unit_interval_array)


@pytest.mark.parametrize("value", [3, np.int64(3), 3.0, np.float32(3.0)])
def test_integers_accept_integral_values(value):
    assert check_int("steps", value) == 3 and type(check_int("steps", value)) is int


@pytest.mark.parametrize("value", [True, np.bool_(False), 2.5, math.nan, math.inf, "3", None, 0])
def test_integers_reject_bools_fractions_others_and_values_below_the_bound(value):
    with pytest.raises(ValueError, match=r"^Invalid steps: .* \(must be an integer >= 1\)$"):
        check_int("steps", value)


def test_integer_ranges_are_stated():
    assert check_int("batch_size", 5, 1, 5) == 5
    with pytest.raises(ValueError, match=r"must be an integer in 1\.\.5"):
        check_int("batch_size", 6, 1, 5)


def test_numbers_follow_the_interval_and_reject_bools_and_non_finite():
    assert check_number(0.0, "momentum", 0.0, 1.0) == 0.0
    for bad in (1.0, -0.1, math.nan, True, "0.5"):
        with pytest.raises(ValueError, match=r"^Invalid momentum: "):
            check_number(bad, "momentum", 0.0, 1.0)
    with pytest.raises(ValueError, match=r"must be finite and > 0\)$"):
        check_number(0.0, "eps", 0.0, low_open=True)
    with pytest.raises(ValueError, match=r"must be finite and >= 0\)$"):
        check_number(-1.0, "weight_decay", 0.0)


def test_learning_rate_is_positive_everywhere_numpy_schedules_and_torch():
    """One bound for the learning rate: finite and > 0 (zero is rejected by all of them)."""
    params = [torch.zeros(2, requires_grad=True)]
    makers = [lambda lr: MomentumEMA(lr), lambda lr: Adam(lr), lambda lr: Constant(lr),
              lambda lr: LARS(params, lr=lr), lambda lr: LAMB(params, lr=lr)]
    for make in makers:
        for bad in (0.0, -1.0, math.inf, True):
            with pytest.raises(ValueError, match=r"^Invalid learning rate: "):
                make(bad)
        make(0.1)
    f = lambda t: 0.1  # noqa: E731
    assert check_lr(f) is f
    with pytest.raises(ValueError, match="Invalid learning rate"):
        check_lr(f, schedule=False)


def test_betas_and_flags_use_the_same_messages_in_numpy_and_torch_optimizers():
    with pytest.raises(ValueError, match=r"^Invalid beta2: 1.0 \(must be in \[0, 1\)\)$"):
        Adam(0.1, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"^Invalid momentum: 1.0 \(must be in \[0, 1\)\)$"):
        LARS([torch.zeros(2, requires_grad=True)], lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"^Invalid bias_correction: 1 \(must be True or False\)$"):
        Adam(0.1, bias_correction=1)
    assert check_bool("adapt", np.bool_(True)) is True


def test_array_checks():
    np.testing.assert_array_equal(check_positive_array("curvatures", [1, 2]), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^Invalid curvatures: .*must be finite and > 0"):
        check_positive_array("curvatures", [1.0, 0.0])
    with pytest.raises(ValueError, match=r"^Invalid beta: .*must be in \[0, 1\)"):
        check_unit_interval_array("beta", [0.5, 1.0])


# --- the library's functions use these checks ------------------------------------------
# One representative call per converted argument: a bool, 0 or a negative value where
# ``>= 1`` is required, nan, a non-integral float; each names the argument, torch's style.
def _lin():
    return torch.nn.Linear(2, 1)


def _xy():
    return torch.zeros(3, 2), torch.zeros(3, 1)


def _least_squares():
    from lec4lib.problems.objectives import LeastSquares
    return LeastSquares(np.eye(4), np.ones(4))


_PX, _PY = np.array([[1.0, 0.0], [-1.0, 0.5]]), np.array([1.0, -1.0])


def _with(cm):
    with cm:
        pass


def _library_calls():
    from torch.nn import functional as F

    from lec4lib.nets import alexnet, data_parallel, images, per_example, sharpness, training, trust_ratio
    from lec4lib.optim import driver, perceptron, schedules
    from lec4lib.optim.sgd import SGD
    from lec4lib.studies import ch01_stochastic_gradient, ch05_momentum, ch10_large_batch, ch11_lars_lamb

    mse = F.mse_loss
    nan = math.nan
    return [  # (call, name, value as repr shows it, condition)
        (lambda: sharpness.top_hessian_eigenvalue(_lin(), _xy(), iters=True, loss_fn=mse),
         "iters", "True", "an integer >= 1"),
        (lambda: sharpness.top_hessian_eigenvalue(_lin(), _xy(), tol=nan, loss_fn=mse),
         "tol", "nan", "finite and > 0"),
        (lambda: sharpness.top_hessian_eigenvalue(_lin(), _xy(), seed=1.5, loss_fn=mse),
         "seed", "1.5", "an integer >= 0"),
        (lambda: _with(training.torch_threads(2.5)), "n", "2.5", "an integer >= 1"),
        (lambda: training.SmallCNN(hidden=True), "hidden", "True", "an integer >= 1"),
        (lambda: training.SmallCNN(channels=(8, 0)), "channels entries", "0", "an integer >= 1"),
        (lambda: training.SmallCNN(num_classes=1.5), "num_classes", "1.5", "an integer >= 2"),
        (lambda: training.load_digits_tensors(test_size=nan), "test_size", "nan", "in (0, 1)"),
        (lambda: training.evaluate(_lin(), (torch.zeros(2, 2), torch.zeros(2, dtype=torch.long)), batch_size=0),
         "batch_size", "0", "an integer >= 1"),
        (lambda: per_example.gradient_variance_vs_batch_size(torch.randn(4, 3), [1], seed=-1),
         "seed", "-1", "an integer >= 0"),
        (lambda: per_example.gradient_variance_vs_batch_size(torch.randn(4, 3), [True]),
         "batch_sizes entries", "True", "an integer >= 1"),
        (lambda: per_example.flops_per_step(_lin(), (2, 1.5), 1), "input_shape entries", "1.5", "an integer >= 1"),
        (lambda: per_example.throughput_vs_batch_size(_lin(), (2,), [1], min_time=nan),
         "min_time", "nan", "finite and >= 0"),
        (lambda: per_example.saturation_batch_size([1], [1.0], fraction=nan), "fraction", "nan", "in (0, 1]"),
        (lambda: data_parallel.run_data_parallel_check(world_size=True), "world_size", "True", "an integer >= 1"),
        (lambda: data_parallel.run_data_parallel_check(per_worker_batch=0), "per_worker_batch", "0",
         "an integer >= 1"),
        (lambda: data_parallel.run_data_parallel_check(timeout_s=nan), "timeout_s", "nan", "finite and > 0"),
        (lambda: data_parallel.global_batch(0, 2.5), "batch_size", "2.5", "an integer in 1..1347"),
        (lambda: trust_ratio.trust_ratio_table(_lin(), torch.zeros(2, 2), torch.zeros(2, dtype=torch.long),
                                               seed=True), "seed", "True", "an integer >= 0"),
        (lambda: trust_ratio.layerwise_param_groups(_lin(), weight_decay=nan), "weight_decay", "nan",
         "finite and >= 0"),
        (lambda: images.synthetic_images(2, noise=nan), "noise", "nan", "finite and >= 0"),
        (lambda: alexnet.AlexNet(dropout=nan), "dropout", "nan", "in [0, 1)"),
        (lambda: driver.run(SGD(0.1), lambda w: w, [1.0], steps=1.5), "steps", "1.5", "an integer >= 0"),
        (lambda: driver.sgd(_least_squares(), lr=0.1, batch_size=True, n_steps=3), "batch_size", "True",
         "an integer in 1..4"),
        (lambda: driver.sgd(_least_squares(), lr=0.1, epochs=nan), "epochs", "nan", "finite and >= 0"),
        (lambda: driver.sgd(_least_squares(), lr=0.1, n_steps=10, average_from=11), "average_from", "11",
         "an integer in 0..10"),
        (lambda: perceptron.classic_perceptron(_PX, _PY, epochs=2.5), "epochs", "2.5", "an integer >= 1"),
        (lambda: perceptron.sgd_perceptron(_PX, _PY, lr=nan), "learning rate", "nan", "finite and > 0"),
        (lambda: schedules.Constant(0.1)(True), "t", "True", "an integer >= 0"),
        (lambda: schedules.Constant(0.1).values(2.5), "n_steps", "2.5", "an integer >= 0"),
        (lambda: schedules.StepDecay(0.1, 3, gamma=nan), "gamma", "nan", "in (0, 1]"),
        (lambda: schedules.CyclicTriangular(0.2, 0.1, 3), "max_lr", "0.1", "finite and >= 0.2"),
        (lambda: schedules.CosineAnnealing(0.1, 3, eta_min=0.5), "eta_min", "0.5", "in [0, 0.1]"),
        (lambda: ch01_stochastic_gradient.time_gradients([100], batch_size=0), "batch_size", "0",
         "an integer in 1..100"),
        (lambda: ch01_stochastic_gradient.time_gradients([100], batch_size=10, repeats=True), "repeats", "True",
         "an integer >= 1"),
        (lambda: ch05_momentum.direction_variance(None, None, 0.9, batch_size=0), "batch_size", "0",
         "an integer >= 1"),
        (lambda: ch10_large_batch.batch_size_sweep([16], epochs=True), "epochs", "True", "an integer >= 1"),
        (lambda: ch10_large_batch.batch_size_sweep([16], seeds=(1.5,)), "seeds entry", "1.5", "an integer >= 0"),
        (lambda: ch10_large_batch.batch_size_sweep([16], warmup_epochs=nan), "warmup_epochs", "nan", "in [0, 10]"),
        (lambda: ch10_large_batch.batch_size_sweep([16], momentum=nan), "momentum", "nan", "in [0, 1)"),
        (lambda: ch11_lars_lamb.compare_lars_sgd(sgd_lrs=(nan,)), "sgd_lrs entry", "nan", "finite and > 0"),
        (lambda: ch11_lars_lamb.compare_lars_sgd(threads=2.5), "threads", "2.5", "an integer >= 1"),
        (lambda: ch11_lars_lamb.ExperimentConfig(steps=True).validate(), "steps", "True", "an integer >= 1"),
        (lambda: ch11_lars_lamb.ExperimentConfig(seed=-1).validate(), "seed", "-1", "an integer >= 0"),
        (lambda: ch11_lars_lamb.ExperimentConfig(momentum=nan).validate(), "momentum", "nan", "in [0, 1)"),
        (lambda: ch11_lars_lamb.ExperimentConfig(peak_tflops=nan).validate(), "peak_tflops", "nan",
         "finite and > 0"),
    ]


_CALLS = _library_calls()


@pytest.mark.parametrize("call,name,value,cond", _CALLS, ids=[f"{c[1]}={c[2]}" for c in _CALLS])
def test_library_functions_reject_bad_numbers_in_torch_style(call, name, value, cond):
    pattern = rf"^Invalid {re.escape(name)}: {re.escape(value)} \(must be {re.escape(cond)}\)$"
    with pytest.raises(ValueError, match=pattern):
        call()


# --- the old inline style does not come back --------------------------------------------
_OLD_STYLE_WORDS = ("integer", ">=", "> 0", "finite", "in [", "in (")
# "<name> must be ..." / "<name> must lie in ...": one argument name (or a {placeholder})
_OLD_STYLE_START = re.compile(r"^\s*(?:\{\}|[A-Za-z_][\w.]*) must (?:be|lie)\b")


def _message_text(node):
    """The text of a str literal or f-string argument, each ``{...}`` field as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def old_style_checks(source: str) -> list[tuple[int, str]]:
    """``(line, message)`` of every ``raise ValueError("<name> must be ...")`` stating a numeric bound."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "ValueError"
                and node.exc.args):
            continue
        text = _message_text(node.exc.args[0])
        if text and _OLD_STYLE_START.match(text) and any(w in text for w in _OLD_STYLE_WORDS):
            found.append((node.lineno, text))
    return found


def test_the_old_style_scan_finds_old_checks_and_passes_new_ones():
    old = ('def f(iters, tol, n):\n'
           '    raise ValueError(f"iters must be an integer >= 1, got {iters!r}")\n'
           '    raise ValueError(f"{n} must be a finite number > 0")\n'
           '    raise ValueError("gamma must lie in (0, 1]")\n')
    assert [line for line, _ in old_style_checks(old)] == [2, 3, 4]
    new = ('def f(iters, model):\n'
           '    raise ValueError(f"Invalid iters: {iters!r} (must be an integer >= 1)")\n'
           '    raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")\n')
    assert old_style_checks(new) == []


def test_no_module_checks_numbers_in_the_old_inline_style():
    """Numeric bounds go through lec4lib.validation (``Invalid <name>: <value> (must be ...)``)."""
    package = Path(__file__).resolve().parents[2] / "lec4lib"
    offenders = [f"{path.relative_to(package.parent)}:{line}: {text}"
                 for path in sorted(package.rglob("*.py")) if path != package / "validation.py"
                 for line, text in old_style_checks(path.read_text(encoding="utf-8"))]
    assert not offenders, "use lec4lib.validation instead:\n" + "\n".join(offenders)
