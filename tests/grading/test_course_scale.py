"""Grading a real course: every upload layout a course site produces (one fixture each,
with the exact set of students collected), rosters, submission times and lateness,
parallel grading identical to serial, a run killed half-way and resumed, the exports a
course site imports, and one clear line for each kind of bad input."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

import submissions
from conftest import ROOT


@pytest.fixture(scope="module")
def scale(tmp_path_factory):
    """A course of this module's own (the session's course holds the fixed submission set,
    whose gradebook other tests check student by student)."""
    from coursetools.pipeline import Course

    c = Course(tmp_path_factory.mktemp("scale-course"), timeout=5, log=lambda line: None)
    for name in ("hw1", "hw2"):
        c.release(name)
    return c


@pytest.fixture(scope="module")
def notebooks(scale):
    """Texts of a correct, a partially wrong and an untouched hw1, and a correct hw2."""
    rel1 = nbformat.read(scale.root / "release" / "hw1" / "hw1.ipynb", as_version=4)
    rel2 = nbformat.read(scale.root / "release" / "hw2" / "hw2.ipynb", as_version=4)
    wrong = dict(submissions.solution_answers(), step_size=submissions.KINDS["partially_wrong"][0]["step_size"])
    return {"correct": nbformat.writes(submissions.fill(rel1, submissions.solution_answers())),
            "wrong": nbformat.writes(submissions.fill(rel1, wrong)),
            "stub": nbformat.writes(rel1),
            "hw2": nbformat.writes(submissions.fill(rel2, submissions.solution_answers("hw2")))}


def _zip(path: Path, members: dict, times: dict | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(times or {}).get(name, (2026, 3, 1, 12, 0, 0)))
            zf.writestr(info, text)
    return path


def _collect(scale, upload, **kw):
    lines = []
    log, scale.log = scale.log, lines.append
    try:
        students = scale.collect("hw1", upload, **kw)
    finally:
        scale.log = log
    return students, lines, scale.manifest("hw1")


# -- 1. every layout ----------------------------------------------------------------------------
def test_zip_with_one_wrapper_folder_collects_every_student(scale, tmp_path, notebooks):
    up = _zip(tmp_path / "d.zip", {"downloads/alice/hw1.ipynb": notebooks["correct"],
                                   "downloads/bob/hw1.ipynb": notebooks["stub"],
                                   "downloads/carol/hw1.ipynb": notebooks["wrong"]})
    students, lines, _ = _collect(scale, up)
    assert students == ["alice", "bob", "carol"]
    assert "collect: detected a plain upload (3 notebooks)" in lines


@pytest.mark.parametrize("layout, expected", [
    ({"alice.ipynb": "c", "bob.ipynb": "s"}, ["alice", "bob"]),
    ({"w/alice.ipynb": "c", "w/bob.ipynb": "s"}, ["alice", "bob"]),
    ({"alice/hw1.ipynb": "c"}, ["alice"]),
    ({"term/sec1/alice/hw1.ipynb": "c", "term/sec1/bob/hw1.ipynb": "s",
      "term/sec2/carol/work/hw1.ipynb": "w", "term/sec2/dan/hw1.ipynb": "c"}, ["alice", "bob", "carol", "dan"]),
])
def test_plain_layouts_at_any_depth(scale, tmp_path, notebooks, layout, expected):
    text = {"c": notebooks["correct"], "s": notebooks["stub"], "w": notebooks["wrong"]}
    folder = tmp_path / "up"
    for name, kind in layout.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text[kind])
    assert _collect(scale, folder)[0] == expected
    assert _collect(scale, _zip(tmp_path / "up.zip", {k: text[v] for k, v in layout.items()}))[0] == expected


def test_canvas_download_with_roster_and_late_marker(scale, tmp_path, notebooks):
    up = _zip(tmp_path / "canvas.zip", {
        "smithjane_1001_5001_hw1.ipynb": notebooks["correct"],
        "doejohn_late_1002_5002_hw1-1.ipynb": notebooks["wrong"],
        "roefinn_1009_5009_hw1.ipynb": notebooks["stub"]},
        times={"doejohn_late_1002_5002_hw1-1.ipynb": (2026, 3, 3, 9, 30, 0)})
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,canvas_id,email\njsmith,Jane Smith,1001,js@u.edu\n"
                      "jdoe,John Doe,1002,jd@u.edu\nkmiss,Kim Miss,1003,km@u.edu\n")
    students, lines, manifest = _collect(scale, up, roster=roster)
    assert students == ["jdoe", "jsmith", "roefinn"]
    assert "collect: detected a canvas upload (3 notebooks)" in lines
    assert manifest["missing"] == ["kmiss"]
    rec = {r["student"]: r for r in manifest["records"]}
    assert rec["jdoe"]["late_marker"] and "late (Canvas)" in rec["jdoe"]["flags"]
    assert "renamed from hw1-1.ipynb" in rec["jdoe"]["flags"]
    assert rec["roefinn"]["flags"] == ["not on the roster"]
    assert rec["jdoe"]["site_ids"] == {"canvas_id": "1002", "canvas_submission": "5002"}
    stamp = (scale.root / "submitted" / "jdoe" / "hw1" / "timestamp.txt").read_text()
    assert stamp == "2026-03-03 09:30:00.000000 UTC"  # the zip entry's time


def test_moodle_download(scale, tmp_path, notebooks):
    up = _zip(tmp_path / "moodle.zip", {
        "hw1-Assignment 1-12345/Jane Smith_991_assignsubmission_file_/hw1.ipynb": notebooks["correct"],
        "hw1-Assignment 1-12345/Zoë Ünal_992_assignsubmission_file_/my homework.ipynb": notebooks["stub"]})
    students, lines, manifest = _collect(scale, up)
    assert students == ["Jane_Smith", "Zoe_Unal"]
    assert "collect: detected a moodle upload (2 notebooks)" in lines
    assert {r["site_name"] for r in manifest["records"]} == {"Jane Smith_991_assignsubmission_file_",
                                                              "Zoë Ünal_992_assignsubmission_file_"}


def test_gradescope_export_with_metadata_times(scale, tmp_path, notebooks):
    meta = """
submission_111:
  :submitters:
  - :name: Jane Smith
    :sid: 'js01'
    :email: js@u.edu
  :created_at: 2026-03-01 10:00:00.123456789 -0800
  :score: 0.0
submission_222:
  :submitters:
  - :name: John Doe
    :sid: 'jd02'
    :email: jd@u.edu
  :created_at: 2026-03-02 08:00:00.000000000 +0000
"""
    up = _zip(tmp_path / "gs.zip", {"assignment_1_export/submission_metadata.yml": meta,
                                    "assignment_1_export/submission_111/hw1.ipynb": notebooks["correct"],
                                    "assignment_1_export/submission_222/hw1.ipynb": notebooks["stub"]})
    students, lines, manifest = _collect(scale, up)
    assert students == ["jd02", "js01"]
    assert "collect: detected a gradescope upload (2 notebooks)" in lines
    stamp = (scale.root / "submitted" / "js01" / "hw1" / "timestamp.txt").read_text()
    assert stamp == "2026-03-01 18:00:00.123456 UTC"
    assert {r["time_source"] for r in manifest["records"]} == {"course site"}


def test_timestamps_file_gives_the_submission_times(scale, tmp_path, notebooks):
    up = _zip(tmp_path / "t.zip", {"alice/hw1.ipynb": notebooks["correct"], "bob/hw1.ipynb": notebooks["stub"]})
    stamps = tmp_path / "times.csv"
    stamps.write_text("student,submitted_at\nalice,2026-03-04 05:06:07\nbob,2026-03-01T10:00:00-05:00\n")
    _, _, manifest = _collect(scale, up, timestamps=stamps)
    read = lambda s: (scale.root / "submitted" / s / "hw1" / "timestamp.txt").read_text()  # noqa: E731
    assert (read("alice"), read("bob")) == ("2026-03-04 05:06:07.000000 UTC", "2026-03-01 15:00:00.000000 UTC")
    assert {r["time_source"] for r in manifest["records"]} == {"timestamps file"}
    bad = tmp_path / "bad.csv"
    bad.write_text("student,submitted_at\nalice,yesterday\n")
    with pytest.raises(ValueError, match="'yesterday' is not a time"):
        scale.collect("hw1", up, timestamps=bad)


def test_duplicates_keep_the_newest_and_lose_nothing(scale, tmp_path, notebooks):
    folder = tmp_path / "dups"
    for rel, text, when in (("alice/hw1.ipynb", notebooks["stub"], 1_700_000_000),
                            ("alice/final/hw1 (2).ipynb", notebooks["correct"], 1_700_000_500),
                            ("bob.ipynb", notebooks["wrong"], 1_700_000_000)):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
        os.utime(folder / rel, (when, when))
    students, _, manifest = _collect(scale, folder)
    assert students == ["alice", "bob"]
    assert (scale.root / "submitted" / "alice" / "hw1" / "hw1.ipynb").read_text() == notebooks["correct"]
    rec = [r for r in manifest["records"] if r["student"] == "alice"]
    assert [r["graded"] for r in rec] == [True, False]
    assert any(f.startswith("duplicate: kept the newest of 2") for f in rec[0]["flags"])
    assert rec[1]["status"] == "not graded: a newer submission was (alice/final/hw1 (2).ipynb)"


# -- bad input: one clear line each, the rest goes on -------------------------------------------------
def test_unsafe_zip_members_are_refused_and_the_rest_collected(scale, tmp_path, notebooks):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("alice/hw1.ipynb", notebooks["correct"])
        zf.writestr("../../escape.ipynb", notebooks["correct"])
        zf.writestr("/abs/bob.ipynb", notebooks["correct"])
        link = zipfile.ZipInfo("carol/hw1.ipynb")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    students, lines, _ = _collect(scale, path)
    assert students == ["alice"]
    assert "collect: evil.zip: ../../escape.ipynb: a path outside the zip, skipped" in lines
    assert "collect: evil.zip: /abs/bob.ipynb: a path outside the zip, skipped" in lines
    assert "collect: evil.zip: carol/hw1.ipynb: a symbolic link, skipped" in lines
    assert not (tmp_path.parent / "escape.ipynb").exists()


def test_mixed_formats_are_reported_and_all_read(scale, tmp_path, notebooks):
    up = _zip(tmp_path / "mixed.zip", {"smithjane_1001_5001_hw1.ipynb": notebooks["correct"],
                                       "Jane Smith_991_assignsubmission_file_/hw1.ipynb": notebooks["stub"]})
    students, lines, manifest = _collect(scale, up)
    assert students == ["Jane_Smith", "smithjane"]
    assert "collect: formats mixed in one upload: canvas (1), moodle (1); each notebook is read by its own layout" in lines
    assert manifest["problems"] == ["formats mixed in one upload: canvas (1), moodle (1); each notebook is read by its own layout"]


def test_grade_reports_each_bad_input_in_one_line(scale, tmp_path, notebooks, capsys):
    import grade

    root = str(scale.root)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    assert grade.main(["--course", root, "grade", "hw1", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"grade: bad.zip: not a readable zip file (File is not a zip file)"]

    ok = _zip(tmp_path / "ok.zip", {"alice/hw1.ipynb": notebooks["correct"], "erin/hw1.ipynb": notebooks["hw2"]})
    roster = tmp_path / "r.csv"
    roster.write_text("id,name\nalice,Alice\n")
    out_csv = tmp_path / "g.csv"
    assert grade.main(["--course", root, "grade", "hw1", str(ok), "--roster", str(roster), "--due", "next tuesday",
                       "--csv", str(out_csv), "--no-feedback", "--no-progress", "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "grade: roster r.csv: no 'student_id' column (columns: id, name); grading without a roster" in err
    assert ("grade: due date 'next tuesday' cannot be parsed: use e.g. '2026-03-01 23:59' or "
            "'2026-03-01T23:59:00+01:00' (UTC unless an offset is given); grading without a due date") in err
    rows = {r["student"]: r for r in csv.DictReader(out_csv.open())}
    assert rows["alice"]["score"] == "9" and rows["alice"]["status"] == "graded"
    assert rows["erin"]["status"] == "failed: a notebook for hw2, not hw1" and rows["erin"]["score"] == "0"


# -- 2, 5, 6: a course-site round trip: roster, due date, penalties, export, feedback zip, summary ------
@pytest.mark.slow
def test_canvas_round_trip_with_lateness_export_and_feedback(scale, tmp_path, notebooks, capsys):
    import grade

    up = _zip(tmp_path / "canvas.zip", {
        "smithjane_1001_5001_hw1.ipynb": notebooks["correct"],
        "doejohn_late_1002_5002_hw1.ipynb": notebooks["correct"],
        "leeann_1004_5004_hw1.ipynb": notebooks["wrong"]},
        times={"smithjane_1001_5001_hw1.ipynb": (2026, 3, 1, 20, 0, 0),
               "doejohn_late_1002_5002_hw1.ipynb": (2026, 3, 2, 1, 30, 0),
               "leeann_1004_5004_hw1.ipynb": (2026, 3, 1, 23, 0, 0)})
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,canvas_id,sis_login_id,section\njsmith,Jane Smith,1001,jsmith,A\n"
                      "jdoe,John Doe,1002,jdoe,B\nalee,Ann Lee,1004,alee,A\nkmiss,Kim Miss,1003,kmiss,B\n")
    root = scale.root.parent / "canvas-course"
    out_csv = tmp_path / "g.csv"
    assert grade.main(["--course", str(root), "grade", "hw1", str(up), "--roster", str(roster),
                       "--due", "2026-03-01 23:59", "--late-penalty", "zero", "--csv", str(out_csv),
                       "--jobs", "2", "--no-progress"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "grade:" not in captured.err, captured.err
    rows = {r["student"]: r for r in csv.DictReader(out_csv.open())}
    assert set(rows) == {"jsmith", "jdoe", "alee", "kmiss"}
    assert (rows["jsmith"]["score"], rows["jsmith"]["penalty"], rows["jsmith"]["final"], rows["jsmith"]["late_by"]) \
        == ("9", "0", "9", "")
    assert (rows["jdoe"]["score"], rows["jdoe"]["penalty"], rows["jdoe"]["final"], rows["jdoe"]["late_by"]) \
        == ("9", "9", "0", "1:31:00")
    assert rows["jdoe"]["submitted_at"] == "2026-03-02T01:30:00+00:00"
    assert (rows["alee"]["score"], rows["alee"]["final"]) == ("5", "5")
    assert (rows["kmiss"]["status"], rows["kmiss"]["score"]) == ("missing", "0")
    assert "  missing        1\n      kmiss: on the roster, no submission" in printed
    assert "      jdoe: late by 1:31:00, penalty 9" in printed

    out = tmp_path / "canvas.csv"
    assert grade.main(["--course", str(root), "export", "hw1", "--site", "canvas", "--out", str(out),
                       "--column", "Homework 1 (777)", "--feedback-zip", str(tmp_path / "fb.zip")]) == 0
    lines = list(csv.reader(out.open()))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1 (777)"]
    assert lines[1] == ["Points Possible", "", "", "", "", "9"]
    assert sorted(lines[2:]) == sorted([["Jane Smith", "1001", "jsmith", "jsmith", "A", "9"],
                                        ["John Doe", "1002", "jdoe", "jdoe", "B", "0"],
                                        ["Ann Lee", "1004", "alee", "alee", "A", "5"],
                                        ["Kim Miss", "1003", "kmiss", "kmiss", "B", "0"]])
    with zipfile.ZipFile(tmp_path / "fb.zip") as zf:
        assert sorted(zf.namelist()) == ["doejohn_late_1002_5002_hw1-feedback.html",
                                         "leeann_1004_5004_hw1-feedback.html", "smithjane_1001_5001_hw1-feedback.html"]
    for site, header in (("gradescope", ["Name", "SID", "Email", "hw1"]),
                         ("moodle", ["Full name", "Email address", "ID number", "hw1"])):
        assert grade.main(["--course", str(root), "export", "hw1", "--site", site, "--out", str(out)]) == 0
        assert next(csv.reader(out.open())) == header


# -- 3. parallel grading is identical to serial ----------------------------------------------------------
MIXED = ["correct", "partially_wrong", "raises", "kernel_death", "edits_metadata", "malformed_notebook",
         "exception_hook", "monkeypatch_numpy"]


@pytest.mark.slow
def test_jobs_2_gives_exactly_what_jobs_1_gives(scale, hw1_graded, tmp_path):
    from coursetools.pipeline import Course
    from test_pipeline import visible_text

    folder = hw1_graded[2]
    picked = tmp_path / "mixed"
    picked.mkdir()
    for kind in MIXED:
        shutil.copytree(folder / kind, picked / kind)
    out = {}
    for jobs in (1, 2):
        c = Course(tmp_path / f"jobs{jobs}", timeout=5, log=lambda line: None)
        c.release("hw1")
        results = c.autograde("hw1", c.collect("hw1", picked), jobs=jobs)
        fb = {p.parts[-3]: visible_text(p) for p in c.feedback("hw1", [r.student for r in results
                                                                      if r.status == "graded"])}
        out[jobs] = ([(r.student, r.score, r.max_score, r.status, r.flags) for r in results], fb)
    assert out[1][0] == out[2][0]
    assert {r[0]: r[1] for r in out[1][0]} == {k: float(hw1_graded[1][k]) for k in MIXED}
    assert out[1][1].keys() == out[2][1].keys() and len(out[1][1]) == len(MIXED) - 1
    for student in out[1][1]:
        assert out[1][1][student] == out[2][1][student], student


# -- 4. a run killed half-way loses nothing and is resumed --------------------------------------------------
@pytest.mark.slow
def test_a_killed_run_is_resumed_without_grading_anything_twice(scale, tmp_path, notebooks):
    up = tmp_path / "subs"
    up.mkdir()
    names = [f"s{k}" for k in range(6)]
    for k, name in enumerate(names):
        (up / f"{name}.ipynb").write_text(notebooks["correct"] if k % 2 == 0 else notebooks["wrong"])
    root = tmp_path / "course"
    cmd = [sys.executable, str(ROOT / "assignments" / "grade.py"), "--course", str(root), "grade", "hw1", str(up),
           "--jobs", "1", "--no-feedback", "--no-progress", "--timeout", "20"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    seen = []
    for line in proc.stdout:
        if re.match(r"\[\d+/6\] ", line):
            seen.append(line)
            if len(seen) == 3:
                os.killpg(proc.pid, signal.SIGKILL)  # a crash: no clean-up at all
                break
    proc.wait(timeout=60)
    assert len(seen) == 3
    state = json.loads((root / "grading-state" / "hw1.json").read_text())
    assert len(state) == 3
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "autograde: 3 unchanged since they were graded, kept" in again.stdout
    graded_again = re.findall(r"\[\d+/6\] (s\d): ", again.stdout)
    assert len(graded_again) == 3 and not set(graded_again) & {re.match(r"\[\d+/6\] (s\d)", l).group(1) for l in seen}
    rows = {r["student"]: r["score"] for r in csv.DictReader((root / "grades-hw1.csv").open())}
    assert rows == {n: ("9" if k % 2 == 0 else "5") for k, n in enumerate(names)}
    # --regrade grades exactly the students named
    again = subprocess.run(cmd + ["--regrade", "s1"], capture_output=True, text=True, timeout=600)
    assert re.findall(r"\[\d+/6\] (s\d): ", again.stdout) == ["s1"]
