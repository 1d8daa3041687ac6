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

import contextlib
import csv
import json
import os
import queue
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import timezone
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


LATE_PENALTIES = ("none", "zero")


def course_config(root: Path, *, timeout: int | None = None, sandbox: bool = True,
                  memory: str | None = None, notebook_timeout: int | None = None,
                  late_penalty: str | None = None):
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
    # a graded kernel is killed when its notebook is done, not asked to exit and waited
    # for (0.4 s a submission): nothing in it is kept, and a sandbox goes with it
    extra.ExecuteSurvivingKernelDeath.shutdown_kernel = "immediate"
    extra.ExecuteSurvivingKernelDeath.forbidden = [str(Path(root).resolve())]
    if memory is not None:
        extra.ExecuteSurvivingKernelDeath.memory = str(memory)
    if notebook_timeout is not None:
        extra.ExecuteSurvivingKernelDeath.notebook_timeout = int(notebook_timeout)
    if late_penalty is not None:
        extra.LateSubmissionPlugin.penalty_method = late_penalty
    from nbgrader.preprocessors import GetGrades
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from .feedback import FeedbackHTMLExporter, HideHiddenTests

    extra.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    extra.GenerateFeedback.exporter_class = FeedbackHTMLExporter
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
    late_penalty : {"none", "zero"}, optional
        nbgrader's late-submission plugin (``LateSubmissionPlugin.penalty_method``):
        ``"zero"`` gives a submission after the due date (:meth:`set_due`) a penalty of
        its whole score. Default: ``nbgrader_config.py`` (``"none"``); another plugin can be
        set there (``AssignLatePenalties.plugin_class``).
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
                 max_bytes: int = skeleton.MAX_BYTES, late_penalty: str | None = None, log=None):
        for label, value in (("timeout", timeout), ("notebook_timeout", notebook_timeout)):
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
                raise ValueError(f"{label} must be a positive integer number of seconds, got {value!r}")
        if memory is not None:
            sandboxing.parse_size(memory, "memory")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
        if late_penalty is not None and late_penalty not in LATE_PENALTIES:
            raise ValueError(f"late_penalty must be one of {LATE_PENALTIES}, got {late_penalty!r}")
        self.late_penalty = late_penalty
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
        self._ensure_gradebook()

    def _ensure_gradebook(self) -> None:
        """Create the course's gradebook now if it is missing, with PATH changed for that alone.

        nbgrader creates a new gradebook by running the ``alembic`` command found on PATH
        (only then: an existing one is opened without it). The environment's scripts are
        not on PATH when it is not activated, so they are put there for this call only;
        the process's environment is as it was afterwards.
        """
        if (self.root / "gradebook.db").exists():
            return
        bindir = str(Path(sys.executable).parent)
        path = os.environ.get("PATH", "")
        if bindir not in path.split(os.pathsep):
            path = bindir + (os.pathsep + path if path else "")
        with _setenv(PATH=path):
            with self.gradebook():
                pass

    # -- nbgrader plumbing -------------------------------------------------------------
    @property
    def api(self):
        if self._api is None:
            from nbgrader.apps import NbGraderAPI
            from nbgrader.coursedir import CourseDirectory

            self._api = self._new_api()
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
    def collect(self, name: str, submissions, *, roster=None, timestamps=None) -> list[str]:
        """Copy student notebooks into ``submitted/<student>/<name>/<name>.ipynb``.

        ``submissions`` is a folder or a ``.zip`` in any layout :mod:`coursetools.collect`
        reads (plain, with or without wrapper folders; Canvas; Moodle; Gradescope); the
        layout is detected and logged. ``roster`` (a CSV with ``student_id`` and any
        course-site ids or names) maps course-site ids to student ids; ``timestamps`` (a CSV
        with a student column and ``submitted_at``) gives submission times where the course
        site's metadata does not. Each submission's time goes into nbgrader's
        ``timestamp.txt``. When a student has several notebooks, the newest is kept and the
        choice flagged. Nothing is dropped silently: every notebook found, every roster
        student without one, and every problem is recorded in ``collect-<name>.json``
        beside the gradebook, and :meth:`export_grades` writes a row for each.
        Returns the student ids collected, in order.
        """
        from . import collect as collecting

        self._check_name(name)
        try:
            formats, found, problems = collecting.gather(submissions, name)
        except collecting.CollectError as exc:
            raise ValueError(str(exc)) from None
        tmp = collecting.gather.last_tmp
        try:
            return self._collect(name, formats, found, problems,
                                 collecting.Roster(roster) if roster is not None else None,
                                 collecting.read_timestamps(timestamps) if timestamps is not None else {})
        except collecting.CollectError as exc:
            raise ValueError(str(exc)) from None
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _collect(self, name, formats, found, problems, roster, stamps) -> list[str]:
        from . import collect as collecting

        count = len(found)
        if not formats:
            self.log(f"collect: no notebook found in the upload")
        elif len(formats) == 1:
            self.log(f"collect: detected a {formats[0]} upload ({count} notebooks)")
        else:
            kinds = ", ".join(f"{f} ({sum(x.fmt == f for x in found)})" for f in formats)
            line = f"collect: formats mixed in one upload: {kinds}; each notebook is read by its own layout"
            problems.append(line.removeprefix("collect: "))
            self.log(line)
        for line in problems:
            if not line.startswith("formats mixed"):
                self.log(f"collect: {line}")
        for f in found:
            student = roster.lookup(f.key, *f.site_ids.values(), f.name, collecting.slug(f.name)) \
                if roster is not None else None
            if student is None:
                student = f.name if f.fmt == "canvas" else collecting.slug(f.name) if f.fmt == "moodle" else f.key
                if roster is not None:
                    f.flags.append("not on the roster")
            if not STUDENT_ID.match(student):
                f.flags.append(f"id {student!r} cleaned")
                student = collecting.slug(student)
            f.student = student
            when = stamps.get(student) or stamps.get(f.key) if f.time_source != "course site" else None
            if when is not None:
                f.submitted_at, f.time_source = when, "timestamps file"
            original = f.origin.rsplit("/", 1)[-1]
            if f.fmt == "canvas":
                original = original[len(f.site_name) + 1:]
            loose = f.fmt == "plain" and f.key == Path(original).stem  # <student>.ipynb: named for them
            if original != f"{name}.ipynb" and not loose:
                f.flags.append(f"renamed from {original}")
        by_student: dict[str, list] = {}
        for f in found:
            by_student.setdefault(f.student, []).append(f)
        records, students = [], []
        for student, group in sorted(by_student.items()):
            group.sort(key=lambda f: (f.submitted_at.timestamp() if f.submitted_at else 0.0,
                                      f.origin.endswith(f"/{name}.ipynb") or f.origin == f"{name}.ipynb"),
                       reverse=True)
            chosen, older = group[0], group[1:]
            if older:
                chosen.flags.append(f"duplicate: kept the newest of {len(group)} ({chosen.origin})")
            dest = self.root / "submitted" / student / name / f"{name}.ipynb"
            if dest.parent.exists():
                shutil.rmtree(dest.parent)
            dest.parent.mkdir(parents=True)
            shutil.copyfile(chosen.path, dest)
            when = chosen.submitted_at
            (dest.parent / "timestamp.txt").write_text(
                when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
            self.flags[(name, student)] = list(chosen.flags)
            students.append(student)
            self.log(f"collect: {student} <- {chosen.origin}"
                     + (f" ({'; '.join(chosen.flags)})" if chosen.flags else ""))
            for f in [chosen] + older:
                records.append({
                    "student": student, "origin": f.origin, "format": f.fmt, "name": f.name,
                    "site_ids": f.site_ids, "site_name": f.site_name,
                    "submitted_at": f.submitted_at.isoformat() if f.submitted_at else "",
                    "time_source": f.time_source, "late_marker": f.late_marker, "flags": f.flags,
                    "graded": f is chosen,
                    "status": "" if f is chosen else f"not graded: a newer submission was ({chosen.origin})"})
        missing = [s for s in (roster.ids if roster is not None else []) if s not in by_student]
        for s in missing:
            self.log(f"collect: {s}: on the roster, no submission")
        manifest = {"assignment": name, "formats": formats, "problems": problems, "records": records,
                    "missing": missing, "roster": roster.rows if roster is not None else None}
        _write_json(self.root / f"collect-{name}.json", manifest)
        return students

    def manifest(self, name: str) -> dict:
        path = self.root / f"collect-{name}.json"
        return json.loads(path.read_text()) if path.exists() else {"records": [], "missing": [], "problems": []}

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

    def set_due(self, name: str, due) -> None:
        """Record the due date of ``name`` in the gradebook (a datetime, or text such as
        ``"2026-03-01 23:59"``, UTC unless it gives an offset); nbgrader then computes each
        submission's lateness from its ``timestamp.txt`` and applies the late-penalty plugin."""
        from . import collect as collecting

        when = collecting.parse_due(due) if not hasattr(due, "tzinfo") else due
        with self.gradebook() as gb:
            gb.update_or_create_assignment(name, duedate=when.astimezone(timezone.utc).replace(tzinfo=None))

    def _state_path(self, name: str) -> Path:
        return self.root / "grading-state" / f"{name}.json"

    def _digest(self, name: str, student: str, due: str) -> str:
        """What a result depends on: the upload, the assignment's source and release, the
        grading settings and the due date (``due``, from :meth:`_due_text`). A result whose
        digest is unchanged is not graded again."""
        import hashlib

        h = hashlib.sha256()
        for path in (self.root / "submitted" / student / name / f"{name}.ipynb",
                     self.root / "submitted" / student / name / "timestamp.txt",
                     authoring.source_path(name, self.root), self.root / "release" / name / f"{name}.ipynb"):
            h.update(path.read_bytes() if path.exists() else b"-")
        h.update(json.dumps([self.timeout, self.sandbox, self.memory, self.notebook_timeout, self.max_bytes,
                             self.late_penalty, due]).encode())
        return h.hexdigest()

    def _due_text(self, name: str) -> str:
        from nbgrader.api import MissingEntry

        with self.gradebook() as gb:
            try:
                return str(gb.find_assignment(name).duedate or "")
            except MissingEntry:
                return ""

    def autograde(self, name: str, students=None, *, jobs: int = 1, force: bool = False,
                  regrade=(), progress: bool = False, feedback: bool = False) -> list[GradeResult]:
        """Autograde the collected submissions of ``name`` (or those in ``students``).

        Parameters
        ----------
        jobs : int
            Submissions graded at once, each in its own sandbox and kernel (worker
            processes). Only this process writes the gradebook, one submission at a time;
            results are identical to ``jobs=1``.
        force : bool
            Grade every submission again. Otherwise a submission whose upload, assignment
            and settings are unchanged since it was last graded keeps its result (so a run
            that was interrupted loses nothing already graded, and the next grades the rest).
        regrade : list of str
            Students graded again even if unchanged.
        progress : bool
            Show a progress bar (tqdm: rate and time left) on stderr.
        feedback : bool
            Also write each graded submission's feedback as soon as it is graded (in the
            workers, with ``jobs > 1``), as :meth:`feedback` would.
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor, as_completed

        self._check_name(name)
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
        self.check_sandbox()
        students = list(students) if students is not None else self.submitted_students(name)
        release = self.root / "release" / name / f"{name}.ipynb"
        if not release.exists():
            self.release(name)
        release_nb = nbformat.read(release, as_version=4)
        others = self._other_releases(name)
        collected = {r["student"]: r for r in self.manifest(name)["records"] if r.get("graded")}
        state_path = self._state_path(name)
        state_path.parent.mkdir(exist_ok=True)
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        regrade = set(regrade)
        unknown = regrade - set(students)
        if unknown:
            raise ValueError(f"regrade: no collected submission for {sorted(unknown)}")
        done: dict[str, GradeResult] = {}
        todo = []
        due = self._due_text(name)
        for student in students:
            digest = self._digest(name, student, due)
            prev = state.get(student)
            if not force and student not in regrade and prev and prev.get("digest") == digest:
                done[student] = GradeResult(**prev["result"])
            else:
                todo.append((student, digest))
        if done:
            self.log(f"autograde: {len(done)} unchanged since they were graded, kept "
                     f"(--force or --regrade to grade them again)")
        lock = threading.Lock()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), unit="sub", desc=f"autograde {name}", file=sys.stderr,
                       dynamic_ncols=True, smoothing=0.1)
        count = [len(done)]
        workers = queue.Queue()
        settings = dict(root=str(self.root), timeout=self.timeout, sandbox=self.sandbox, memory=self.memory,
                        notebook_timeout=self.notebook_timeout, late_penalty=self.late_penalty)
        parallel = jobs > 1 and len(todo) > 1
        if parallel:
            for _ in range(min(jobs, len(todo))):
                workers.put(_Worker(settings))
        local = threading.local()

        def one(student: str, digest: str) -> GradeResult:
            from . import execution

            if parallel and not hasattr(local, "api"):
                local.api = self._new_api()  # one nbgrader API (and course directory) per thread
            worker = workers.get() if parallel else None
            try:
                with lock:
                    api = local.api if parallel else self.api
                    with execution.delegated(None if worker is None else _Delegate(worker, lock)):
                        r = self._grade_one(name, student, release_nb, others, collected.get(student), api)
                if feedback and r.status == "graded":
                    # after the grades are in the gradebook; it only reads it
                    if worker is not None:
                        worker.feedback(name, student)
                    else:
                        self._feedback_one(name, student)
            finally:
                if worker is not None:
                    workers.put(worker)
            with lock:
                state[student] = {"digest": digest, "result": r.__dict__}
                _write_json(state_path, state)
                count[0] += 1
                line = (f"[{count[0]}/{len(students)}] {student}: {r.score:g}/{r.max_score:g} "
                        f"{r.status} ({r.seconds:.1f} s)")
                if bar is not None:
                    bar.update(1)
                    with bar.external_write_mode():
                        self.log(line)
                else:
                    self.log(line)
            return r

        # nbgrader sets NBGRADER_EXECUTION around each notebook, and its setenv() always
        # deletes it afterwards (nbgrader 0.9 looks up the *value* as the previous
        # variable's name). With several submissions in flight that races (KeyError), so for
        # the run the variable is set once and setenv() restores what was there before.
        import nbgrader.utils

        previous_marker = os.environ.get("NBGRADER_EXECUTION")
        os.environ["NBGRADER_EXECUTION"] = "autograde"
        original_setenv = nbgrader.utils.setenv
        nbgrader.utils.setenv = _setenv
        engines = shared_gradebook_engines()
        engines.__enter__()
        try:
            if not parallel:
                for student, digest in todo:
                    done[student] = one(student, digest)
            else:
                with ThreadPoolExecutor(max_workers=min(jobs, len(todo))) as threads:
                    futures = {threads.submit(one, s, d): s for s, d in todo}
                    for fut in as_completed(futures):
                        done[futures[fut]] = fut.result()
        finally:
            engines.__exit__(None, None, None)
            nbgrader.utils.setenv = original_setenv
            if previous_marker is None:
                os.environ.pop("NBGRADER_EXECUTION", None)
            else:
                os.environ["NBGRADER_EXECUTION"] = previous_marker
            while not workers.empty():
                workers.get().close()
            if bar is not None:
                bar.close()
        return [done[s] for s in students]

    def _new_api(self):
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        cfg = course_config(self.root, timeout=self.timeout, sandbox=self.sandbox, memory=self.memory,
                            notebook_timeout=self.notebook_timeout, late_penalty=self.late_penalty)
        return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)

    def _other_releases(self, name: str) -> dict[str, set]:
        out = {}
        for other in authoring.assignment_names():
            path = self.root / "release" / other / f"{other}.ipynb"
            if other != name and path.exists():
                out[other] = _grade_ids(nbformat.read(path, as_version=4).cells)
        return out

    def _grade_one(self, name, student, release_nb, others, record, api) -> GradeResult:
        start = time.perf_counter()
        status = "graded"
        flags = list(record["flags"]) if record else list(self.flags.get((name, student), []))
        if not self.sandbox:
            flags.append("no sandbox")
        upload = self.root / "submitted" / student / name / f"{name}.ipynb"
        graded_dir = self.root / GRADED_DIR / student / name
        shutil.rmtree(graded_dir, ignore_errors=True)
        try:
            data = skeleton.load(upload, self.max_bytes)
            theirs = _grade_ids([c for c in data["cells"] if isinstance(c, dict)])
            mine = _grade_ids(release_nb.cells)
            if theirs and not theirs & mine:
                match = [o for o, ids in others.items() if theirs & ids]
                raise skeleton.Unreadable(f"a notebook for {match[0]}, not {name}" if match
                                          else f"not a notebook of {name} (none of its cells is)")
            nb, changed = skeleton.build(data, release_nb)
        except skeleton.Unreadable as exc:
            status = f"failed: {exc}"
            self._record_zero(name, student)
        else:
            flags += changed + scan.scan(skeleton.student_code(nb))
            graded_dir.mkdir(parents=True)
            nbformat.write(nb, graded_dir / f"{name}.ipynb")
            stamp = upload.parent / "timestamp.txt"
            if stamp.exists():
                shutil.copyfile(stamp, graded_dir / "timestamp.txt")
            out = api.autograde(name, student, force=True, create=True)
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
        return GradeResult(student, score, max_score, status, time.perf_counter() - start, flags)

    def _feedback_one(self, name: str, student: str) -> Path:
        out = self.api.generate_feedback(name, student, force=True)
        if not out["success"]:
            raise RuntimeError(f"generate_feedback {name} {student} failed:\n{out['error']}")
        return self.root / "feedback" / student / name / f"{name}.html"

    def _record_zero(self, name: str, student: str) -> None:
        """Give a submission that could not be graded a gradebook entry with score 0 (an
        earlier result of the same student is zeroed, not kept)."""
        from nbgrader.api import MissingEntry

        shutil.rmtree(self.root / "autograded" / student / name, ignore_errors=True)
        shutil.rmtree(self.root / "feedback" / student / name, ignore_errors=True)
        with self.gradebook() as gb:
            gb.update_or_create_student(student)
            try:
                sub = gb.find_submission(name, student)
            except MissingEntry:
                gb.add_submission(name, student)
                return
            for notebook in sub.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            gb.db.commit()

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
            done.append(self._feedback_one(name, student))
        return done

    # -- 5. grades CSV -----------------------------------------------------------------------
    CSV_COLUMNS = ["student", "assignment", "score", "max_score", "penalty", "final", "status", "flags",
                   "submitted_at", "late_by", "format", "origin"]

    def rows(self, name: str, results=None) -> list[dict]:
        """One row per notebook found, per roster student without one, per graded student.

        ``score`` is the autograded score, ``penalty`` nbgrader's late penalty and
        ``final`` what goes to the course site (``score - penalty``, at least 0).
        """
        from nbgrader.api import MissingEntry

        self._check_name(name)
        if results is None:
            state = json.loads(self._state_path(name).read_text()) if self._state_path(name).exists() else {}
            results = [GradeResult(**v["result"]) for v in state.values()]
        by_student = {r.student: r for r in results}
        manifest = self.manifest(name)
        records = {r["student"]: r for r in manifest["records"] if r.get("graded")}
        rows = []
        with self.gradebook() as gb:
            for sub in sorted(gb.assignment_submissions(name), key=lambda x: x.student.id):
                student = sub.student.id
                r, rec = by_student.get(student), records.get(student, {})
                try:
                    score, max_score = float(sub.code_score), float(sub.max_code_score)
                    penalty = float(sub.late_submission_penalty or 0.0)
                    late = float(sub.total_seconds_late or 0.0)
                except MissingEntry:
                    score = max_score = penalty = late = 0.0
                from datetime import timedelta

                rows.append({"student": student, "assignment": name, "score": f"{score:g}",
                             "max_score": f"{max_score:g}", "penalty": f"{penalty:g}",
                             "final": f"{max(score - penalty, 0.0):g}",
                             "status": r.status if r else "", "flags": "; ".join(r.flags) if r else "",
                             "submitted_at": rec.get("submitted_at", ""),
                             "late_by": str(timedelta(seconds=round(late))) if late > 0 else "",
                             "format": rec.get("format", ""), "origin": rec.get("origin", "")})
        max_points = next((row["max_score"] for row in rows if row["max_score"] != "0"), "")
        for rec in manifest["records"]:
            if not rec.get("graded"):
                rows.append(dict.fromkeys(self.CSV_COLUMNS, "") | {
                    "student": rec["student"], "assignment": name, "status": rec["status"],
                    "flags": "; ".join(rec["flags"]), "submitted_at": rec["submitted_at"],
                    "format": rec["format"], "origin": rec["origin"]})
        for student in manifest["missing"]:
            rows.append(dict.fromkeys(self.CSV_COLUMNS, "") | {
                "student": student, "assignment": name, "score": "0", "max_score": max_points,
                "penalty": "0", "final": "0", "status": "missing"})
        return rows

    def summary(self, name: str, results=None) -> str:
        """The end-of-run table: graded, failed, late, missing, flagged ("needs a look"),
        not graded (older duplicates), with the students named for each row but the first."""
        rows = self.rows(name, results)
        graded = [r for r in rows if r["status"] == "graded"]
        failed = [r for r in rows if r["status"].startswith("failed")]
        late = [r for r in rows if r["late_by"] or "late (Canvas)" in r["flags"]]
        missing = [r for r in rows if r["status"] == "missing"]
        flagged = [r for r in rows if r["status"] == "graded"
                   and [f for f in r["flags"].split("; ") if f and f != "no sandbox"]]
        older = [r for r in rows if r["status"].startswith("not graded")]
        lines = [f"summary of {name}:", f"  {'graded':<11}{len(graded):>5}"]
        for label, group, why in (
                ("failed", failed, lambda r: r["status"]),
                ("late", late, lambda r: (f"late by {r['late_by']}" if r["late_by"] else "late (Canvas)")
                 + (f", penalty {r['penalty']}" if r["penalty"] not in ("", "0") else "")),
                ("missing", missing, lambda r: "on the roster, no submission"),
                ("flagged", flagged, lambda r: "needs a look: " + r["flags"]),
                ("not graded", older, lambda r: r["status"])):
            lines.append(f"  {label:<11}{len(group):>5}")
            lines += [f"      {r['student']}: {why(r)}" for r in group]
        return "\n".join(lines)

    def export_grades(self, name: str, path, results=None) -> Path:
        """Write the grades CSV: one row per submission found (graded or not), and per
        roster student without one (``missing``, score 0); columns :attr:`CSV_COLUMNS`."""
        rows = self.rows(name, results)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        return path

    def export_for_site(self, name: str, site: str, path, *, column: str | None = None) -> Path:
        """A CSV a course site imports (:mod:`coursetools.export`): ``canvas``,
        ``gradescope``, ``moodle`` or ``plain`` (the grades CSV)."""
        from . import export

        if site == "plain":
            return self.export_grades(name, path)
        manifest = self.manifest(name)
        return export.write(site, self.rows(name), manifest, path, column=column or name)

    def feedback_zip(self, name: str, path, site: str | None = None) -> Path:
        """Zip every student's feedback under the names ``site``'s bulk feedback upload
        accepts (default: the layout the submissions came in)."""
        from . import export

        manifest = self.manifest(name)
        files = {}
        for rec in manifest["records"]:
            html = self.root / "feedback" / rec["student"] / name / f"{name}.html"
            if rec.get("graded") and html.exists():
                files[rec["student"]] = (html, rec)
        return export.feedback_zip(files, name, path, site)

class _Worker:
    """One grading worker process (:mod:`coursetools.worker`), fed one notebook at a time."""

    def __init__(self, settings: dict):
        self.settings = settings
        self._start()

    def _start(self) -> None:
        import subprocess

        env = dict(os.environ)
        here = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen([sys.executable, "-m", "coursetools.worker", json.dumps(self.settings)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)

    def _ask(self, request: dict) -> dict:
        if self.proc.poll() is not None:  # a worker that died is replaced
            self._start()
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"grading worker exited (code {self.proc.poll()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError("grading worker: " + reply["error"])
        return reply

    def run(self, nb_text: str, path: str) -> str:
        return self._ask({"nb": nb_text, "path": path})["nb"]

    def feedback(self, name: str, student: str) -> None:
        self._ask({"feedback": student, "assignment": name})

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 -- a worker that does not stop is killed
            self.proc.kill()


class _Delegate:
    """Runs a notebook's kernel in a worker process; while it runs, the lock on the
    gradebook is released so that another submission's nbgrader steps can go on."""

    def __init__(self, worker: _Worker, lock):
        self.worker, self.lock = worker, lock

    def __call__(self, nb, path):
        text = nbformat.writes(nb)
        self.lock.release()
        try:
            return nbformat.reads(self.worker.run(text, path), as_version=4)
        finally:
            self.lock.acquire()


@contextlib.contextmanager
def _setenv(**kwargs):
    """nbgrader.utils.setenv as meant: set the variables, then restore what was there."""
    previous = {k: os.environ.get(k) for k in kwargs}
    os.environ.update(kwargs)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def shared_gradebook_engines():
    """While active, every nbgrader ``Gradebook`` of this process opened on the same database
    URL uses one SQLAlchemy engine.

    nbgrader opens a new ``Gradebook``, hence a new engine, about ten times per graded
    submission, and each new engine starts with an empty cache of compiled SQL statements;
    together that was a quarter of the grader's own time per submission. An engine is safe
    to share between threads (it hands each session a connection of its own), and
    ``Gradebook.close`` still disposes of the connections; the engines themselves are
    disposed of when the context ends."""
    import threading

    import nbgrader.api
    import sqlalchemy

    engines, lock = {}, threading.Lock()
    original = nbgrader.api.create_engine

    def create_engine(url, **kwargs):
        key = (str(url), tuple(sorted(kwargs.items())))
        with lock:
            if key not in engines:
                engines[key] = sqlalchemy.create_engine(url, **kwargs)
            return engines[key]

    nbgrader.api.create_engine = create_engine
    try:
        yield
    finally:
        nbgrader.api.create_engine = original
        for engine in engines.values():
            engine.dispose()


def _grade_ids(cells) -> set:
    out = set()
    for c in cells:
        meta = c.get("metadata") if isinstance(c, dict) else None
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        # answer and test cells only: locked given cells have generic ids (given_1)
        if isinstance(nbg, dict) and isinstance(nbg.get("grade_id"), str) and (nbg.get("solution") or nbg.get("grade")):
            out.add(nbg["grade_id"])
    return out


def _write_json(path: Path, data) -> None:
    """Write JSON atomically: a crash leaves the old file or the new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def _reason(text: str) -> str:
    errors = re.findall(r"^\s*((?:\w+\.)*\w*(?:Error|Exception|Interrupt)): (.*)$", text, flags=re.M)
    for pattern, reason in (("DeadKernel", "kernel died"), ("Kernel died", "kernel died"),
                            ("missing", "missing cells"), ("Timeout", "timeout")):
        if pattern.lower() in text.lower():
            return reason
    if errors:
        return f"{errors[-1][0]}: {errors[-1][1]}"[:120]
    last = [l for l in text.strip().splitlines() if l.strip()]
    return last[-1][:120] if last else "autograde error"
