"""otter-grader 7 from the same authoring source, without Docker.

``otter assign`` turns the generated master (:func:`coursetools.authoring.otter_master`)
into a student notebook (``grader.check`` with the visible tests only) and an
autograder zip (every test: never hand it out). ``otter run`` grades one submission
without Docker. Otter applies no cell timeout, so an infinite loop would hang it and
one hanging question zeroes the whole submission: :func:`grade` runs ``otter run`` in a
subprocess with a wall-clock limit and records a submission that exceeds it (or kills
its kernel) as ``failed`` with score 0.

By default that subprocess runs in a sandbox of its own (:mod:`coursetools.sandbox`): the
submission sees only its notebook and the autograder zip, no network, no course files, and
nothing it starts outlives the run. The grader's prelude is put first in the notebook, so
the hidden tests' guard compares against pristine references. Otter computes the score
*inside* the student's kernel (its design: the tests run in the notebook's process), so a
determined student can still forge otter's results file; the sandbox keeps that from
touching anything else, and the nbgrader path, whose scores the grader computes, is the
one to trust.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from . import authoring, sandbox as sandboxing, skeleton


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = str(Path(sandboxing.python_executable()).parent) + os.pathsep + env.get("PATH", "")
    return env


def _otter() -> list[str]:
    return [sandboxing.python_executable(), "-m", "otter"]


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


def grade(autograder_zip, submission, *, timeout: float = 120.0, sandbox: bool = True,
          memory: str = "2GiB") -> tuple[float, str]:
    """Grade one submission with ``otter run`` under a wall-clock limit, in a sandbox
    (``sandbox=False`` runs it without isolation).

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
            nb = skeleton.load(submission)
            nb.setdefault("metadata", {}).setdefault("otter", {}).setdefault("assignment_name", name)
            nb["cells"].insert(0, dict(skeleton.prelude_cell(), id="lec4-prelude"))
            copy.write_text(json.dumps(nb))
        except (skeleton.Unreadable, AttributeError, TypeError) as exc:
            reason = str(exc) if isinstance(exc, skeleton.Unreadable) else f"unreadable notebook ({type(exc).__name__})"
            return 0.0, f"failed: {reason}"
        out = tmp / "out"
        out.mkdir()
        zip_path = Path(autograder_zip).resolve()
        box = None
        if sandbox:
            sandboxing.check()
            box = sandboxing.Sandbox(memory=memory, files=[copy, zip_path], outputs=[out])
            here = Path(sandboxing.WORKDIR)
            argv = box.wrap(_otter() + ["run", "-a", str(here / zip_path.name), "-o", str(here / "out"),
                                        str(here / copy.name)])
        else:
            argv = _otter() + ["run", "-a", str(zip_path), "-o", str(out), str(copy)]
        try:
            subprocess.run(argv, cwd=tmp, env=_env(), capture_output=True,
                           text=True, timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            return 0.0, f"failed: timeout after {timeout:g} s"
        finally:
            if box is not None:
                box.close()
        results = out / "results.json"
        if not results.exists():
            return 0.0, "failed: no results (kernel died or notebook could not run)"
        tests = json.loads(results.read_text())["tests"]
        return float(sum(t.get("score", 0.0) or 0.0 for t in tests)), "graded"
