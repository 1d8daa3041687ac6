#!/usr/bin/env python3
"""The instructor's grading command for the lec4 homework (see assignments/README.md).

    python assignments/grade.py sources                       # authoring/*.py -> source/*/*.ipynb
    python assignments/grade.py release hw1                   # release/hw1/hw1.ipynb for students
    python assignments/grade.py grade hw1 SUBMISSIONS         # collect + autograde + feedback + CSV
    python assignments/grade.py otter hw1 OUT                 # otter master, student notebook, autograder zip

SUBMISSIONS is a folder or a .zip of ``<student>.ipynb`` files or ``<student>/`` folders.
The course directory defaults to ``assignments/`` (override with ``--course``); releases,
submissions, autograded notebooks, feedback and gradebook.db there are never committed.
"""

from __future__ import annotations

import argparse
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
    # grade
    try:
        course = Course(args.course, timeout=args.timeout, sandbox=not args.no_sandbox,
                        memory=args.memory, notebook_timeout=args.notebook_timeout)
        course.check_sandbox()
    except SandboxUnavailable as exc:
        print(f"grade: refusing to run student code without a sandbox: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    course.release(args.assignment)  # (re)records the assignment and its tests in the gradebook
    students = course.collect(args.assignment, args.submissions)
    results = course.autograde(args.assignment, students)
    if not args.no_feedback:
        for path in course.feedback(args.assignment, students):
            print(f"feedback: {path}")
    csv_path = args.csv or course.root / f"grades-{args.assignment}.csv"
    course.export_grades(args.assignment, csv_path, results)
    failed = [r for r in results if r.status != "graded"]
    flagged = [r for r in results if r.status == "graded" and [f for f in r.flags if f != "no sandbox"]]
    print(f"graded {len(results)} submissions in {time.perf_counter() - start:.1f} s; "
          f"{len(failed) + len(flagged)} need a look; grades: {csv_path}")
    for r in failed:
        print(f"  needs a look: {r.student}: {r.status}")
    for r in flagged:
        print(f"  needs a look: {r.student}: {'; '.join(f for f in r.flags if f != 'no sandbox')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
