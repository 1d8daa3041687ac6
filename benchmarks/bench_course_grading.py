"""A course's worth of grading, end to end: the grading command on N submissions.

The benchmark writes N hw1 submissions of mixed kinds (correct, other-but-correct,
partially wrong, raising, untouched, edited and deleted test cells, delegating to
torch.optim, monkeypatching numpy, editing metadata, a dead kernel, unreadable JSON;
cycled in that order) into a zip, as a Canvas download names them, and runs
``assignments/grade.py grade`` on it: collect, autograde (sandboxed), feedback, CSV.
It measures, in the same run:

* ``--jobs 1`` and ``--jobs 2``, each in a fresh course directory, wall time of the whole
  command and per submission, and the grading process's peak memory (printed by the
  command itself);
* the nbgrader CLI (``nbgrader autograde --student S``, one call per student, no sandbox) on
  a subset, per submission.

Targets (issue 12, 2 cores, sandbox on): ``--jobs 2`` at most 0.6x the time of ``--jobs 1``
and at most 0.8 s of wall time per submission. Measured, not extrapolated. Prints;
never asserts.

Usage::

    python benchmarks/bench_course_grading.py [--n 200] [--n-cli 5]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "assignments"))
sys.path.insert(0, str(ROOT / "tests" / "grading"))

import submissions  # noqa: E402
from bench_autograde import nbgrader_cli_seconds  # noqa: E402
from coursetools.pipeline import Course  # noqa: E402

KINDS = ["correct", "different_but_correct", "partially_wrong", "raises", "untouched_stub",
         "edited_test_cell", "deleted_test_cell", "delegates_to_torch_optim", "monkeypatch_numpy",
         "edits_metadata", "kernel_death", "malformed_notebook"]
GOAL_RATIO = 0.6
GOAL_PER_SUBMISSION_S = 0.8


def grade(course: Path, upload: Path, jobs: int) -> tuple[float, str]:
    cmd = [sys.executable, str(ROOT / "assignments" / "grade.py"), "--course", str(course), "grade", "hw1",
           str(upload), "--jobs", str(jobs), "--no-progress", "--timeout", "30"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"could not run: grade --jobs {jobs} exited {proc.returncode}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="submissions (default 200)")
    parser.add_argument("--n-cli", type=int, default=5, help="submissions graded by the nbgrader CLI (default 5)")
    args = parser.parse_args(argv)
    if args.n < 2 or args.n_cli < 1:
        raise SystemExit("--n must be >= 2 and --n-cli >= 1")
    tmp = Path(tempfile.mkdtemp(prefix="lec4-bench-course-"))
    try:
        c = Course(tmp / "gen", log=lambda line: None)
        kinds_dir = tmp / "kinds"
        submissions.write_submissions(c.release("hw1"), kinds_dir, adversarial=True, course=tmp / "gen")
        upload = tmp / "canvas.zip"
        expected = {}
        with zipfile.ZipFile(upload, "w") as zf:
            for k in range(args.n):
                kind = KINDS[k % len(KINDS)]
                name = f"student{k:04d}_{10000 + k}_{50000 + k}_hw1.ipynb"
                zf.write(kinds_dir / kind / "hw1.ipynb", name)
                expected[f"student{k:04d}"] = kind
        times, peaks = {}, {}
        for jobs in (1, 2):
            seconds, out = grade(tmp / f"course-j{jobs}", upload, jobs)
            times[jobs] = seconds
            m = re.search(r"peak memory of this process: (\d+) MiB", out)
            peaks[jobs] = m.group(1) if m else "?"
            graded = len(re.findall(r"^\[\d+/\d+\] ", out, flags=re.M))
            if graded != args.n:
                raise SystemExit(f"could not run: --jobs {jobs} graded {graded} of {args.n}")

        # the nbgrader CLI, one call per student, on the first n_cli submissions of jobs 1's course
        cli = sorted(expected)[: args.n_cli]
        t_cli = nbgrader_cli_seconds(tmp / "course-j1", cli)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    n = args.n
    print(f"{n} submissions ({len(KINDS)} kinds, cycled), Canvas zip, sandbox on, collect + autograde + feedback + CSV:")
    for jobs in (1, 2):
        print(f"  --jobs {jobs}: {times[jobs]:.1f} s wall, {times[jobs] / n:.2f} s per submission, "
              f"peak memory of the grading process {peaks[jobs]} MiB")
    ratio = times[2] / times[1]
    print(f"  ratio --jobs 2 / --jobs 1: {ratio:.2f} [goal <= {GOAL_RATIO}: {'ok' if ratio <= GOAL_RATIO else 'OVER GOAL'}]")
    per = times[2] / n
    print(f"  --jobs 2 per submission: {per:.2f} s [goal <= {GOAL_PER_SUBMISSION_S} s: "
          f"{'ok' if per <= GOAL_PER_SUBMISSION_S else 'OVER GOAL'}]")
    print(f"  nbgrader CLI autograde only, one call per student, no sandbox: {t_cli:.2f} s per submission "
          f"({len(cli)} submissions); ratio CLI / --jobs 2: {t_cli / per:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
