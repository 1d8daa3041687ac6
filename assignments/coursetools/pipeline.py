"""The instructor's grading pipeline, on nbgrader 0.9's in-process API.

``Course(root)`` is an nbgrader course directory (``source/``, ``release/``,
``submitted/``, ``autograded/``, ``feedback/``, ``gradebook.db``). The steps:

1. :meth:`Course.release` — ``generate_assignment`` (solutions and hidden tests removed);
2. :meth:`Course.collect` — a folder or zip of student notebooks into ``submitted/``;
3. :meth:`Course.autograde` — every submission, with progress lines;
4. :meth:`Course.feedback` — HTML feedback without hidden tests or their tracebacks;
5. :meth:`Course.export_grades` — a CSV with one row per collected submission.

Student code is untrusted (see README's threat model). Each notebook is graded as a
*trusted skeleton* (:mod:`coursetools.skeleton`: every nbgrader cell from the release and
the gradebook, only the answer cells' sources and extra cells from the student), written
to ``trusted/<student>/<assignment>/`` (``submitted/`` keeps the upload as it came), and
run in a sandbox of its own (:mod:`coursetools.sandbox`). Only this process writes the
gradebook, the CSV and the feedback, after the sandbox is gone. The student's code is also
read (:mod:`coursetools.scan`) for in-kernel tampering, which is flagged for a person.

Nothing is lost: a kernel that dies is restarted and the other cells are still graded
(:mod:`coursetools.execution`, flagged in the CSV); a submission nbgrader cannot grade
(unreadable notebook, repeated kernel deaths, missing notebook) still gets a gradebook
entry with score 0 and a status in the CSV.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import authoring, sandbox as sandboxing, scan, skeleton
from .execution import KERNEL_DIED, STUCK, TIME_LIMIT

STUDENT_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class GradeResult:
    """The outcome of autograding one submission."""

    student: str
    score: float
    max_score: float
    status: str  # "graded", or "failed: <reason>"
    seconds: float
    flags: list[str] = field(default_factory=list)


GRADED_DIR = "trusted"  # the rebuilt notebooks nbgrader grades (nbgrader's submitted_directory)


def course_config(root: Path, *, timeout: int | None = None, sandbox: bool = True,
                  memory: str | None = None, notebook_timeout: int | None = None):
    """The course's ``nbgrader_config.py`` plus the pipeline's settings, for ``root``."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(authoring.ASSIGNMENTS)).load_config()
    extra = Config()
    extra.CourseDirectory.root = str(root)
    extra.CourseDirectory.db_url = f"sqlite:///{Path(root) / 'gradebook.db'}"
    extra.CourseDirectory.submitted_directory = GRADED_DIR
    if timeout is not None:
        extra.Execute.timeout = int(timeout)
    extra.ExecuteSurvivingKernelDeath.sandbox = bool(sandbox)
    extra.ExecuteSurvivingKernelDeath.forbidden = [str(Path(root).resolve())]
    if memory is not None:
        extra.ExecuteSurvivingKernelDeath.memory = str(memory)
    if notebook_timeout is not None:
        extra.ExecuteSurvivingKernelDeath.notebook_timeout = int(notebook_timeout)
    from nbgrader.preprocessors import GetGrades
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from .feedback import HideHiddenTests

    extra.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import LimitOutput
    from .feedback import LimitOutputLength

    steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    steps.insert(steps.index(LimitOutput) + 1, LimitOutputLength)
    from nbgrader.preprocessors import Execute
    from .execution import ExecuteSurvivingKernelDeath

    steps[steps.index(Execute)] = ExecuteSurvivingKernelDeath
    extra.Autograde.autograde_preprocessors = steps
    cfg.merge(extra)
    return cfg


class Course:
    """An nbgrader course directory driven in-process.

    Parameters
    ----------
    root : path
        The course directory; created if missing. ``source/`` is filled from the
        authoring sources when it has no notebook for an assignment.
    timeout : int, optional
        Per-cell timeout in seconds while autograding (default: ``nbgrader_config.py``).
    sandbox : bool
        Run every graded notebook in its own bubblewrap sandbox (default). ``False``
        grades without isolation: a warning is logged and every result is flagged
        ``no sandbox``.
    memory : str, optional
        Memory cap of a sandbox, e.g. ``"2GiB"`` (default: ``nbgrader_config.py``, 2 GiB).
    notebook_timeout : int, optional
        Wall-clock seconds for one notebook (default: ``nbgrader_config.py``, 600).
    max_bytes : int
        Uploads larger than this are not parsed: score 0, status ``failed: notebook too
        large``.
    log : callable, optional
        Where progress lines go (default: print to stdout).

    Examples
    --------
    >>> course = Course("/tmp/lec4-course")                          # doctest: +SKIP
    >>> course.release("hw1"); course.collect("hw1", "downloads/")   # doctest: +SKIP
    >>> course.autograde("hw1"); course.export_grades("hw1", "grades.csv")  # doctest: +SKIP
    """

    def __init__(self, root, *, timeout: int | None = None, sandbox: bool = True,
                 memory: str | None = None, notebook_timeout: int | None = None,
                 max_bytes: int = skeleton.MAX_BYTES, log=None):
        for label, value in (("timeout", timeout), ("notebook_timeout", notebook_timeout)):
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
                raise ValueError(f"{label} must be a positive integer number of seconds, got {value!r}")
        if memory is not None:
            sandboxing.parse_size(memory, "memory")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self.sandbox = bool(sandbox)
        self.memory = memory
        self.notebook_timeout = notebook_timeout
        self.max_bytes = max_bytes
        self._sandbox_checked = False
        self.log = log or (lambda line: print(line, flush=True))
        if not self.sandbox:
            self.log("WARNING: grading WITHOUT a sandbox: student code runs as you, sees the "
                     "course directory and the network; every result is flagged 'no sandbox'")
        self.flags: dict[tuple[str, str], list[str]] = {}
        self._api = None
        # nbgrader creates a new gradebook by running the `alembic` command: make the
        # environment's scripts findable even when it is not activated.
        bindir = str(Path(sys.executable).parent)
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")

    # -- nbgrader plumbing -------------------------------------------------------------
    @property
    def api(self):
        if self._api is None:
            from nbgrader.apps import NbGraderAPI
            from nbgrader.coursedir import CourseDirectory

            cfg = course_config(self.root, timeout=self.timeout, sandbox=self.sandbox,
                                memory=self.memory, notebook_timeout=self.notebook_timeout)
            self._api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
        return self._api

    def gradebook(self):
        from nbgrader.api import Gradebook

        return Gradebook(f"sqlite:///{self.root / 'gradebook.db'}", course_id="lec4")

    def _check_name(self, name: str) -> None:
        if name not in authoring.assignment_names():
            raise ValueError(f"assignment must be one of {authoring.assignment_names()}, got {name!r}")

    # -- 1. release ----------------------------------------------------------------------
    def release(self, name: str) -> Path:
        """Generate the student version of ``name``; returns ``release/<name>/<name>.ipynb``."""
        self._check_name(name)
        src = authoring.source_path(name, self.root)
        if not src.exists():
            authoring.write_sources(self.root, [name])
        result = self.api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"generate_assignment {name} failed:\n{result['error']}\n{result['log']}")
        return self.root / "release" / name / f"{name}.ipynb"

    # -- 2. collect ----------------------------------------------------------------------
    def collect(self, name: str, submissions) -> list[str]:
        """Copy student notebooks into ``submitted/<student>/<name>/<name>.ipynb``.

        ``submissions`` is a folder or a ``.zip`` holding either ``<student>.ipynb`` files
        or ``<student>/`` folders with one notebook each. A notebook under another name
        (``hw1 (1).ipynb``) is renamed and flagged ``renamed``; a student folder with
        several notebooks takes the one named ``<name>.ipynb``, else the newest, flagged.
        Returns the student ids collected, in order.
        """
        self._check_name(name)
        submissions = Path(submissions)
        if not submissions.exists():
            raise ValueError(f"submissions: {submissions} does not exist")
        tmp = None
        if submissions.is_file():
            if submissions.suffix != ".zip":
                raise ValueError(f"submissions must be a folder or a .zip file, got {submissions}")
            tmp = Path(tempfile.mkdtemp(prefix="lec4-collect-"))
            with zipfile.ZipFile(submissions) as zf:
                zf.extractall(tmp)
            base = tmp
            entries = [p for p in base.iterdir() if not p.name.startswith(("__MACOSX", "."))]
            if len(entries) == 1 and entries[0].is_dir() and not any(entries[0].glob("*.ipynb")) is False \
                    and all(p.is_dir() for p in entries[0].iterdir()):
                base = entries[0]
        else:
            base = submissions
        found: dict[str, tuple[Path, list[str]]] = {}
        for entry in sorted(base.iterdir()):
            if entry.name.startswith((".", "__MACOSX")):
                continue
            if entry.is_file() and entry.suffix == ".ipynb":
                found[entry.stem] = (entry, [])
            elif entry.is_dir():
                notebooks = sorted(p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
                if not notebooks:
                    self.log(f"collect: {entry.name}: no notebook, skipped")
                    continue
                exact = [p for p in notebooks if p.name == f"{name}.ipynb"]
                if exact:
                    chosen, flags = exact[0], []
                elif len(notebooks) == 1:
                    chosen, flags = notebooks[0], [f"renamed from {notebooks[0].name}"]
                else:
                    chosen = max(notebooks, key=lambda p: p.stat().st_mtime)
                    flags = [f"renamed from {chosen.name} (newest of {len(notebooks)} notebooks)"]
                found[entry.name] = (chosen, flags)
        students = []
        for student, (path, flags) in found.items():
            if not STUDENT_ID.match(student):
                raise ValueError(f"submissions: student id {student!r} must match {STUDENT_ID.pattern}")
            dest = self.root / "submitted" / student / name / f"{name}.ipynb"
            if dest.parent.exists():
                shutil.rmtree(dest.parent)
            dest.parent.mkdir(parents=True)
            shutil.copyfile(path, dest)
            (dest.parent / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
            self.flags[(name, student)] = list(flags)
            students.append(student)
            self.log(f"collect: {student} <- {path.name}" + (f" ({'; '.join(flags)})" if flags else ""))
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return students

    def submitted_students(self, name: str) -> list[str]:
        folder = self.root / "submitted"
        return sorted(p.parent.name for p in folder.glob(f"*/{name}") if p.is_dir())

    # -- 3. autograde ----------------------------------------------------------------------
    def check_sandbox(self) -> None:
        """Raise :class:`coursetools.sandbox.SandboxUnavailable` (saying what to install)
        when this course grades in sandboxes and none can be made here."""
        if self.sandbox and not self._sandbox_checked:
            sandboxing.check()
            self._sandbox_checked = True

    def autograde(self, name: str, students=None) -> list[GradeResult]:
        """Autograde every collected submission of ``name`` (or those in ``students``)."""
        self._check_name(name)
        self.check_sandbox()
        students = list(students) if students is not None else self.submitted_students(name)
        release = self.root / "release" / name / f"{name}.ipynb"
        if not release.exists():
            self.release(name)
        release_nb = nbformat.read(release, as_version=4)
        results = []
        for k, student in enumerate(students, 1):
            start = time.perf_counter()
            status = "graded"
            flags = list(self.flags.get((name, student), []))
            if not self.sandbox:
                flags.append("no sandbox")
            upload = self.root / "submitted" / student / name / f"{name}.ipynb"
            graded_dir = self.root / GRADED_DIR / student / name
            try:
                nb, changed = skeleton.build(skeleton.load(upload, self.max_bytes), release_nb)
            except skeleton.Unreadable as exc:
                status = f"failed: {exc}"
                shutil.rmtree(graded_dir, ignore_errors=True)
                self._record_zero(name, student)
            else:
                flags += changed + scan.scan(skeleton.student_code(nb))
                shutil.rmtree(graded_dir, ignore_errors=True)
                graded_dir.mkdir(parents=True)
                nbformat.write(nb, graded_dir / f"{name}.ipynb")
                stamp = upload.parent / "timestamp.txt"
                if stamp.exists():
                    shutil.copyfile(stamp, graded_dir / "timestamp.txt")
                out = self.api.autograde(name, student, force=True, create=True)
                if not out["success"]:
                    status = "failed: " + _reason(out.get("error", "") + "\n" + out.get("log", ""))
                    self._record_zero(name, student)
                else:
                    graded = self.root / "autograded" / student / name / f"{name}.ipynb"
                    text = graded.read_text(encoding="utf-8") if graded.exists() else ""
                    if f'"ename": "{KERNEL_DIED}"' in text:
                        flags.append("kernel died in a cell (restarted; that cell failed)")
                    if f'"ename": "{STUCK}"' in text:
                        flags.append("kernel restarted: a cell ignored the interrupt after its time limit")
                    if f'"ename": "{TIME_LIMIT}"' in text:
                        flags.append("notebook time limit reached (the cells left were not run)")
            score, max_score = self.score(name, student)
            seconds = time.perf_counter() - start
            results.append(GradeResult(student, score, max_score, status, seconds, flags))
            self.log(f"[{k}/{len(students)}] {student}: {score:g}/{max_score:g} {status} ({seconds:.1f} s)")
        return results

    def _record_zero(self, name: str, student: str) -> None:
        """Give a submission that could not be graded a gradebook entry (score 0)."""
        from nbgrader.api import MissingEntry

        with self.gradebook() as gb:
            gb.update_or_create_student(student)
            try:
                gb.find_submission(name, student)
            except MissingEntry:
                gb.add_submission(name, student)

    def score(self, name: str, student: str) -> tuple[float, float]:
        """(autograded score, autogradable maximum) of one submission from the gradebook."""
        from nbgrader.api import MissingEntry

        with self.gradebook() as gb:
            try:
                sub = gb.find_submission(name, student)
            except MissingEntry:
                return 0.0, 0.0
            return float(sub.code_score), float(sub.max_code_score)

    # -- 4. feedback -----------------------------------------------------------------------
    def feedback(self, name: str, students=None) -> list[Path]:
        """Write ``feedback/<student>/<name>/<name>.html`` for every autograded submission."""
        self._check_name(name)
        done = []
        students = list(students) if students is not None else self.submitted_students(name)
        for student in students:
            if not (self.root / "autograded" / student / name).exists():
                self.log(f"feedback: {student}: not autograded, skipped")
                continue
            out = self.api.generate_feedback(name, student, force=True)
            if not out["success"]:
                raise RuntimeError(f"generate_feedback {name} {student} failed:\n{out['error']}")
            done.append(self.root / "feedback" / student / name / f"{name}.html")
        return done

    # -- 5. grades CSV -----------------------------------------------------------------------
    def export_grades(self, name: str, path, results=None) -> Path:
        """Write one CSV row per submission: student, score, max_score, status, flags."""
        self._check_name(name)
        status = {r.student: r for r in results or []}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.gradebook() as gb:
            students = sorted(s.student.id for s in gb.assignment_submissions(name))
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["student", "assignment", "score", "max_score", "status", "flags"])
            for student in students:
                score, max_score = self.score(name, student)
                r = status.get(student)
                writer.writerow([student, name, f"{score:g}", f"{max_score:g}",
                                 r.status if r else "", "; ".join(r.flags) if r else ""])
        return path


def _reason(text: str) -> str:
    for pattern, reason in (("DeadKernel", "kernel died"), ("Kernel died", "kernel died"),
                            ("missing", "missing cells"), ("Timeout", "timeout")):
        if pattern.lower() in text.lower():
            return reason
    last = [l for l in text.strip().splitlines() if l.strip()]
    return last[-1][:120] if last else "autograde error"
