"""otter-grader 7 from the same source: `otter assign` passes its own check, grading
without Docker matches nbgrader's scores, the timeout guard, `grader.check` for students."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from coursetools import otter_grading
import submissions

OTTER_TIMEOUT = 90.0  # wall-clock seconds per submission (otter has no cell timeout)


@pytest.fixture(scope="session")
def otter_dists(tmp_path_factory):
    return {name: otter_grading.assign(name, tmp_path_factory.mktemp(f"otter-{name}"))
            for name in ("hw1", "hw2", "hw3")}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hw1", "hw2", "hw3"])
def test_otter_assign_passes_its_own_solution_check(otter_dists, name):
    dist = otter_dists[name]  # assign() raises when `otter assign` exits non-zero
    assert dist["autograder"].exists() and dist["student"].exists()
    student = json.loads(dist["student"].read_text())
    text = json.dumps(student)
    assert "BEGIN SOLUTION" not in text and "_lec4_guard" not in text and "HIDDEN" not in text
    assert not (dist["student"].parent / "tests").exists(), "a tests/ folder breaks grader.check (otter #931)"


@pytest.mark.slow
def test_otter_scores_match_nbgrader_on_submissions_that_finish(otter_dists, hw1_graded):
    results, expected, folder = hw1_graded[:3]
    zip_path = otter_dists["hw1"]["autograder"]
    kinds = [k for k in submissions.KINDS if k not in ("infinite_loop", "kernel_death", "malformed_notebook")]
    with ThreadPoolExecutor(max_workers=2) as pool:  # each grade is its own `otter run` process
        graded = dict(zip(kinds, pool.map(
            lambda k: otter_grading.grade(zip_path, folder / k / submissions.KINDS[k][2], timeout=OTTER_TIMEOUT),
            kinds)))
    assert {k: graded[k] for k in kinds} == {k: (results[k].score, "graded") for k in kinds}
    assert len(kinds) == len(submissions.KINDS) - 3


@pytest.mark.slow
def test_otter_guard_stops_an_infinite_loop_and_a_dead_kernel(otter_dists, hw1_graded):
    folder = hw1_graded[2]
    zip_path = otter_dists["hw1"]["autograder"]
    assert otter_grading.grade(zip_path, folder / "infinite_loop" / "hw1.ipynb", timeout=45) == (
        0.0, "failed: timeout after 45 s")
    score, status = otter_grading.grade(zip_path, folder / "kernel_death" / "hw1.ipynb", timeout=OTTER_TIMEOUT)
    assert score == 0.0 and status.startswith("failed:")
    assert otter_grading.grade(zip_path, folder / "malformed_notebook" / "hw1.ipynb")[1].startswith(
        "failed: unreadable")


@pytest.mark.slow
def test_otter_runs_in_the_sandbox_with_the_prelude(otter_dists, hw1_graded):
    """otter's runs are sandboxed too: impostor comparisons are caught by the guard's
    identity checks, a sleeper does not outlive the run, a 6 GiB allocation fails inside."""
    from conftest import MARK

    results, _, folder = hw1_graded[:3]
    zip_path = otter_dists["hw1"]["autograder"]
    kinds = ["impostor_isclose", "leaves_process", "exceeds_memory", "writes_tmp"]
    graded = {k: otter_grading.grade(zip_path, folder / k / "hw1.ipynb", timeout=OTTER_TIMEOUT) for k in kinds}
    assert graded == {k: (results[k].score, "graded") for k in kinds}
    assert [results[k].score for k in kinds] == [0.0, 9.0, 6.0, 9.0]
    alive = [p for p in __import__("pathlib").Path("/proc").glob("[0-9]*/cmdline")
             if p.exists() and MARK.encode() in p.read_bytes()]
    assert not alive
    assert not __import__("pathlib").Path("/tmp", MARK).exists()


@pytest.mark.slow
def test_grader_check_works_in_the_released_student_notebook(otter_dists):
    from nbclient import NotebookClient

    path = otter_dists["hw1"]["student"]
    nb = nbformat.read(path, as_version=4)
    answers = list(submissions.solution_answers("hw1").values())
    answer_cells = [c for c in nb.cells
                    if c.cell_type == "code" and "otter_answer_cell" in c.metadata.get("tags", [])]
    assert len(answer_cells) == len(answers)
    for cell, code in zip(answer_cells, answers):
        cell.source = code
    # the last answer is left as handed out: its check must run and report a failure
    answer_cells[-1].source = "def sgd(*args, **kwargs):\n    ...\n"
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    checks = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("grader.check("):
            out = "".join(o.get("text", "") + json.dumps(o.get("data", {})) for o in cell.outputs)
            checks[cell.source.split('"')[1]] = out
    assert set(checks) == {"loss_and_grad_tests", "minibatches_tests", "step_size_tests", "sgd_tests"}
    for q in ("loss_and_grad_tests", "minibatches_tests", "step_size_tests"):
        assert "passed" in checks[q] and "failed" not in checks[q].lower(), checks[q]
    assert "failed" in checks["sgd_tests"].lower()


def test_otter_grade_rejects_a_bad_timeout(tmp_path):
    with pytest.raises(ValueError, match="timeout"):
        otter_grading.grade(tmp_path / "a.zip", tmp_path / "b.ipynb", timeout=0)
