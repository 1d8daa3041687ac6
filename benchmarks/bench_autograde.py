"""Seconds per autograded submission: the in-process pipeline against the nbgrader CLI.

The graders autograde the same correct hw1 submissions (copies of the instructor's
answers filled into the release):

1. **in-process, sandboxed** — ``coursetools.pipeline.Course.autograde`` (nbgrader 0.9's
   ``NbGraderAPI`` in this Python process), each notebook in its own bubblewrap sandbox;
2. **in-process, no sandbox** — the same with ``sandbox=False``, in a second course
   directory; the two are run interleaved, one submission at a time, so that load on the
   machine hits both alike;
3. **CLI** — one ``nbgrader autograde hw1 --student S`` subprocess per student, the way a
   shell loop over students would call it (no sandbox).

Goals: <= 1.5 s per sandboxed submission on 2 cores, sandbox overhead <= 1.2x (issue
11); 100 submissions in <= 5 minutes (issue 6).
The 100-submission time is extrapolated linearly from the measured run (said so in the
output) unless ``--n 100`` is given. Prints; never asserts (see ``benchmarks/README.md``).

Usage::

    python benchmarks/bench_autograde.py [--n 10] [--n-cli 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "assignments"))
sys.path.insert(0, str(ROOT / "tests" / "grading"))

from coursetools.pipeline import Course  # noqa: E402
import submissions  # noqa: E402

GOAL_PER_SUBMISSION_S = 1.5
GOAL_OVERHEAD = 1.2
GOAL_100_S = 300.0


def nbgrader_cli_seconds(root: Path, students) -> float:
    """Seconds per student of ``nbgrader autograde hw1 --student S``, one call each (the
    way a shell loop over students would call it), in the course directory ``root``."""
    # the CLI reads nbgrader_config.py from its working directory: the course's config
    # plus this course's root and gradebook
    (root / "nbgrader_config.py").write_text(
        f"exec(open({str(ROOT / 'assignments' / 'nbgrader_config.py')!r}).read())\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{root / 'gradebook.db'}'\n")
    nbgrader = [str(Path(sys.executable).parent / "nbgrader")]
    start = time.perf_counter()
    for student in students:
        subprocess.run(nbgrader + ["autograde", "hw1", "--student", student, "--force"],
                       cwd=root, check=True, capture_output=True)
    return (time.perf_counter() - start) / len(students)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="submissions graded in-process (default 10)")
    parser.add_argument("--n-cli", type=int, default=3, help="submissions graded by the CLI (default 3)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.n_cli < 1:
        raise SystemExit("--n and --n-cli must be >= 1")

    tmp = Path(tempfile.mkdtemp(prefix="lec4-bench-autograde-"))
    try:
        course = Course(tmp / "course", log=lambda line: None)
        bare = Course(tmp / "course-no-sandbox", sandbox=False, log=lambda line: None)
        release = course.release("hw1")
        bare.release("hw1")
        nb = submissions.fill(nbformat.read(release, as_version=4), submissions.solution_answers("hw1"))
        subs = tmp / "subs"
        for k in range(args.n + args.n_cli):
            (subs / f"s{k:03d}").mkdir(parents=True)
            (subs / f"s{k:03d}" / "hw1.ipynb").write_text(nbformat.writes(nb))
        students = course.collect("hw1", subs)
        bare.collect("hw1", subs)
        inproc, cli = students[: args.n], students[args.n:]

        course.autograde("hw1", inproc[:1])  # warm-up (imports, first kernel), not timed
        bare.autograde("hw1", inproc[:1])
        times = {"sandbox": [], "bare": []}
        scores = []
        for student in inproc:
            for label, c in (("sandbox", course), ("bare", bare)):
                start = time.perf_counter()
                scores += [r.score for r in c.autograde("hw1", [student], force=True)]
                times[label].append(time.perf_counter() - start)
        if not all(s == 9.0 for s in scores):
            raise SystemExit(f"could not run: in-process scores {scores}, expected 9")
        t_in = sum(times["sandbox"]) / len(inproc)
        t_bare = sum(times["bare"]) / len(inproc)

        t_cli = nbgrader_cli_seconds(course.root, cli)
        cli_scores = [course.score("hw1", s)[0] for s in cli]
        if cli_scores != [9.0] * len(cli):
            raise SystemExit(f"could not run: CLI scores {cli_scores}, expected 9")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    verdict = "ok" if t_in <= GOAL_PER_SUBMISSION_S else "OVER GOAL"
    print(f"in-process autograde, sandboxed: {t_in:.2f} s per submission ({args.n} submissions) "
          f"[goal <= {GOAL_PER_SUBMISSION_S:.1f} s: {verdict}]")
    print(f"in-process autograde, no sandbox: {t_bare:.2f} s per submission (same submissions, interleaved)")
    verdict = "ok" if t_in / t_bare <= GOAL_OVERHEAD else "OVER GOAL"
    print(f"ratio sandboxed / no sandbox: {t_in / t_bare:.2f}x [goal <= {GOAL_OVERHEAD:.1f}x: {verdict}]")
    print(f"nbgrader CLI, one call per student: {t_cli:.2f} s per submission ({args.n_cli} submissions)")
    print(f"ratio CLI / in-process sandboxed: {t_cli / t_in:.2f}x")
    extrapolated = 100 * t_in
    how = "measured" if args.n >= 100 else f"extrapolated linearly from {args.n}"
    verdict = "ok" if extrapolated <= GOAL_100_S else "OVER GOAL"
    print(f"100 submissions in-process: {extrapolated:.0f} s ({how}) [goal <= {GOAL_100_S:.0f} s: {verdict}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
