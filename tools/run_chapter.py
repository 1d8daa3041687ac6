"""Execute MyST chapter notebooks outside the book build and report their run times.

Useful while writing a chapter (no Sphinx, no shared ``_build``), and used by
``benchmarks/bench_book_build.py`` for per-chapter times. Each notebook runs in a fresh
kernel with the chapter folder as working directory, exactly as the book build does.

Usage::

    python tools/run_chapter.py chapters/01-stochastic-gradient.md [more.md ...]

Exits 1 if any notebook raises; prints ``<seconds>  <path>`` per notebook.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run(path: Path, timeout: int = 120) -> float:
    """Execute one MyST notebook; return its wall time in seconds (raises on error)."""
    nb = jupytext.read(path)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--timeout", type=int, default=120, help="seconds per cell (as _config.yml)")
    args = p.parse_args(argv)
    failed = 0
    for path in args.paths:
        try:
            print(f"{run(path, args.timeout):8.1f} s  {path}", flush=True)
        except CellExecutionError as exc:
            failed += 1
            print(f"  FAILED  {path}\n{exc}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
