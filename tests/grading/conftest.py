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
NOTEBOOK_TIMEOUT = 90  # wall-clock seconds per notebook: far above any kind's needs
MARK = "4242.4242"  # argument of the sleepers the adversarial kinds start (found in /proc)


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    from coursetools.pipeline import Course

    lines = []
    c = Course(tmp_path_factory.mktemp("course"), timeout=TIMEOUT, notebook_timeout=NOTEBOOK_TIMEOUT,
               log=lines.append)
    c.progress = lines
    for name in ("hw1", "hw2", "hw3"):
        c.release(name)
    return c


class Listener:
    """A TCP listener on 127.0.0.1 that records whatever reaches it (a submission tries)."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(1)
            try:
                self.received.append(conn.recv(1000))
            except OSError:
                pass
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _digest(folder: Path) -> dict:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def hw1_graded(course, tmp_path_factory):
    """Autograde every kind of submission (the adversarial ones too) once; returns
    (results by student, expected scores, folder, what was observed around the run)."""
    import submissions

    folder = tmp_path_factory.mktemp("hw1-submissions")
    listener = Listener()
    expected = submissions.write_submissions(course.root / "release" / "hw1" / "hw1.ipynb", folder,
                                             adversarial=True, course=course.root, port=listener.port,
                                             mark=MARK)
    before = {d: _digest(course.root / d / "hw1") for d in ("source", "release")}
    students = course.collect("hw1", folder)
    try:
        results = {r.student: r for r in course.autograde("hw1", students)}
    finally:
        listener.close()
    observed = {"listener": listener, "before": before,
                "after": {d: _digest(course.root / d / "hw1") for d in ("source", "release")}}
    return results, expected, folder, observed


@pytest.fixture(scope="session")
def hw1_feedback(course, hw1_graded):
    results = hw1_graded[0]
    return course.feedback("hw1", sorted(results))
