"""The grader as a security boundary: each adversarial submission (submissions.ADVERSARIAL)
gets its exact score, status and flags, and what it attacked is untouched afterwards."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursetools import sandbox, scan, skeleton
import submissions
from conftest import MARK

ADVERSARIAL = list(submissions.ADVERSARIAL)


def outputs(course, student) -> str:
    nb = json.loads((course.root / "autograded" / student / "hw1" / "hw1.ipynb").read_text())
    return "\n".join("".join(o.get("text", "")) + o.get("evalue", "")
                     for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ADVERSARIAL)
def test_adversarial_submission_score_status_and_flags(hw1_graded, kind):
    results, expected = hw1_graded[:2]
    r = results[kind]
    why = submissions.ADVERSARIAL[kind][6]
    assert (r.score, r.max_score) == (expected[kind], 9.0), f"{kind}: {r.status} ({why})"
    assert r.status.startswith(submissions.STATUS[kind]), (kind, r.status)
    assert submissions.flag_kinds(r.flags) == submissions.FLAGS[kind], (kind, r.flags)


@pytest.mark.slow
def test_gradebook_is_written_only_by_the_grader(course, hw1_graded):
    results, expected = hw1_graded[:2]
    assert "blocked ../../../gradebook.db" in outputs(course, "writes_gradebook")
    with course.gradebook() as gb:
        book = {s.student.id: s.score for s in gb.assignment_submissions("hw1")}
    # its own grade is not raised, and a classmate graded before it is not zeroed
    assert book["writes_gradebook"] == 0 and book["correct"] == 9
    assert book == {k: float(v) for k, v in expected.items()}


@pytest.mark.slow
def test_course_files_are_invisible_and_unchanged(course, hw1_graded):
    observed = hw1_graded[3]
    assert observed["before"] == observed["after"]  # source/ and release/ byte for byte
    printed = outputs(course, "reads_parent_files")
    assert "cwd holds []" in printed
    assert "BEGIN" not in printed and "nbgrader" not in printed
    rewrote = outputs(course, "rewrites_source")
    assert "rewrote" not in rewrote and rewrote.count("blocked") == 3


@pytest.mark.slow
def test_nothing_the_submissions_started_is_left_running(hw1_graded):
    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if MARK.encode() in cmdline.read_bytes():
                left.append(cmdline.parent.name)
        except OSError:
            pass
    assert not left, f"processes of the submissions still alive: {left}"


@pytest.mark.slow
def test_process_count_is_capped(course, hw1_graded):
    started = int(re.search(r"started (\d+)", outputs(course, "many_processes")).group(1))
    assert 0 < started < 200, started  # the cap is 128 processes and threads


@pytest.mark.slow
def test_memory_cap_fails_the_allocation_inside(course, hw1_graded):
    assert "Unable to allocate 6.00 GiB" in outputs(course, "exceeds_memory")


@pytest.mark.slow
def test_no_network_and_no_host_tmp(course, hw1_graded):
    listener = hw1_graded[3]["listener"]
    assert listener.connections == 0 and listener.received == []
    assert "blocked ConnectionRefusedError" in outputs(course, "connects_to_listener") \
        or "blocked OSError" in outputs(course, "connects_to_listener")
    assert not Path("/tmp", MARK).exists()
    assert not (course.root / MARK).exists() and not (course.root.parent / MARK).exists()


@pytest.mark.slow
def test_grades_csv_carries_the_flags(course, hw1_graded, tmp_path):
    results = hw1_graded[0]
    rows = {r["student"]: r for r in csv.DictReader(
        course.export_grades("hw1", tmp_path / "g.csv", list(results.values())).open())}
    assert "imports sqlite3" in rows["writes_gradebook"]["flags"]
    assert rows["huge_notebook"]["status"].startswith("failed: notebook too large")
    assert not any("no sandbox" in r["flags"] for r in rows.values())


# -- the refusal without bubblewrap, --no-sandbox, --memory and the notebook's time limit ------
def test_grade_refuses_without_bubblewrap(tmp_path, monkeypatch, capsys):
    import grade

    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    assert grade.main(["--course", str(tmp_path / "c"), "grade", "hw1", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "apt-get install bubblewrap" in err[0] and "--no-sandbox" in err[0]
    from coursetools.pipeline import Course

    with pytest.raises(sandbox.SandboxUnavailable, match="bubblewrap"):
        Course(tmp_path / "c2", log=lambda line: None).autograde("hw1", [])


def test_sandbox_rejects_bad_limits():
    with pytest.raises(ValueError, match="memory"):
        sandbox.Sandbox(memory="lots")
    with pytest.raises(ValueError, match="at least 16 MiB"):
        sandbox.parse_size("1k", "disk")
    with pytest.raises(ValueError, match="max_processes"):
        sandbox.Sandbox(max_processes=True)
    from coursetools.pipeline import Course

    with pytest.raises(ValueError, match="notebook_timeout"):
        Course("/tmp/lec4-never", notebook_timeout=0, log=lambda line: None)


def test_python_roots_never_expose_the_course(tmp_path):
    prefix = Path(sys.prefix).resolve()
    assert str(prefix) in sandbox.python_roots() or any(
        str(prefix).startswith(r) for r in sandbox.python_roots())
    # a course directory inside the environment, or holding it, removes that root
    assert not any(Path(r) == prefix for r in sandbox.python_roots(forbidden=[prefix / "course"]))
    assert not any(Path(r) == prefix for r in sandbox.python_roots(forbidden=[prefix.parent]))


def test_sandbox_refuses_a_course_that_holds_the_environment():
    prefix = Path(sys.prefix).resolve()
    with sandbox.Sandbox(forbidden=[prefix.parent]) as box:
        with pytest.raises(sandbox.SandboxUnavailable, match="keep the course directory outside"):
            box.wrap(["true"])


def test_binds_below_tmp_come_after_the_sandboxs_own_tmp(tmp_path, monkeypatch):
    """A checkout (and its .venv) under /tmp, as CI's may be: bound after --tmpfs /tmp, or
    the tmpfs would hide the interpreter (bwrap: execvp ... No such file or directory)."""
    env = tmp_path / "checkout" / ".venv"
    env.mkdir(parents=True)
    real = sandbox.python_roots
    monkeypatch.setattr(sandbox, "python_roots", lambda forbidden=(): [str(env)] + real(forbidden))
    with sandbox.Sandbox() as box:
        argv = box.wrap(["true"])
    tmpfs = next(i for i in range(len(argv) - 1) if argv[i:i + 2] == ["--tmpfs", "/tmp"])
    binds = [i for i in range(len(argv) - 2) if argv[i] in ("--bind", "--ro-bind")
             and argv[i + 2].startswith("/tmp")]
    assert {argv[i + 1] for i in binds} >= {str(env), str(box.ipc)}
    assert all(i > tmpfs for i in binds)


def test_sandbox_sees_only_what_it_is_given(tmp_path):
    """A command in a sandbox: its own empty folder and /tmp, no course, no network."""
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "source" / "secret.txt").write_text("hidden tests")
    data = tmp_path / "data.csv"
    data.write_text("1,2\n")
    code = ("import os, socket, resource; print(sorted(os.listdir('.')));"
            f"print(os.path.exists({str(course)!r}), os.path.exists({str(tmp_path)!r}));"
            "print(resource.getrlimit(resource.RLIMIT_AS)[0]);"
            "s = socket.socket();\n"
            "try:\n    s.connect(('1.1.1.1', 80)); print('net')\nexcept OSError: print('no net')")
    with sandbox.Sandbox(memory="1GiB", files=[data], forbidden=[course]) as box:
        out = subprocess.run(box.wrap([sys.executable, "-c", code]), capture_output=True, text=True,
                             timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:4] == ["['data.csv']", "False False", str(2**30), "no net"]


def test_an_interpreter_path_through_a_hidden_folder_still_runs(tmp_path, monkeypatch):
    """``../.venv/bin/python grade.py`` run from a course folder: ``sys.executable`` goes through
    that folder, which the sandbox does not show (bwrap: execvp ...: No such file or directory)."""
    detour = tmp_path / "course"
    detour.mkdir()
    python = os.path.join(str(detour), os.path.relpath(sys.executable, detour))
    assert ".." in python.split(os.sep) and os.path.exists(python)
    monkeypatch.setattr(sys, "executable", python)
    with sandbox.Sandbox(forbidden=[detour]) as box:
        out = subprocess.run(box.wrap([sandbox.python_executable(), "-c", "print('ran')"]),
                             capture_output=True, text=True, timeout=60)
        spec = json.loads((box.kernelspec_dir() / "lec4-sandbox" / "kernel.json").read_text())
    assert out.returncode == 0 and out.stdout == "ran\n", out.stderr
    kernel_python = spec["argv"][spec["argv"].index(sandbox.KERNEL_LAUNCHER) - 2]
    assert kernel_python.endswith("python") and ".." not in kernel_python.split(os.sep)


def test_scan_flags_each_kind_of_tampering():
    flags = submissions.flag_kinds(scan.scan([
        "import numpy as xp\nxp.linalg.norm = abs",
        "import ctypes, signal, sqlite3, subprocess, socket, multiprocessing",
        "import os\nos.system('ls')\nos.fork()",
        "get_ipython().events.register('post_run_cell', print)",
        "import sys\nsys.settrace(None)",
        "import builtins\nbuiltins.len = lambda x: 0",
        "open('/etc/passwd').read()",
        "_lec4_guard = lambda: None",
    ]))
    assert flags == ["assigns to numpy attributes", "imports ctypes", "imports signal", "imports sqlite3",
                     "imports subprocess", "imports socket", "imports multiprocessing", "os.system/exec/fork",
                     "get_ipython() hooks", "setprofile/settrace", "assigns to builtins attributes",
                     "paths outside the working directory", "touches the grader's guard"]
    assert scan.scan(["import numpy as np\ndef f(w):\n    return np.exp(w) / 2"]) == []


def test_skeleton_takes_only_answer_sources_from_the_student(course):
    release = nbformat.read(course.root / "release" / "hw1" / "hw1.ipynb", as_version=4)
    upload = json.loads(nbformat.writes(submissions._edit_metadata(
        submissions.fill(release, submissions.solution_answers()))))
    upload["cells"].insert(3, {"cell_type": "code", "metadata": {}, "source": "extra = 1", "outputs": []})
    upload["metadata"]["kernelspec"] = {"name": "evil", "display_name": "x", "language": "python"}
    nb, flags = skeleton.build(upload, release)
    assert flags == ["metadata edited (graded as released)", "test cell edited (the trusted copy was graded)"]
    assert nb.metadata == release.metadata
    assert nb.cells[0].source.startswith(skeleton.PRELUDE_MARK)
    trusted = [c for c in release.cells]
    graded = [c for c in nb.cells[1:] if c.source != "extra = 1"]
    assert [c.metadata for c in graded] == [c.metadata for c in trusted]
    student = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"]) for c in upload["cells"]}
    for mine, theirs in zip(graded, trusted):
        meta = theirs.metadata.get("nbgrader", {})
        assert mine.source == (student[meta["grade_id"]] if meta.get("solution") else theirs.source)
    assert sum(theirs.metadata.get("nbgrader", {}).get("solution", False) for theirs in trusted) == 5
    # the extra cell keeps its place: after the cell it followed in the upload
    k = next(i for i, c in enumerate(nb.cells) if c.source == "extra = 1")
    assert nb.cells[k - 1].source == "".join(upload["cells"][2]["source"])


@pytest.mark.slow
def test_no_sandbox_flags_every_row_and_memory_and_time_limits_apply(course, tmp_path, capsys):
    import grade

    release = nbformat.read(course.root / "release" / "hw1" / "hw1.ipynb", as_version=4)
    answers = submissions.solution_answers()
    slow = {k: "import time, resource\nprint('AS', resource.getrlimit(resource.RLIMIT_AS)[0])\n"
               "time.sleep(6)\n" + v for k, v in answers.items()}
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "slowpoke.ipynb").write_text(nbformat.writes(submissions.fill(release, slow)))
    (folder / "quick.ipynb").write_text(nbformat.writes(submissions.fill(release, answers)))
    out_csv = tmp_path / "g.csv"
    root = str(course.root)
    # 9 s for the notebook: the first answer (6 s) and its tests run, the second answer is
    # interrupted when the time is spent, and nothing after it runs
    assert grade.main(["--course", root, "grade", "hw1", str(folder), "--csv", str(out_csv), "--timeout", "8",
                       "--notebook-timeout", "9", "--memory", "1GiB", "--no-feedback"]) == 0
    printed = capsys.readouterr().out
    rows = {r["student"]: r for r in csv.DictReader(out_csv.open())}
    assert (rows["slowpoke"]["score"], rows["quick"]["score"]) == ("3", "9")
    assert rows["slowpoke"]["flags"] == "notebook time limit reached (the cells left were not run)"
    assert f"AS {2**30}" in outputs(course, "slowpoke")
    assert "      slowpoke: needs a look: notebook time limit reached" in printed
    assert grade.main(["--course", root, "grade", "hw1", str(folder / "quick.ipynb").replace("quick.ipynb", ""),
                       "--csv", str(out_csv), "--no-sandbox", "--no-feedback"]) == 0
    printed = capsys.readouterr().out
    assert "WARNING: grading WITHOUT a sandbox" in printed
    rows = list(csv.DictReader(out_csv.open()))
    assert rows and all("no sandbox" in r["flags"].split("; ") for r in rows if r["student"] in ("quick", "slowpoke"))
