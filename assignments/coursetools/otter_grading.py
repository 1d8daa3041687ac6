"""otter-grader 7 from the same authoring source, without Docker.

``otter assign`` turns the generated master (:func:`coursetools.authoring.otter_master`)
into a student notebook (``grader.check`` with the visible tests only) and an
autograder zip (every test: never hand it out). ``otter run`` grades one submission
without Docker. Otter applies no cell timeout, so an infinite loop would hang it and
one hanging question zeroes the whole submission: :func:`grade` runs ``otter run`` in a
subprocess with a wall-clock limit and records a submission that exceeds it (or kills
its kernel) as ``failed`` with score 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import authoring


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _otter() -> list[str]:
    return [sys.executable, "-m", "otter"]


def assign(name: str, folder) -> dict:
    """Write the master for ``name`` into ``folder`` and run ``otter assign`` on it.

    ``otter assign`` runs the tests against the solution and exits non-zero when one
    fails; that raises ``RuntimeError`` here. Returns the paths ``master``,
    ``student`` (the student notebook) and ``autograder`` (the zip).
    """
    folder = Path(folder)
    master = authoring.write_otter_master(name, folder / "master")
    dist = folder / "dist"
    proc = subprocess.run(_otter() + ["assign", str(master), str(dist)], cwd=folder, env=_env(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"otter assign {name} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    zips = sorted((dist / "autograder").glob(f"{name}-autograder_*.zip"))
    return {"master": master, "student": dist / "student" / f"{name}.ipynb",
            "autograder": zips[-1], "log": proc.stdout + proc.stderr}


def grade(autograder_zip, submission, *, timeout: float = 120.0) -> tuple[float, str]:
    """Grade one submission with ``otter run`` under a wall-clock limit.

    Returns ``(score, status)``: the sum of the test scores and ``"graded"``, or
    ``(0.0, "failed: ...")`` when the run exceeds ``timeout`` seconds or produces no
    results (kernel death, unreadable notebook).
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    submission = Path(submission)
    with tempfile.TemporaryDirectory(prefix="lec4-otter-") as tmp:
        tmp = Path(tmp)
        name = Path(autograder_zip).name.split("-autograder_")[0]
        copy = tmp / f"{name}.ipynb"
        try:
            nb = json.loads(submission.read_text(encoding="utf-8"))
            nb.setdefault("metadata", {}).setdefault("otter", {}).setdefault("assignment_name", name)
            copy.write_text(json.dumps(nb))
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            return 0.0, f"failed: unreadable notebook ({type(exc).__name__})"
        out = tmp / "out"
        out.mkdir()
        try:
            subprocess.run(_otter() + ["run", "-a", str(Path(autograder_zip).resolve()), "-o", str(out),
                                       str(copy)], cwd=tmp, env=_env(), capture_output=True,
                           text=True, timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            return 0.0, f"failed: timeout after {timeout:g} s"
        results = out / "results.json"
        if not results.exists():
            return 0.0, "failed: no results (kernel died or notebook could not run)"
        tests = json.loads(results.read_text())["tests"]
        return float(sum(t.get("score", 0.0) or 0.0 for t in tests)), "graded"
