"""Session fixtures for the grading tests: one temp course, one release per assignment,
one autograde of the fixed hw1 submission set, one otter assign per assignment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "assignments"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TIMEOUT = 5  # per-cell seconds while autograding (the infinite-loop submission costs two)


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    from coursetools.pipeline import Course

    lines = []
    c = Course(tmp_path_factory.mktemp("course"), timeout=TIMEOUT, log=lines.append)
    c.progress = lines
    for name in ("hw1", "hw2", "hw3"):
        c.release(name)
    return c


@pytest.fixture(scope="session")
def hw1_graded(course, tmp_path_factory):
    """Autograde every kind of submission once; returns (results by student, expected)."""
    import submissions

    folder = tmp_path_factory.mktemp("hw1-submissions")
    expected = submissions.write_submissions(course.root / "release" / "hw1" / "hw1.ipynb", folder)
    students = course.collect("hw1", folder)
    results = {r.student: r for r in course.autograde("hw1", students)}
    return results, expected, folder


@pytest.fixture(scope="session")
def hw1_feedback(course, hw1_graded):
    results, _, _ = hw1_graded
    return course.feedback("hw1", sorted(results))
