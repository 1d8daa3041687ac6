"""The fixed set of student submissions the grading pipeline is tested against.

Each submission is built from the *released* hw1 notebook (what a student receives) by
replacing answer cells (by nbgrader ``grade_id``) or by an edit of the whole notebook.
``EXPECTED`` gives each kind's exact autograded score out of 9 (hw1: loss_and_grad 3,
minibatches 2, step_size 1, sgd 3; the written answer is graded by hand) and why.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

from coursetools import authoring

# The instructor's answers, read from the authoring source (solution markers dropped).
def solution_answers(name: str = "hw1") -> dict[str, str]:
    out = {}
    for cell in authoring.read_source(name).cells:
        if "answer" in cell.metadata:
            out[cell.metadata["answer"]] = "\n".join(
                l for l in cell.source.splitlines() if "BEGIN SOLUTION" not in l and "END SOLUTION" not in l)
    return out


DIFFERENT_BUT_CORRECT = {
    "loss_and_grad": '''
def loss_and_grad(w, X, y, lam):
    z = -y * X.dot(w)
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|), and sigma(z) = e^(z - log(1 + e^z))
    softplus = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    s = np.exp(z - softplus)
    loss = softplus.sum() / X.shape[0] + lam / 2 * np.dot(w, w)
    grad = np.einsum("i,ij->j", -y * s, X) / X.shape[0] + lam * w
    return float(loss), grad
''',
    "minibatches": '''
def minibatches(n, batch_size, rng):
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError("batch_size must be a positive integer")
    perm = rng.permutation(n)
    out = []
    start = 0
    while start < n:
        out.append(perm[start:min(start + batch_size, n)])
        start += batch_size
    return out
''',
    "step_size": "step_size = lambda t, alpha0, decay: alpha0 * (1.0 + decay * t) ** -1\n",
    "sgd": '''
def sgd(X, y, lam, batch_size, epochs, alpha0, decay, seed):
    rng = np.random.default_rng(seed)
    w = np.zeros(X.shape[1])
    updates = 0
    for epoch in range(epochs):
        batches = minibatches(len(y), batch_size, rng)
        for b in batches:
            w -= step_size(updates, alpha0, decay) * loss_and_grad(w, X[b], y[b], lam)[1]
            updates += 1
    return w
''',
}

# Monkeypatching that would make every numpy comparison pass.
PATCH_NUMPY = '''
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
def loss_and_grad(w, X, y, lam):
    return 0.0, np.zeros_like(w)
'''
# An IPython input transformer that deletes every assert from the cells run after it.
PATCH_ASSERT = '''
get_ipython().input_transformers_cleanup.append(
    lambda lines: [line for line in lines if not line.lstrip().startswith("assert")])
def loss_and_grad(w, X, y, lam):
    return 0.0, np.zeros_like(w)
'''


def _answers(**changes) -> dict[str, str]:
    out = solution_answers()
    out.update(changes)
    return out


def fill(release_nb, answers: dict[str, str]):
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
        elif gid == "fixed_step_answer":
            cell.source = "The minibatch gradient has positive variance at the optimum."
    return nb


def _delete_cell(nb, grade_id):
    nb.cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def _edit_cell(nb, grade_id, source):
    for c in nb.cells:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            c.source = source
    return nb


WRONG_GRADIENT_SIGN = '''
def loss_and_grad(w, X, y, lam):
    m = y * (X @ w)
    return float(np.mean(np.logaddexp(0, -m)) + lam / 2 * w @ w), (X.T @ (y / (1 + np.exp(m)))) / len(y) + lam * w
'''

# kind -> (answers or None, notebook edit or None, file name, expected score, why)
KINDS = {
    "correct": (_answers(), None, "hw1.ipynb", 9, "every test passes"),
    "different_but_correct": (_answers(**DIFFERENT_BUT_CORRECT), None, "hw1.ipynb", 9,
                              "other code, same results"),
    "partially_wrong": (_answers(step_size="def step_size(t, alpha0, decay):\n    return alpha0 / (1.0 + decay * (t + 1))\n"),
                        None, "hw1.ipynb", 5, "step_size off by one: step_size (1) and sgd (3) fail"),
    "untouched_stub": (None, None, "hw1.ipynb", 0, "the release as handed out"),
    "raises": (_answers(loss_and_grad="def loss_and_grad(w, X, y, lam):\n    raise ValueError('not done')\n"),
               None, "hw1.ipynb", 3, "loss_and_grad raises: loss (3) and sgd (3) fail"),
    "infinite_loop": (_answers(minibatches="def minibatches(n, batch_size, rng):\n    while True:\n        pass\n"),
                      None, "hw1.ipynb", 4, "minibatches never returns: its cell and sgd's time out, the rest pass"),
    "kernel_death": (_answers(sgd="import os\ndef sgd(*args, **kwargs):\n    os._exit(1)\n"),
                     None, "hw1.ipynb", 6,
                     "the kernel dies in the sgd tests: that cell fails, the kernel is restarted, the rest counts"),
    "enormous_output": (_answers(step_size="print('x' * 2_000_000)\nfor _ in range(20_000):\n    print('spam')\n"
                                 + solution_answers()["step_size"]),
                        None, "hw1.ipynb", 9, "correct, but prints megabytes"),
    "monkeypatch_numpy": (_answers(loss_and_grad=PATCH_NUMPY), None, "hw1.ipynb", 0,
                          "numpy comparisons faked: the guard fails every test cell after it"),
    "monkeypatch_assert": (_answers(loss_and_grad=PATCH_ASSERT), None, "hw1.ipynb", 0,
                           "asserts stripped by an input transformer: the guard fails every test cell"),
    "deleted_test_cell": (_answers(), lambda nb: _delete_cell(nb, "loss_and_grad_tests"), "hw1.ipynb", 9,
                          "correct; the deleted test cell is put back from the gradebook and passes "
                          "(left out, it would score 6)"),
    "edited_test_cell": (_answers(loss_and_grad=WRONG_GRADIENT_SIGN),
                         lambda nb: _edit_cell(nb, "loss_and_grad_tests", "pass"), "hw1.ipynb", 3,
                         "the edited cell is overwritten from the gradebook: the wrong gradient loses "
                         "loss (3) and sgd (3) (kept as edited, it would score 6)"),
    "renamed_notebook": (_answers(), None, "hw1 (1).ipynb", 9, "collected under its canonical name, flagged"),
    "malformed_notebook": (None, "malformed", "hw1.ipynb", 0, "not JSON: recorded with 0, status failed"),
    "delegates_to_lec4lib": (_answers(loss_and_grad='''
from lec4lib.objectives import log1pexp
def loss_and_grad(w, X, y, lam):
    m = y * (X @ w)
    loss = float(np.mean(log1pexp(-m)) + lam / 2 * w @ w)
    return loss, -(X.T @ (y * np.exp(-np.logaddexp(0.0, m)))) / len(y) + lam * w
'''), None, "hw1.ipynb", 3,
        "the loss calls lec4lib: its tests (3) and sgd's (3), which call it, fail"),
    "delegates_to_torch_optim": (_answers(sgd='''
import torch
def sgd(X, y, lam, batch_size, epochs, alpha0, decay, seed):
    rng = np.random.default_rng(seed)
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=alpha0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1.0 + decay * t))
    for _ in range(epochs):
        for b in minibatches(X.shape[0], batch_size, rng):
            w.grad = torch.as_tensor(loss_and_grad(w.detach().numpy(), X[b], y[b], lam)[1])
            opt.step()
            sched.step()
    return w.detach().numpy().copy()
'''), None, "hw1.ipynb", 6, "sgd steps with torch.optim.SGD: sgd tests fail (3)"),
}


def write_submissions(release_path: Path, folder: Path) -> dict[str, int]:
    """Write one folder per kind (``folder/<kind>/<file>``); returns kind -> expected score."""
    release_nb = nbformat.read(release_path, as_version=4)
    expected = {}
    for kind, (answers, edit, filename, score, _why) in KINDS.items():
        dest = Path(folder) / kind / filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        if edit == "malformed":
            dest.write_text(nbformat.writes(fill(release_nb, solution_answers()))[:-500])
        else:
            nb = fill(release_nb, answers) if answers is not None else copy.deepcopy(release_nb)
            if edit is not None:
                nb = edit(nb)
            dest.write_text(nbformat.writes(nb))
        expected[kind] = score
    return expected
