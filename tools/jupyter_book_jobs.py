"""Run Jupyter Book 1's command line with Sphinx reading and writing in ``N`` processes.

``jupyter-book build`` has no option for Sphinx's parallel build (``sphinx-build -j``),
although the function it calls, ``jupyter_book.sphinx.build_sphinx``, takes ``jobs``. This
runs the same command line with that argument set::

    python tools/jupyter_book_jobs.py [--wait] [--preload PACKAGE ...] N build BOOK [options]

``tools/build_book.py`` runs it with one process per CPU core, plus one. Sphinx forks ``N``
workers only when every extension declares itself safe for it; the book's own extension
(``_ext/lec4_site.py``) makes the declaration that ``sphinx-multitoc-numbering`` lacks.

``--wait`` starts Sphinx ahead of time: jupyter-book reads the book's configuration and
creates the Sphinx application (extensions loaded, builder set up), the ``--preload``
packages are imported with every module in them, and then it waits for one line on its
standard input. ``build`` builds; anything else, or the end of the input, exits with
status 3 without building. What it prints before the line is held back, and printed when
it builds (or fails before it waits), so that it does not interleave with the output of
whoever started it; told not to build, it drops it.
``tools/build_book.py`` starts it so while the notebooks execute: Sphinx's start (2-3 s)
and the imports of the library that the API pages document (autodoc, 2 s, otherwise done
again in the process that reads those pages) overlap the execution, and nothing Sphinx
reads has been read before the line comes (it finds the documents and reads them only
when it builds).
"""

from __future__ import annotations

import functools
import importlib
import io
import os
import pkgutil
import sys

#: exit status of a ``--wait`` run told not to build
NOT_BUILT = 3


class HeldStream(io.TextIOBase):
    """A text stream that keeps what is written until :meth:`release`, then passes through."""

    def __init__(self, target):
        self.target = target
        self.held: list[str] | None = []

    def write(self, text: str) -> int:
        if not isinstance(text, str):     # a text stream (click probes with bytes)
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.held is None:
            return self.target.write(text)
        self.held.append(text)
        return len(text)

    def flush(self) -> None:
        if self.held is None:
            self.target.flush()

    def release(self) -> None:
        if self.held is not None:
            self.target.write("".join(self.held))
            self.held = None
            self.target.flush()

    def discard(self) -> None:
        """Drop what is held (and pass through from now on)."""
        self.held = None

    def isatty(self) -> bool:
        return self.target.isatty()

    @property
    def encoding(self):
        return getattr(self.target, "encoding", "utf-8")


def preload(package: str) -> None:
    """Import ``package`` and every module in it (for autodoc); a module that fails to
    import is left to autodoc, which reports it when it imports it itself."""
    try:
        pkg = importlib.import_module(package)
    except Exception:
        return
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), f"{package}."):
        try:
            importlib.import_module(info.name)
        except Exception:
            pass


def wait_for_go() -> bool:
    """Read one line of standard input; True when it says ``build``."""
    return sys.stdin.readline().strip() == "build"


def main(argv: list[str]) -> int:
    argv = list(argv)
    wait, packages = False, []
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--wait":
            wait = True
        elif opt == "--preload" and argv:
            packages.append(argv.pop(0))
        else:
            argv = []
            break
    if not argv or not argv[0].isdigit() or int(argv[0]) < 1:
        print("usage: jupyter_book_jobs.py [--wait] [--preload PACKAGE ...] N build BOOK "
              "[options]  (N >= 1)", file=sys.stderr)
        return 2
    jobs = int(argv[0])
    import jupyter_book.sphinx as jb_sphinx
    from jupyter_book.cli.main import main as cli

    # the build command imports build_sphinx from its module when it runs
    jb_sphinx.build_sphinx = functools.partial(jb_sphinx.build_sphinx, jobs=jobs)
    if wait:
        from sphinx.application import Sphinx

        out, err = HeldStream(sys.stdout), HeldStream(sys.stderr)
        sys.stdout, sys.stderr = out, err
        build = Sphinx.build

        def build_when_told(app, *args, **kwargs):
            for package in packages:
                preload(package)
            if not wait_for_go():          # the build failed before Sphinx's turn
                out.discard()
                err.discard()
                raise SystemExit(NOT_BUILT)
            out.release()
            err.release()
            return build(app, *args, **kwargs)

        Sphinx.build = build_when_told
    try:
        return cli.main(args=argv[1:], prog_name="jupyter-book")     # exits with its status
    finally:
        if wait:
            out.release()
            err.release()


def exit_now(code) -> None:
    """Exit with ``code`` as ``sys.exit`` would, but without the interpreter's teardown.

    By then Sphinx has written every file and joined its processes; what is left is
    freeing the modules and the pickled pages, 1-2 s with torch imported (the preloaded
    library), which the build would wait for."""
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        status = main(sys.argv[1:])
    except SystemExit as exc:
        status = exc.code
    exit_now(status)
