#!/usr/bin/env python3
"""The instructor's grading command for the lec4 homework (see assignments/README.md).

    python assignments/grade.py sources                       # authoring/*.py -> source/*/*.ipynb
    python assignments/grade.py release hw1                   # release/hw1/hw1.ipynb for students
    python assignments/grade.py grade hw1 SUBMISSIONS         # collect + autograde + feedback + CSV
    python assignments/grade.py otter hw1 OUT                 # otter master, student notebook, autograder zip

    python assignments/grade.py export hw1 --site canvas --out canvas.csv   # for the course site

SUBMISSIONS is a folder or a .zip as a course site exports it: ``<student>.ipynb`` files or
``<student>/`` folders (under any wrapper folder), a Canvas or Moodle submission download,
or a Gradescope export; the layout is detected and reported.
The course directory defaults to ``assignments/`` (override with ``--course``); releases,
submissions, autograded notebooks, feedback and gradebook.db there are never committed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from coursetools import authoring  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=HERE, help="nbgrader course directory (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sources", help="regenerate source/hwK/hwK.ipynb from authoring/hwK.py")
    p = sub.add_parser("check-sources", help="exit 1 when a source notebook is out of date")
    p = sub.add_parser("release", help="generate the student version (no solutions, no hidden tests)")
    p.add_argument("assignment")
    p = sub.add_parser("grade", help="collect, autograde with progress, feedback, grades CSV")
    p.add_argument("assignment")
    p.add_argument("submissions", type=Path, help="folder or .zip of student notebooks")
    p.add_argument("--csv", type=Path, default=None, help="grades CSV (default: COURSE/grades-<assignment>.csv)")
    p.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds (default: nbgrader_config.py)")
    p.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")
    p.add_argument("--memory", default=None,
                   help="memory cap of each submission's sandbox, e.g. 2GiB (default: nbgrader_config.py)")
    p.add_argument("--notebook-timeout", type=int, default=None,
                   help="wall-clock seconds per notebook (default: nbgrader_config.py)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run student code WITHOUT isolation (as you, seeing your files and the network); "
                        "every CSV row is flagged 'no sandbox'")
    p.add_argument("--roster", type=Path, default=None,
                   help="CSV with a student_id column plus course-site ids and names (canvas_id, email, ...)")
    p.add_argument("--timestamps", type=Path, default=None,
                   help="CSV with a student column and submitted_at, for uploads without submission times")
    p.add_argument("--due", default=None, help="due date, e.g. '2026-03-01 23:59' (UTC unless an offset is given)")
    p.add_argument("--late-penalty", choices=["none", "zero"], default=None,
                   help="nbgrader's late-submission penalty (default: nbgrader_config.py, none)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="submissions graded at once, each in its own sandbox (default: the number of cores)")
    p.add_argument("--regrade", nargs="+", default=[], metavar="STUDENT", help="grade these students again")
    p.add_argument("--force", action="store_true", help="grade every submission again (default: only new or changed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = sub.add_parser("export", help="grades CSV for a course site's import (Canvas, Gradescope, Moodle)")
    p.add_argument("assignment")
    p.add_argument("--site", choices=["canvas", "gradescope", "moodle", "plain"], required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--column", default=None,
                   help="the assignment's column name in the course site (Canvas: 'Homework 1 (12345)')")
    p.add_argument("--feedback-zip", type=Path, default=None,
                   help="also zip the feedback files under the names the site's bulk upload accepts")
    p = sub.add_parser("otter", help="otter master + otter assign (student notebook, autograder zip)")
    p.add_argument("assignment")
    p.add_argument("out", type=Path)
    args = parser.parse_args(argv)

    if args.command == "sources":
        for path in authoring.write_sources(args.course):
            print(f"wrote {path}")
        return 0
    if args.command == "check-sources":
        stale = [n for n in authoring.assignment_names()
                 if not authoring.source_path(n, args.course).exists()
                 or authoring.source_path(n, args.course).read_text() != authoring.render(authoring.nbgrader_source(n))]
        for n in stale:
            print(f"{authoring.source_path(n, args.course)} is out of date: run `python assignments/grade.py sources`")
        return 1 if stale else 0
    if args.command == "otter":
        from coursetools import otter_grading

        out = otter_grading.assign(args.assignment, args.out)
        print(f"student notebook: {out['student']}\nautograder zip (keep private): {out['autograder']}")
        return 0

    from coursetools.pipeline import Course
    from coursetools.sandbox import SandboxUnavailable

    if args.command == "release":
        print(f"released {Course(args.course).release(args.assignment)}")
        return 0
    if args.command == "export":
        course = Course(args.course)
        path = course.export_for_site(args.assignment, args.site, args.out, column=args.column)
        print(f"{args.site} grades: {path}")
        if args.feedback_zip:
            site = None if args.site == "plain" else args.site
            print(f"feedback zip: {course.feedback_zip(args.assignment, args.feedback_zip, site)}")
        return 0
    # grade
    try:
        course = Course(args.course, timeout=args.timeout, sandbox=not args.no_sandbox,
                        memory=args.memory, notebook_timeout=args.notebook_timeout,
                        late_penalty=args.late_penalty)
        course.check_sandbox()
        if args.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    except SandboxUnavailable as exc:
        print(f"grade: refusing to run student code without a sandbox: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    name = args.assignment
    course.release(name)  # (re)records the assignment and its tests in the gradebook
    roster = args.roster
    if roster is not None:
        from coursetools.collect import CollectError, Roster

        try:
            Roster(roster)
        except CollectError as exc:
            print(f"grade: {exc}; grading without a roster", file=sys.stderr)
            roster = None
    if args.due is not None:
        try:
            course.set_due(name, args.due)
        except ValueError as exc:
            print(f"grade: {exc}; grading without a due date", file=sys.stderr)
    try:
        students = course.collect(name, args.submissions, roster=roster, timestamps=args.timestamps)
    except ValueError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    try:
        results = course.autograde(name, students, jobs=args.jobs, force=args.force, regrade=args.regrade,
                                   progress=not args.no_progress, feedback=not args.no_feedback)
    except KeyboardInterrupt:
        print("grade: interrupted; what was graded is kept: run the same command again to grade the rest",
              file=sys.stderr)
        return 130
    except ValueError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    if not args.no_feedback:
        # written as each submission was graded; those kept unchanged already had theirs
        missing = [r.student for r in results if r.status == "graded"
                   and not (course.root / "feedback" / r.student / name / f"{name}.html").exists()]
        course.feedback(name, missing)
        count = sum(1 for r in results if (course.root / "feedback" / r.student / name / f"{name}.html").exists())
        print(f"feedback: {count} files in {course.root / 'feedback'}; "
              f"zipped for upload: {course.feedback_zip(name, course.root / f'feedback-{name}.zip')}")
    csv_path = args.csv or course.root / f"grades-{name}.csv"
    course.export_grades(name, csv_path, results)
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux
    print(f"graded {len(results)} submissions in {time.perf_counter() - start:.1f} s; grades: {csv_path}; "
          f"peak memory of this process: {peak} MiB")
    print(course.summary(name, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
