"""Time cold (parallel and serial) and warm builds of the book, and each chapter's execution.

Builds the whole book (``_toc.yml``) with ``tools/build_book.py`` -- exactly what
``make book`` runs -- into a private output folder (never the repository's ``_build``):

1. a **cold** build (``--fresh``: execution cache, doctrees and HTML wiped first) with the
   default ``--jobs`` (one notebook executing per CPU core), timed;
2. a **warm** build right after it with nothing changed, timed;
3. a **serial** cold build (``--fresh --jobs 1``: one notebook after another), timed, and
   the ratio serial / parallel of the two cold builds;
4. a cold build with plainly started kernels (``--fresh --no-preload``: every kernel imports
   IPython, torch, ... itself instead of being a fork of the build's zygote), timed, and
   the ratio plain / zygote of the two parallel cold builds.

Each chapter's execution time is the one the build itself measured, in the serial build
(each notebook alone on the machine) and in the parallel one (sharing it): the build
stores the wall time of each execution in its jupyter-cache record
(``data["execution_seconds"]`` in ``<output>/_build/.jupyter_cache``, read back here with
jupyter-cache's API).

Budget: each chapter executes in at most 45 s on 2 CPU cores (issue 2, the serial time);
the parallel cold build takes at most 90 s and a warm build at most 5 s (issue 16). Lines
over budget are marked ``OVER BUDGET``. This script prints; it never asserts (see
``benchmarks/README.md``).

Usage::

    python benchmarks/bench_book_build.py [--output DIR] [--keep] [--no-serial] [--no-plain]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from notebooks import is_myst_notebook, toc_documents  # noqa: E402  (tools/notebooks.py)

CHAPTER_BUDGET_S = 45.0
COLD_BUILD_BUDGET_S = 90.0
WARM_BUILD_BUDGET_S = 5.0


def mark(seconds: float, budget: float) -> str:
    return f"OVER BUDGET (> {budget:.0f} s)" if seconds > budget else f"ok (<= {budget:.0f} s)"


def timed_build(output: Path, fresh: bool, log: Path, *options: str) -> tuple[int, float]:
    cmd = [sys.executable, str(ROOT / "tools" / "build_book.py"), "--output", str(output),
           "--quiet", *options]
    if fresh:
        cmd.append("--fresh")
    t0 = time.perf_counter()
    with log.open("w") as fh:
        rc = subprocess.call(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    return rc, time.perf_counter() - t0


def cache_records(output: Path) -> dict[str, tuple[float, float]]:
    """Per source file (relative to the repository): (seconds, created) recorded by jupyter-cache."""
    cache_dir = output / "_build" / ".jupyter_cache"
    if not cache_dir.exists():
        return {}
    out = {}
    for record in get_cache(str(cache_dir)).list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            rel = Path(record.uri).resolve().relative_to(ROOT).as_posix()
            out[rel] = (float(seconds), record.created.timestamp())
    return out


def build_lines(log: Path) -> list[str]:
    """What tools/build_book.py decided and how long its steps took: its own log lines,
    less the one-per-notebook progress lines (the chapter table below has their times)."""
    return [line for line in log.read_text().splitlines()
            if line.startswith("[build_book] ")
            and not (line.startswith("[build_book] executed ") and " of " not in line)]


def report_build(name: str, rc: int, log: Path) -> None:
    for line in build_lines(log):
        print(f"  {name}: {line}")
    if rc != 0:
        tail = log.read_text().splitlines()[-25:]
        print(f"  the {name} build FAILED; last lines of {log}:")
        print("\n".join("    " + line for line in tail))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", type=Path, default=None,
                   help="private build folder (default: a new temp dir, removed afterwards)")
    p.add_argument("--keep", action="store_true", help="keep the temp build folder")
    p.add_argument("--no-serial", action="store_true",
                   help="skip the serial cold build (and the ratio)")
    p.add_argument("--no-plain", action="store_true",
                   help="skip the cold build with plainly started kernels (and the ratio)")
    args = p.parse_args(argv)
    output = (args.output or Path(tempfile.mkdtemp(prefix="lec4-bench-build-"))).resolve()
    output.mkdir(parents=True, exist_ok=True)
    if output == ROOT or output == ROOT / "_build":
        p.error("use a private output folder, not the repository's own _build")

    print(f"book build benchmark: {os.cpu_count()} CPUs visible, output in {output}")
    rc_cold, cold = timed_build(output, True, output / "cold-build.log")
    records = cache_records(output)
    parallel_times = {rel: sec for rel, (sec, _) in records.items()}
    rc_warm, warm = timed_build(output, False, output / "warm-build.log")
    after = cache_records(output)
    reexecuted = sorted(rel for rel in after if after[rel][1] != records.get(rel, (0, None))[1])
    serial_times: dict[str, float] = {}
    if not args.no_serial:
        rc_serial, serial = timed_build(output, True, output / "serial-build.log", "--jobs", "1")
        serial_times = {rel: sec for rel, (sec, _) in cache_records(output).items()}
    if not args.no_plain:
        rc_plain, plain = timed_build(output, True, output / "plain-build.log", "--no-preload")

    print(f"cold build  {cold:8.1f} s  exit {rc_cold}  parallel (default --jobs)  "
          f"{mark(cold, COLD_BUILD_BUDGET_S)}")
    print(f"warm build  {warm:8.1f} s  exit {rc_warm}  nothing changed; {len(reexecuted)} notebooks "
          f"re-executed{': ' + ', '.join(reexecuted) if reexecuted else ''}  "
          f"{mark(warm, WARM_BUILD_BUDGET_S)}")
    if not args.no_serial:
        print(f"serial cold {serial:8.1f} s  exit {rc_serial}  --jobs 1")
        print(f"cold build: serial {serial:.1f} s, parallel {cold:.1f} s, "
              f"ratio serial/parallel {serial / cold:.2f}")
    if not args.no_plain:
        print(f"plain cold  {plain:8.1f} s  exit {rc_plain}  --no-preload (kernels not forked "
              "from the zygote)")
        print(f"cold build: plain kernels {plain:.1f} s, zygote {cold:.1f} s, "
              f"ratio plain/zygote {plain / cold:.2f}")
    report_build("cold", rc_cold, output / "cold-build.log")
    report_build("warm", rc_warm, output / "warm-build.log")
    if not args.no_serial:
        report_build("serial", rc_serial, output / "serial-build.log")
    if not args.no_plain:
        report_build("plain", rc_plain, output / "plain-build.log")

    label = "serial" if serial_times else "parallel"
    print("chapter execution times (recorded by the build, jupyter-cache execution_seconds; "
          f"budget on the {label} time):")
    print(f"  {'serial':>8}    {'parallel':>8}    chapter")
    totals = [0.0, 0.0]
    for doc in toc_documents():
        md = ROOT / f"{doc}.md"
        if not is_myst_notebook(md):
            continue
        rel = md.relative_to(ROOT).as_posix()
        ser, par = serial_times.get(rel), parallel_times.get(rel)
        budgeted = ser if serial_times else par
        if ser is not None:
            totals[0] += ser
        if par is not None:
            totals[1] += par
        cols = "  ".join(f"{t:8.1f} s" if t is not None else f"{'--':>8}  " for t in (ser, par))
        verdict = (mark(budgeted, CHAPTER_BUDGET_S) if budgeted is not None else
                   "NOT EXECUTED (no cache record: it raised or the build stopped)")
        print(f"  {cols}  {rel:45s} {verdict}")
    print(f"  {totals[0]:8.1f} s  {totals[1]:8.1f} s  sum of chapter execution times")

    if args.output is None and not args.keep:
        shutil.rmtree(output, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
