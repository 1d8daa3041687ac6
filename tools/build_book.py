"""Build the book with Jupyter Book 1, never reusing results computed by an older lec4lib.

``jupyter-book``'s execution cache keys on the notebook text only, and Sphinx re-reads
only the pages whose source changed, so after a change to the library a plain rebuild
would keep numbers computed by the old code. This script fingerprints the watched
files (``lec4lib/`` by default, which holds the stored results of expensive runs in
``lec4lib/data/results/`` too) and the tool versions; when the fingerprint
differs from the one recorded by the last *successful* build, or the last build failed,
it removes the execution cache, the doctrees and the HTML first (a cold build).
Otherwise it builds incrementally (a warm build).

The build runs ``jupyter-book build <book> -W -n --keep-going``: any warning, a broken
reference or a raising cell (``nb_execution_raise_on_error``) makes it exit non-zero.

Before Sphinx runs, the homework is released into ``chapters/homework-files/`` (the student
notebooks the homework page offers as downloads, and its schedule table: see
``assignments/coursetools/site.py``); a failed release fails the build.

The kernels of the build start with ``numpy.set_printoptions(legacy="1.25")`` (an IPython
startup file in a build-private ``IPYTHONDIR``): NumPy 2 writes a scalar's text/plain as
``np.float64(0.5)``, which ``{glue:text}`name:.3f``` cannot format (a warning, so a failed
build; MyST-NB issue #610). The legacy repr is ``0.5``; the values are unchanged.

Usage::

    python tools/build_book.py [--book DIR] [--output DIR] [--watch PATH ...] [--fresh]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".lec4-build-ok"
STALE = [".jupyter_cache", ".doctrees", "html", "jupyter_execute"]
KERNEL_STARTUP = """\
# Written by tools/build_book.py for the book build's kernels only (see its docstring).
try:
    import numpy as _np
    _np.set_printoptions(legacy="1.25")   # text/plain of np.float64(0.5) is "0.5" again
    del _np
except ImportError:
    pass
"""


def kernel_environment(build_dir: Path) -> dict[str, str]:
    """The build's environment: a private IPYTHONDIR whose startup file sets NumPy's repr."""
    ipython_dir = build_dir / ".ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-numpy-scalar-repr.py").write_text(KERNEL_STARTUP)
    return dict(os.environ, IPYTHONDIR=str(ipython_dir))


def fingerprint(paths: list[Path]) -> str:
    """Hash of every file under ``paths`` (content and relative name) plus tool versions."""
    h = hashlib.sha256()
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".pyc":
                continue
            h.update(str(f.relative_to(base.parent)).encode())
            h.update(f.read_bytes())
    for dist in ("jupyter-book", "myst-nb", "numpy", "scipy", "scikit-learn", "torch", "timm",
                 "matplotlib", "numba"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            pass
    h.update(platform.python_version().encode())
    h.update(KERNEL_STARTUP.encode())
    return h.hexdigest()


def release_homework(book: Path) -> None:
    """Write the homework page's downloads and schedule (``assignments/coursetools/site.py``).

    Only for a book with a homework page (``chapters/homework.md``).
    """
    if not (book / "chapters" / "homework.md").exists():
        return
    sys.path.insert(0, str(ROOT / "assignments"))
    try:
        from coursetools.site import write_site_files
    finally:
        sys.path.remove(str(ROOT / "assignments"))
    t0 = time.perf_counter()
    write_site_files(book, log=lambda line: print(line, flush=True))
    print(f"[build_book] homework released in {time.perf_counter() - t0:.1f} s", flush=True)


def build(book: Path, watch: list[Path], fresh: bool = False, quiet: bool = False,
          output: Path | None = None) -> int:
    """Build ``book`` into ``<output>/_build/html``; return jupyter-book's exit code.

    ``output`` defaults to ``book`` itself (the site is then ``book/_build/html``).
    """
    output = book if output is None else output
    build_dir = output / "_build"
    stamp = build_dir / STAMP
    fp = fingerprint(watch)
    previous = stamp.read_text() if stamp.exists() else None
    if fresh or previous != fp:
        why = "requested" if fresh else ("no successful build recorded" if previous is None
                                         else "watched library files changed")
        print(f"[build_book] cold build ({why}): clearing execution cache and doctrees", flush=True)
        for name in STALE:
            shutil.rmtree(build_dir / name, ignore_errors=True)
    else:
        print("[build_book] warm build: library unchanged since the last successful build", flush=True)
    stamp.unlink(missing_ok=True)
    release_homework(book)
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(book), "-W", "-n", "--keep-going"]
    if output != book:
        cmd += ["--path-output", str(output)]
    if quiet:
        cmd.append("-q")
    t0 = time.perf_counter()
    rc = subprocess.call(cmd, env=kernel_environment(build_dir))
    print(f"[build_book] jupyter-book exited {rc} after {time.perf_counter() - t0:.1f} s", flush=True)
    if rc == 0:
        build_dir.mkdir(exist_ok=True)
        stamp.write_text(fp)
    return rc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--book", type=Path, default=ROOT, help="book directory (default: the repository)")
    p.add_argument("--watch", type=Path, nargs="*", default=None,
                   help="library files or folders whose change forces a cold build "
                        "(default: lec4lib/, stored results included)")
    p.add_argument("--output", type=Path, default=None,
                   help="write <OUTPUT>/_build instead of <BOOK>/_build (a private build folder)")
    p.add_argument("--fresh", action="store_true", help="always build cold")
    p.add_argument("--quiet", action="store_true", help="pass -q to jupyter-book")
    args = p.parse_args(argv)
    # lec4lib/ includes lec4lib/data: the slide map and the stored results of expensive
    # runs (e.g. GPU), which chapters read: as much an input of the pages as the code, and
    # equally invisible to the execution cache.
    watch = args.watch if args.watch is not None else [ROOT / "lec4lib"]
    output = args.output.resolve() if args.output else None
    return build(args.book.resolve(), [w.resolve() for w in watch], fresh=args.fresh,
                 quiet=args.quiet, output=output)


if __name__ == "__main__":
    sys.exit(main())
