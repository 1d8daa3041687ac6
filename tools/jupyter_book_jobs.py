"""Run Jupyter Book 1's command line with Sphinx reading and writing in ``N`` processes.

``jupyter-book build`` has no option for Sphinx's parallel build (``sphinx-build -j``),
although the function it calls, ``jupyter_book.sphinx.build_sphinx``, takes ``jobs``. This
runs the same command line with that argument set::

    python tools/jupyter_book_jobs.py N build BOOK [jupyter-book options]

``tools/build_book.py`` runs it with one process per CPU core. Sphinx forks ``N`` workers
only when every extension declares itself safe for it; the book's own extension
(``_ext/lec4_site.py``) makes the declaration that ``sphinx-multitoc-numbering`` lacks.
"""

from __future__ import annotations

import functools
import sys


def main(argv: list[str]) -> int:
    if not argv or not argv[0].isdigit() or int(argv[0]) < 1:
        print("usage: jupyter_book_jobs.py N build BOOK [options]  (N >= 1)", file=sys.stderr)
        return 2
    jobs = int(argv[0])
    import jupyter_book.sphinx as jb_sphinx
    from jupyter_book.cli.main import main as cli

    # the build command imports build_sphinx from its module when it runs
    jb_sphinx.build_sphinx = functools.partial(jb_sphinx.build_sphinx, jobs=jobs)
    return cli.main(args=argv[1:], prog_name="jupyter-book")     # exits with its status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
