"""Time a cold and a warm build of the book and each chapter's execution time, against the budget.

Builds the whole book (``_toc.yml``) with ``tools/build_book.py`` -- exactly what
``make book`` runs -- into a private output folder (never the repository's ``_build``):

1. a **cold** build (``--fresh``: execution cache, doctrees and HTML wiped first), timed;
2. a **warm** build right after it with nothing changed, timed.

Each chapter's execution time is the one the build itself measured: myst-nb executes a
notebook through jupyter-cache and stores the wall time of the execution in the cache
record (``data["execution_seconds"]`` in ``<output>/_build/.jupyter_cache``), which is
read back here with jupyter-cache's API.

Budget (issue 2): each chapter executes in at most 45 s on 2 CPU cores; the whole cold
build takes at most 5 minutes. Lines over budget are marked ``OVER BUDGET``. This script
prints; it never asserts (see ``benchmarks/README.md``).

Usage::

    python benchmarks/bench_book_build.py [--output DIR] [--keep]
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
COLD_BUILD_BUDGET_S = 300.0


def mark(seconds: float, budget: float) -> str:
    return f"OVER BUDGET (> {budget:.0f} s)" if seconds > budget else f"ok (<= {budget:.0f} s)"


def timed_build(output: Path, fresh: bool, log: Path) -> tuple[int, float]:
    cmd = [sys.executable, str(ROOT / "tools" / "build_book.py"), "--output", str(output), "--quiet"]
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", type=Path, default=None,
                   help="private build folder (default: a new temp dir, removed afterwards)")
    p.add_argument("--keep", action="store_true", help="keep the temp build folder")
    args = p.parse_args(argv)
    output = (args.output or Path(tempfile.mkdtemp(prefix="lec4-bench-build-"))).resolve()
    output.mkdir(parents=True, exist_ok=True)
    if output == ROOT or output == ROOT / "_build":
        p.error("use a private output folder, not the repository's own _build")

    print(f"book build benchmark: {os.cpu_count()} CPUs visible, output in {output}")
    rc_cold, cold = timed_build(output, fresh=True, log=output / "cold-build.log")
    records = cache_records(output)
    times = {rel: sec for rel, (sec, _) in records.items()}
    rc_warm, warm = timed_build(output, fresh=False, log=output / "warm-build.log")
    after = cache_records(output)
    reexecuted = sorted(rel for rel in after if after[rel][1] != records.get(rel, (0, None))[1])

    print(f"cold build  {cold:8.1f} s  exit {rc_cold}  {mark(cold, COLD_BUILD_BUDGET_S)}")
    print(f"warm build  {warm:8.1f} s  exit {rc_warm}  (nothing changed; "
          f"{len(reexecuted)} notebooks re-executed{': ' + ', '.join(reexecuted) if reexecuted else ''})")
    for name in ("cold", "warm"):   # what tools/build_book.py decided, and why
        for line in (output / f"{name}-build.log").read_text().splitlines():
            if line.startswith(("[build_book] cold build", "[build_book] warm build")):
                print(f"  {name}: {line}")
                break
    for rc, name in ((rc_cold, "cold"), (rc_warm, "warm")):
        if rc != 0:
            tail = (output / f"{name}-build.log").read_text().splitlines()[-25:]
            print(f"  the {name} build FAILED; last lines of {output / f'{name}-build.log'}:")
            print("\n".join("    " + line for line in tail))

    print("chapter execution times (recorded by the build, jupyter-cache execution_seconds):")
    total = 0.0
    for doc in toc_documents():
        md = ROOT / f"{doc}.md"
        if not is_myst_notebook(md):
            continue
        rel = md.relative_to(ROOT).as_posix()
        if rel in times:
            total += times[rel]
            print(f"  {times[rel]:8.1f} s  {rel:45s} {mark(times[rel], CHAPTER_BUDGET_S)}")
        else:
            print(f"  {'--':>8}    {rel:45s} NOT EXECUTED (no cache record: it raised or the build stopped)")
    print(f"  {total:8.1f} s  sum of chapter execution times")

    if args.output is None and not args.keep:
        shutil.rmtree(output, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
