"""The homework pipeline through the real tools: authoring -> nbgrader source -> release
-> autograde (every adversarial submission kind, exact scores) -> feedback -> CSV."""

from __future__ import annotations

import copy
import csv
import html
import json
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

from coursetools import authoring
import hidden_text as course_secrets
import submissions

NAMES = ("hw1", "hw2", "hw3")


def visible_text(path: Path) -> str:
    """Text of an HTML page as a reader sees it (tags dropped, entities decoded)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", path.read_text(encoding="utf-8"), flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# -- one source ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_committed_source_notebook_is_generated_from_authoring(name):
    committed = authoring.source_path(name).read_text()
    assert committed == authoring.render(authoring.nbgrader_source(name)), (
        f"assignments/source/{name}/{name}.ipynb is stale: run `python assignments/grade.py sources`")


@pytest.mark.parametrize("name", NAMES)
def test_source_metadata_passes_nbgraders_validator(name):
    from nbgrader.nbgraderformat import MetadataValidator

    nb = authoring.nbgrader_source(name)
    MetadataValidator().validate_nb(nb)
    kinds = [c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata]
    assert sum(k["grade"] and not k["solution"] for k in kinds) >= 4, "at least four autograded parts"
    assert any(k["grade"] and k["solution"] for k in kinds), "a written answer graded by hand"


def test_authoring_rejects_bare_expressions_in_tests(tmp_path, monkeypatch):
    src = tmp_path / "hw9.py"
    src.write_text('# %% answer="a"\nx = 1\n\n# %% tests="a_tests" points=1\nx == 1\n')
    monkeypatch.setattr(authoring, "AUTHORING", tmp_path)
    with pytest.raises(ValueError, match="assert-only"):
        authoring.read_source("hw9")


def test_otter_master_has_a_question_per_test_cell():
    master = authoring.otter_master("hw1")
    raws = [c.source for c in master.cells if c.cell_type == "raw"]
    assert raws[0].startswith("# ASSIGNMENT CONFIG")
    questions = [r for r in raws if r.startswith("# BEGIN QUESTION")]
    assert len(questions) == 5  # four autograded parts + the written answer
    assert "points: [0, 3]" in questions[0] and "manual: true" in questions[-1]
    hidden = [c.source for c in master.cells if c.cell_type == "code" and c.source.startswith("# HIDDEN")]
    assert len(hidden) == 4 and all("_lec4_guard()" in h for h in hidden)


# -- release and instructor solution ----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_release_holds_no_solution_and_no_hidden_test(course, name):
    release = course.root / "release" / name / f"{name}.ipynb"
    nb = json.loads(release.read_text())
    secret = course_secrets.secret_lines(name)
    assert len(secret) > 10
    for cell in nb["cells"]:
        dumped = json.dumps(cell)  # source, outputs and metadata
        text = "".join(cell["source"]) + "\n" + json.dumps(cell.get("metadata", {}))
        for marker in course_secrets.MARKERS:
            assert marker not in dumped, f"{marker!r} in a released cell of {name}"
        leaked = [s for s in secret if s in text]
        assert not leaked, f"released {name} leaks {leaked[:3]}"
    assert not [s for s in secret if s in json.dumps(nb["metadata"])]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_instructor_solution_passes_every_test(name):
    from nbgrader.validator import Validator

    assert Validator().validate(str(authoring.source_path(name))) == {}


@pytest.mark.slow
def test_untouched_release_fails_the_validator(course):
    from nbgrader.validator import Validator

    result = Validator().validate(str(course.root / "release" / "hw1" / "hw1.ipynb"))
    assert len(result.get("failed", [])) == 5  # four test cells and the empty written answer


# -- autograde: the fixed set of submissions ---------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", list(submissions.KINDS))
def test_autograde_score_of_each_submission_kind(hw1_graded, kind):
    results, expected = hw1_graded[:2]
    r = results[kind]
    assert (r.score, r.max_score) == (expected[kind], 9.0), f"{kind}: {r.status} ({submissions.KINDS[kind][4]})"


@pytest.mark.slow
def test_failures_are_reported_not_lost(course, hw1_graded, tmp_path):
    results, expected = hw1_graded[:2]
    assert results["kernel_death"].flags == ["kernel died in a cell (restarted; that cell failed)"]
    assert results["malformed_notebook"].status.startswith("failed: unreadable notebook")
    assert results["renamed_notebook"].flags == ["renamed from hw1 (1).ipynb"]
    for kind in submissions.KINDS:
        assert results[kind].status == submissions.STATUS[kind], kind
        assert submissions.flag_kinds(results[kind].flags) == submissions.FLAGS[kind], (kind, results[kind].flags)
    with course.gradebook() as gb:
        in_book = {s.student.id for s in gb.assignment_submissions("hw1")}
    assert in_book == set(expected)
    rows = list(csv.DictReader(course.export_grades("hw1", tmp_path / "g.csv", list(results.values())).open()))
    assert {r["student"]: float(r["score"]) for r in rows} == {k: float(v) for k, v in expected.items()}
    assert {r["student"]: r["status"] for r in rows}["malformed_notebook"].startswith("failed: unreadable")
    assert "kernel died" in {r["student"]: r["flags"] for r in rows}["kernel_death"]


@pytest.mark.slow
def test_autograding_again_gives_the_same_result(course, hw1_graded):
    results, expected = hw1_graded[:2]
    again = course.autograde("hw1", ["correct", "partially_wrong", "monkeypatch_numpy", "kernel_death",
                                     "malformed_notebook"])
    assert [(r.student, r.score, r.status) for r in again] == [
        (s, results[s].score, results[s].status) for s in (r.student for r in again)]
    with course.gradebook() as gb:
        assert len(gb.assignment_submissions("hw1")) == len(expected)


@pytest.mark.slow
def test_progress_lines_name_every_submission(course, hw1_graded):
    results = hw1_graded[0]
    for student in results:
        assert any(re.match(rf"\[\d+/\d+\] {re.escape(student)}: ", line) for line in course.progress)


@pytest.mark.slow
def test_enormous_output_is_cut(course, hw1_graded):
    path = course.root / "autograded" / "enormous_output" / "hw1" / "hw1.ipynb"
    assert path.stat().st_size < 1_000_000


# -- feedback ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_feedback_shows_no_hidden_test_and_no_traceback_quoting_one(hw1_feedback):
    secret = course_secrets.secret_lines("hw1")
    solution_lines = set()
    for cell in authoring.read_source("hw1").cells:
        if "answer" in cell.metadata:
            solution_lines |= {l.strip() for l in cell.source.splitlines()}
    hidden_only = {s for s in secret if s not in solution_lines}  # students' own code may match solutions
    failed = [k for k, status in submissions.STATUS.items() if status != "graded"]
    assert len(failed) == 4
    assert len(hw1_feedback) == len(submissions.STATUS) - len(failed)  # failed uploads have none
    for path in hw1_feedback:
        text = visible_text(path)
        assert "hidden tests are not shown" in text
        for marker in ("BEGIN HIDDEN TESTS", "_lec4_guard", "_lec4_call", "_ref_sgd", "_lec4_pristine",
                       "grader prelude"):
            assert marker not in text, f"{marker!r} in {path}"
        # a traceback may only quote the student's own answer cell: the submissions of
        # KINDS raise nowhere there, the adversarial ones may (a MemoryError in an answer)
        kind = path.parts[-3]
        if kind in submissions.KINDS:
            assert "Traceback" not in text, f"'Traceback' in {path}"
        else:
            graded = json.loads((path.parents[2].parent / "autograded" / kind / "hw1" / "hw1.ipynb").read_text())
            answer_errors = sum(1 for c in graded["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
                                and any(o["output_type"] == "error" for o in c.get("outputs", [])))
            assert text.count("Traceback") == answer_errors, f"a traceback outside an answer cell in {path}"
        leaked = [s for s in hidden_only if s in text]
        assert not leaked, f"{path} leaks {leaked[:3]}"
    failed = visible_text(next(p for p in hw1_feedback if "partially_wrong" in str(p)))
    assert "grader prelude" not in failed and "_lec4_pristine" not in failed
    assert failed.count("These tests failed (AssertionError)") == 2 and failed.count("These tests passed") == 2


# -- hw2 and hw3: correct, stub and delegation; hw2 through the grading command ---------------------
def _answers_from_source(name):
    return submissions.solution_answers(name)


@pytest.mark.slow
def test_grading_command_end_to_end_on_a_zip(course, tmp_path, capsys):
    import grade

    release = nbformat.read(course.root / "release" / "hw2" / "hw2.ipynb", as_version=4)
    answers = _answers_from_source("hw2")
    delegating = dict(answers, adam_step='''
import torch
def adam_step(w, g, m, v, t, lr, beta1, beta2, eps, bias_correction=True):
    if t < 1:
        raise ValueError("t must be >= 1")
    if not bias_correction:  # torch.optim.Adam always corrects
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        return w - lr * m / (np.sqrt(v) + eps), m, v
    p = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)
    st = opt.state[p]
    st["step"] = torch.tensor(float(t - 1)); st["exp_avg"] = torch.tensor(m, dtype=torch.float64)
    st["exp_avg_sq"] = torch.tensor(v, dtype=torch.float64)
    p.grad = torch.tensor(g, dtype=torch.float64)
    opt.step()
    return p.detach().numpy().copy(), st["exp_avg"].numpy().copy(), st["exp_avg_sq"].numpy().copy()
''')
    zpath = tmp_path / "hw2-submissions.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("alice/hw2.ipynb", nbformat.writes(submissions.fill(release, answers)))
        zf.writestr("bob.ipynb", nbformat.writes(release))
        zf.writestr("carol/hw2.ipynb", nbformat.writes(submissions.fill(release, delegating)))
    out_csv = tmp_path / "hw2.csv"
    assert grade.main(["--course", str(course.root), "grade", "hw2", str(zpath), "--csv", str(out_csv),
                       "--timeout", "20", "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"\[3/3\] carol: 7/10 graded", printed), printed
    rows = {r["student"]: r for r in csv.DictReader(out_csv.open())}
    # 10 autograded points: momentum 2, nesterov 3, rmsprop 2, adam 3
    assert {s: float(r["score"]) for s, r in rows.items()} == {"alice": 10.0, "bob": 0.0, "carol": 7.0}
    assert all(r["max_score"] == "10" for r in rows.values())
    assert (course.root / "feedback" / "alice" / "hw2" / "hw2.html").exists()


@pytest.mark.slow
def test_hw3_correct_stub_and_lars_that_adapts_biases(course, tmp_path):
    release = nbformat.read(course.root / "release" / "hw3" / "hw3.ipynb", as_version=4)
    answers = _answers_from_source("hw3")
    wrong_bias = dict(answers, lars_step='''
def lars_step(params, grads, lr, eta, weight_decay):
    out = {}
    for k, w in params.items():
        d = grads[k] + weight_decay * w
        ratio = eta * np.linalg.norm(w) / np.linalg.norm(d) if np.linalg.norm(w) > 0 else 1.0
        out[k] = w - lr * ratio * d
    return out
''')
    folder = tmp_path / "hw3"
    folder.mkdir()
    for student, nb in (("dan", submissions.fill(release, answers)), ("erin", release),
                        ("finn", submissions.fill(release, wrong_bias))):
        (folder / f"{student}.ipynb").write_text(nbformat.writes(nb))
    students = course.collect("hw3", folder)
    scores = {r.student: r.score for r in course.autograde("hw3", students)}
    # 9 autograded points: trust ratios 3, LARS 3, scaled lr 2, warm-up 1 (written answer by hand)
    assert scores == {"dan": 9.0, "erin": 0.0, "finn": 6.0}


def test_collect_rejects_bad_input(tmp_path):
    from coursetools.pipeline import Course

    c = Course(tmp_path / "c", log=lambda line: None)
    with pytest.raises(ValueError, match="assignment"):
        c.collect("hw7", tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        c.collect("hw1", tmp_path / "nope")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ValueError, match="folder or a .zip"):
        c.collect("hw1", tmp_path / "x.txt")
    with pytest.raises(ValueError, match="timeout"):
        Course(tmp_path / "c", timeout=0)


def test_course_creates_its_gradebook_without_changing_path(tmp_path, monkeypatch):
    import os
    import sqlite3
    import sys

    from coursetools.pipeline import Course

    bindir = str(Path(sys.executable).parent)
    # the environment not activated: its scripts (alembic among them) are not on PATH
    bare = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != bindir)
    monkeypatch.setenv("PATH", bare)
    Course(tmp_path / "c", log=lambda line: None)
    assert os.environ["PATH"] == bare
    db = sqlite3.connect(tmp_path / "c" / "gradebook.db")
    try:
        (version,), = db.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        db.close()
    assert re.fullmatch(r"[0-9a-f]{6,}", version)
    # an existing gradebook is opened as it is
    Course(tmp_path / "c", log=lambda line: None)
    assert os.environ["PATH"] == bare
