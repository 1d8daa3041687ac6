"""Build the book with Jupyter Book 1, never reusing results computed by an older lec4lib.

``jupyter-book``'s execution cache keys on the notebook text only, and Sphinx re-reads
only the pages whose source changed, so after a change to the library a plain rebuild
would keep numbers computed by the old code. This script fingerprints the watched
files (``lec4lib/`` and the book's Sphinx extension ``_ext/`` by default; ``lec4lib/``
holds the stored results of expensive runs in ``lec4lib/data/results/`` too) and the tool
versions; when the fingerprint differs from the one recorded by the last *successful*
build, or the last build failed, it removes the execution cache, the doctrees and the HTML
first (a cold build). Otherwise it builds incrementally (a warm build).

**Notebooks execute in parallel, before Sphinx runs.** Every document of ``_toc.yml`` that
myst-nb reads as a notebook is read here with myst-nb's own reader and the book's parser
configuration (``jupyter-book``'s final Sphinx configuration), so it hashes exactly as
myst-nb will hash it. The notebooks the execution cache (``<output>/_build/.jupyter_cache``)
does not hold yet execute in a pool of ``--jobs`` worker processes (default: one per CPU
core), longest first (by the times of earlier builds, kept in ``_build/.lec4-exec-times.json``;
before the first, by the book's committed ``tools/exec-times.json``),
with what myst-nb's cache mode uses: jupyter-cache's ``single_nb_execution``, the cwd (the
notebook's folder, or a temp dir with ``execute.run_in_temp``), the cell timeout and
``allow_errors`` of ``_config.yml`` (and a notebook's own ``mystnb`` overrides). Each result
goes into the cache the way myst-nb stores it, so Sphinx then finds every notebook cached
("Using cached notebook") and executes none; the script says so when Sphinx executed one
itself (which would mean the two disagreed on a notebook's hash). ``--jobs 1`` executes
them one after another (the serial baseline of ``benchmarks/bench_book_build.py``).

The build runs ``jupyter-book build <book> -W -n --keep-going``: any warning, a broken
reference or a raising cell makes it exit non-zero. Sphinx reads and writes the pages in
parallel too (``tools/jupyter_book_jobs.py``: jupyter-book's command line has no ``-j``),
with ``sphinx_jobs(--jobs)`` processes: one more than ``--jobs`` when that is above 1,
since Sphinx writes with all but one of them while the main one resolves the pages; it
writes the same HTML as with one. In a parallel build Sphinx starts before it is needed:
when the last notebooks have their workers, ``jupyter_book_jobs.py --wait`` sets Sphinx up
and imports the library the API pages document (``SPHINX_PRELOAD``), then waits, its
output held back, until the execution is over; it then builds, or, when a notebook raised,
exits without a word. Nothing it reads is read before it is told to build.

A notebook that raises (or times out) during the parallel execution is reported by its document name with the traceback; with
``nb_execution_raise_on_error`` (our ``_config.yml``) the build then fails without running
Sphinx, after the other notebooks finished. Without it, the notebook is left uncached and
myst-nb executes and reports it as before.

A warm build skips Sphinx altogether when no file it may read changed: the names, sizes
and modification times of the book's files (taken before the last successful build ran
Sphinx, in ``_build/.lec4-sources``) are compared, leaving out tool folders
(``NOT_SOURCES``) and folders that ``exclude_patterns`` names and no page depends on
(``unread_folders``: ``tests/``, ``tools/``, ...). The watched files, the tools and the
homework are checked as before. When a file under ``html_static_path`` (``_static/``) changed,
Sphinx runs with ``--all``: on its own it copies static files only when it writes a page,
and after a change to them alone it writes none.

Before Sphinx runs, the homework is released into ``chapters/homework-files/`` (the student
notebooks the homework page offers as downloads, and its schedule table: see
``assignments/coursetools/site.py``); a failed release fails the build. The release is
skipped when neither its inputs (``assignments/``, the watched files, nbgrader's and the
notebook tools' versions) nor the released files changed since the last release recorded
in ``_build/.lec4-homework-release`` (``--fresh`` always releases).

The kernels of the build start with ``numpy.set_printoptions(legacy="1.25")`` (an IPython
startup file in a build-private ``IPYTHONDIR``): NumPy 2 writes a scalar's text/plain as
``np.float64(0.5)``, which ``{glue:text}`name:.3f``` cannot format (a warning, so a failed
build; MyST-NB issue #610). The legacy repr is ``0.5``; the values are unchanged. The same
file keeps ``rfc3987_syntax`` from importing: jsonschema (under nbformat, which MyST-NB's
``glue`` imports) builds its IRI grammars at import, 1.5-2 s per kernel, for the ``iri``
format check that no notebook schema uses.

Every kernel (and Sphinx) runs with one compute thread, ``THREAD_LIMITS``, whatever
``--jobs`` is, so that a serial and a parallel build compute the same numbers: with one
kernel per core, BLAS's and torch's thread pools only contend for the cores.

**The kernels are forks of a zygote** (``tools/kernel_zygote.py``, class :class:`Kernels`):
one process, started with the build's environment, imports IPython, ipykernel, NumPy,
SciPy, scikit-learn, torch, matplotlib and MyST-NB's glue once; the ``python3`` kernel spec
the workers find first on ``JUPYTER_PATH`` launches a stub that has it fork a kernel. That
saves each kernel the 4-6 s of CPU those imports take. A cold build starts the zygote
before it releases the homework, so the imports overlap the release. A forked kernel sees
the environment, working directory, ``sys.path`` and ``sys.argv`` of a plainly started
one, and has its own random state (``tests/site/test_kernel_zygote.py``). ``--no-preload``
starts every kernel the usual way; a zygote that fails to start is logged, and the build
goes on without it.

Usage::

    python tools/build_book.py [--book DIR] [--output DIR] [--watch PATH ...] [--fresh]
                               [--jobs N] [--no-preload] [--quiet]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from notebooks import toc_documents  # noqa: E402  (tools/notebooks.py)

STAMP = ".lec4-build-ok"
STALE = [".jupyter_cache", ".doctrees", "html", "jupyter_execute"]
#: seconds each document took to execute, by document name: survives cold builds (it only
#: orders the next execution, longest first; the execution cache is the authority)
TIMES = ".lec4-exec-times.json"
#: the book's committed times (``tools/exec-times.json``): the order of a build that has no
#: times of its own yet (a fresh clone, a private --output folder), which would otherwise
#: run in toc order and start its longest chapter last; refresh it from ``TIMES`` when the
#: chapters' costs change much (it only orders, so a stale one costs seconds, not results)
BOOK_TIMES = PurePosixPath("tools", "exec-times.json")
HOMEWORK_STAMP = ".lec4-homework-release"
#: source_listing() of the book taken before the last successful build ran Sphinx
SOURCES = ".lec4-sources"
#: static_listing() of the book's static folders at the last successful build
STATIC_SOURCES = ".lec4-static"
KERNEL_STARTUP = """\
# Written by tools/build_book.py for the book build's kernels only (see its docstring).
try:
    import numpy as _np
    _np.set_printoptions(legacy="1.25")   # text/plain of np.float64(0.5) is "0.5" again
    del _np
except ImportError:
    pass
# MyST-NB's glue imports nbformat, whose jsonschema builds the IRI grammars of the optional
# rfc3987-syntax at import: 1.5-2 s per kernel, for a format check no notebook schema uses
# ("iri"). Without the module jsonschema leaves that one format unchecked.
import sys as _sys
_sys.modules.setdefault("rfc3987_syntax", None)
del _sys
"""
BOOK_TOOLS = ("jupyter-book", "myst-nb", "numpy", "scipy", "scikit-learn", "torch", "timm",
              "matplotlib", "numba")
HOMEWORK_TOOLS = ("nbgrader", "nbconvert", "nbformat", "jupytext", "traitlets")


def log(line: str) -> None:
    print(f"[build_book] {line}", flush=True)


#: one compute thread per kernel, in every build (``--jobs 1`` too, so that the numbers do
#: not depend on ``--jobs``): with one kernel per core, BLAS's and torch's own thread pools
#: only fight over the cores (a chapter ran up to 1.7x slower beside another)
THREAD_LIMITS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def kernel_environment(build_dir: Path) -> dict[str, str]:
    """The build's environment: a private IPYTHONDIR whose startup file sets NumPy's repr,
    and one compute thread per process (``THREAD_LIMITS``)."""
    ipython_dir = build_dir / ".ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-numpy-scalar-repr.py").write_text(KERNEL_STARTUP)
    return dict(os.environ, IPYTHONDIR=str(ipython_dir), **THREAD_LIMITS)


def _hash_files(h, paths: list[Path]) -> None:
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".pyc":
                continue
            h.update(str(f.relative_to(base.parent)).encode())
            h.update(f.read_bytes())


def _hash_versions(h, dists) -> None:
    for dist in dists:
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            pass


def fingerprint(paths: list[Path]) -> str:
    """Hash of every file under ``paths`` (content and relative name) plus tool versions."""
    h = hashlib.sha256()
    _hash_files(h, paths)
    _hash_versions(h, BOOK_TOOLS)
    h.update(platform.python_version().encode())
    h.update(KERNEL_STARTUP.encode())
    return h.hexdigest()


# -- the homework release ----------------------------------------------------------------

def _homework_inputs(watch_fp: str) -> str:
    h = hashlib.sha256(watch_fp.encode())
    _hash_files(h, [ROOT / "assignments"])
    _hash_versions(h, HOMEWORK_TOOLS)
    return h.hexdigest()


def _released_files(folder: Path) -> str:
    h = hashlib.sha256()
    if folder.is_dir():
        _hash_files(h, [folder])
    return h.hexdigest()


def release_homework(book: Path, build_dir: Path | None = None, watch_fp: str = "",
                     force: bool = True) -> None:
    """Write the homework page's downloads and schedule (``assignments/coursetools/site.py``).

    Only for a book with a homework page (``chapters/homework.md``). With ``build_dir`` and
    ``force=False``, nothing is written when the inputs and the released files are those
    recorded in ``build_dir/.lec4-homework-release`` by the last release (its files keep
    their times, so Sphinx does not re-read the homework page either).
    """
    if not (book / "chapters" / "homework.md").exists():
        return
    sys.path.insert(0, str(ROOT / "assignments"))
    try:
        from coursetools.site import SITE_DIR, write_site_files
    finally:
        sys.path.remove(str(ROOT / "assignments"))
    stamp = build_dir / HOMEWORK_STAMP if build_dir is not None else None
    inputs = _homework_inputs(watch_fp)
    if stamp is not None and not force and stamp.exists():
        recorded = json.loads(stamp.read_text())
        if (recorded.get("inputs") == inputs
                and recorded.get("released") == _released_files(book / SITE_DIR)):
            log("homework unchanged since its last release (assignments/, tools, released "
                "files): not released again")
            return
    if stamp is not None:
        stamp.unlink(missing_ok=True)
    t0 = time.perf_counter()
    write_site_files(book, log=lambda line: print(line, flush=True))
    log(f"homework released in {time.perf_counter() - t0:.1f} s")
    if stamp is not None:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({"inputs": inputs,
                                     "released": _released_files(book / SITE_DIR)}))


# -- executing the notebooks into myst-nb's cache ----------------------------------------

@dataclass
class NotebookJob:
    """One notebook to execute, read exactly as myst-nb's Sphinx parser reads it."""

    doc: str                       # document name in _toc.yml, e.g. "chapters/02-step-size"
    path: Path                     # the source file (its absolute path is the cache uri)
    notebook: Any                  # nbformat.NotebookNode as myst-nb's reader returns it
    read_fmt: dict | None          # myst-nb's reader description, stored with the cache's project
    cwd: str | None                # None: a fresh temp dir (execute.run_in_temp)
    timeout: int | None
    allow_errors: bool
    raise_on_error: bool
    seconds: float | None = field(default=None)   # from an earlier build, for the order


def sphinx_config(book: Path) -> dict:
    """jupyter-book's final Sphinx configuration of ``book/_config.yml`` (what
    ``jupyter-book build`` hands Sphinx)."""
    from jupyter_book.config import get_final_config

    cfg, _ = get_final_config(user_yaml=book / "_config.yml",
                              cli_config={"latex_individualpages": False}, sourcedir=book)
    return cfg


def book_configs(book: Path):
    """``(MdParserConfig, NbParserConfig, exclude_patterns, static_folders)`` as
    myst-parser, myst-nb and Sphinx get them for ``book`` (``static_folders``: the
    ``html_static_path`` folders, ``_static``, relative to the book).

    Both are built from jupyter-book's final Sphinx configuration of ``book/_config.yml``
    (the dictionary ``jupyter-book build`` hands Sphinx), field by field as
    ``myst_parser.sphinx_ext.main.create_myst_config`` and
    ``myst_nb.sphinx_ext.create_mystnb_config`` do.
    """
    from myst_nb.core.config import NbParserConfig
    from myst_parser.config.main import MdParserConfig

    cfg = sphinx_config(book)
    md_values = {name: cfg[f"myst_{name}"] for name, _, f in MdParserConfig().as_triple()
                 if "sphinx" not in f.metadata.get("omit", []) and f"myst_{name}" in cfg}
    nb_values = {name: cfg[f"nb_{name}"] for name, _, f in NbParserConfig().as_triple()
                 if not f.metadata.get("sphinx_exclude") and f"nb_{name}" in cfg}
    return (MdParserConfig(**md_values), NbParserConfig(**nb_values),
            list(cfg.get("exclude_patterns", [])),
            [Path(p).as_posix().strip("/") for p in cfg.get("html_static_path", [])])


def cache_path(nb_config, build_dir: Path) -> Path:
    """Where myst-nb keeps its jupyter-cache: ``execute.cache`` or ``<build>/.jupyter_cache``."""
    return Path(nb_config.execution_cache_path or build_dir / ".jupyter_cache").resolve()


def notebook_jobs(book: Path, build_dir: Path, configs=None) -> list[NotebookJob]:
    """Every toc document that myst-nb will execute through its cache, in toc order.

    Mirrors ``myst_nb.sphinx_.Parser.parse`` up to ``create_client``: the reader myst-nb
    picks for the file (``create_nb_reader``: a Markdown file is a notebook only with a
    MyST notebook header), kernel name aliases, a notebook's ``mystnb`` metadata overrides,
    the execution mode and exclude patterns.
    """
    from myst_nb.core.nb_to_tokens import nb_node_to_dict
    from myst_nb.core.read import create_nb_reader

    md_config, nb_config = (configs or book_configs(book))[:2]
    times = {**_read_json_times(book / BOOK_TIMES), **_read_times(build_dir)}
    jobs = []
    for doc in toc_documents(book):
        path = book / f"{doc}.md"
        if not path.is_file():
            continue
        text = path.read_text("utf-8")
        reader = create_nb_reader(str(path), md_config, nb_config, text)
        if reader is None:
            continue          # a plain Markdown page: nothing to execute
        notebook = reader.read(text)
        kernel = notebook.metadata.get("kernelspec", {}).get("name", None)
        if kernel is not None and nb_config.kernel_rgx_aliases:
            for rgx, alias in nb_config.kernel_rgx_aliases.items():
                if re.fullmatch(rgx, kernel):
                    notebook.metadata["kernelspec"]["name"] = alias
                    break
        config = nb_config
        if nb_config.metadata_key in notebook.metadata:
            overrides = nb_node_to_dict(notebook.metadata[nb_config.metadata_key])
            overrides.pop("output_folder", None)
            try:
                config = nb_config.copy(**overrides)
            except Exception:   # myst-nb warns and keeps the book's configuration
                config = nb_config
        if config.execution_mode != "cache":
            continue          # myst-nb handles "off", "force", "auto", "inline" itself
        posix = PurePosixPath(path.as_posix())
        if any(posix.match(pattern) for pattern in config.execution_excludepatterns):
            continue
        jobs.append(NotebookJob(
            doc=doc, path=path, notebook=notebook, read_fmt=reader.read_fmt,
            cwd=None if config.execution_in_temp else os.path.abspath(str(path.parent)),
            timeout=config.execution_timeout, allow_errors=config.execution_allow_errors,
            raise_on_error=config.execution_raise_on_error,
            seconds=times.get(doc)))
    return jobs


def _read_times(build_dir: Path) -> dict[str, float]:
    return _read_json_times(build_dir / TIMES)


def _read_json_times(path: Path) -> dict[str, float]:
    try:
        return {k: float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _write_times(build_dir: Path, new: dict[str, float]) -> None:
    times = _read_times(build_dir)
    times.update(new)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / TIMES).write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


def longest_first(jobs: list[NotebookJob]) -> list[NotebookJob]:
    """Known times longest first; a notebook never timed comes first, in toc order."""
    unknown = [j for j in jobs if j.seconds is None]
    known = sorted((j for j in jobs if j.seconds is not None), key=lambda j: -j.seconds)
    return unknown + known


def _init_worker(env: dict[str, str]) -> None:
    """A worker's environment is the build's: its kernels inherit it (IPYTHONDIR)."""
    os.environ.clear()
    os.environ.update(env)


def _execute(job: NotebookJob) -> tuple[Any, float, str | None, str | None, str | None]:
    """Execute one notebook as myst-nb's cache client does (in a worker process).

    Returns the executed notebook, the seconds, and for a failure the error's class name,
    its message (the cell and the kernel's traceback) and the full Python traceback (which
    myst-nb records on the cache's project record).
    """
    from jupyter_cache.executors.utils import single_nb_execution

    with tempfile.TemporaryDirectory() if job.cwd is None else nullcontext(job.cwd) as cwd:
        result = single_nb_execution(job.notebook, cwd=os.path.abspath(cwd),
                                     allow_errors=job.allow_errors, timeout=job.timeout,
                                     meta_override=True)
    if result.err is None:
        return result.nb, result.time, None, None, None
    return (result.nb, result.time, type(result.err).__name__, str(result.err),
            result.exc_string)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Failure:
    doc: str
    error: str              # CellExecutionError, CellTimeoutError, ...
    seconds: float
    message: str            # the failing cell and the kernel's traceback
    raise_on_error: bool


class Kernels:
    """The environment of the build's kernels, whose ``python3`` kernels are forks of a
    zygote that imported the heavy libraries once (``tools/kernel_zygote.py``).

    :meth:`start` starts the zygote without waiting (a cold build starts it first, so it
    imports while the homework is released); :meth:`environment` waits for it and returns
    ``env`` plus a ``JUPYTER_PATH`` whose first folder holds the zygote's kernel spec. With
    ``preload=False``, or when the zygote fails to start (logged), it returns ``env`` and the
    kernels start the usual way. The socket and the spec live in a private temp folder (a
    Unix socket's path must stay under about 100 characters). Use it in a ``with`` block.
    """

    def __init__(self, env: dict[str, str], preload: bool = True):
        self.env = env
        self.preload = preload
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._zygote = None
        self._ready: dict[str, str] | None = None

    def start(self) -> None:
        if not self.preload or self._zygote is not None:
            return
        from kernel_zygote import Zygote, write_kernelspec

        self._tmp = tempfile.TemporaryDirectory(prefix="lec4-zygote-")
        folder = Path(self._tmp.name)
        write_kernelspec(folder / "jupyter", folder / "kernels.sock")
        self._zygote = Zygote(folder / "kernels.sock", self.env).start()

    def environment(self) -> dict[str, str]:
        if not self.preload:
            return self.env
        if self._ready is None:
            self.start()
            try:
                self._zygote.wait()
            except RuntimeError as exc:
                log(f"WARNING: {exc}; the kernels start without it (slower, same results)")
                self.preload = False
                self.close()
                return self.env
            log(f"kernel zygote ready {self._zygote.seconds:.1f} s after its start: "
                "kernels are forks of it")
            spec = str(Path(self._tmp.name) / "jupyter")
            self._ready = dict(self.env, JUPYTER_PATH=os.pathsep.join(
                [spec] + ([self.env["JUPYTER_PATH"]] if self.env.get("JUPYTER_PATH") else [])))
        return self._ready

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.stop()
            self._zygote = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "Kernels":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def execute_notebooks(book: Path, build_dir: Path, kernels: Kernels, jobs: int,
                      configs=None, on_tail=None) -> list[Failure]:
    """Execute into myst-nb's cache every notebook it does not hold; return the failures.

    Uses ``jobs`` worker processes, whose kernels get ``kernels.environment()``.
    ``on_tail()``, if given, is called once when every notebook left has a worker (no
    notebook waits for one any more); not at all when nothing is executed. The cache
    is written by this process only, as ``myst_nb.core.execute.cache.NotebookClientCache`` writes it: the notebook added to the
    cache's project with myst-nb's reader, then the executed notebook cached under that uri
    with ``data={"execution_seconds": ...}``; a failed notebook is not cached (with
    ``raise_on_error`` off its traceback is recorded on the project record, as myst-nb does).
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.cache.db import NbProjectRecord

    t0 = time.perf_counter()
    configs = configs or book_configs(book)
    all_jobs = notebook_jobs(book, build_dir, configs)
    cache = get_cache(str(cache_path(configs[1], build_dir)))
    todo = []
    for job in all_jobs:
        try:
            cache.match_cache_notebook(job.notebook)
        except KeyError:
            todo.append(job)
    cached = len(all_jobs) - len(todo)
    if not todo:
        log(f"{len(all_jobs)} notebooks, all in the execution cache: nothing to execute "
            f"({time.perf_counter() - t0:.1f} s)")
        return []
    todo = longest_first(todo)
    workers = max(1, min(jobs, len(todo)))
    log(f"{len(all_jobs)} notebooks: {cached} in the execution cache, executing {len(todo)} "
        f"with {workers} worker{'s' if workers > 1 else ''} (longest first)")
    stage = {}
    for job in todo:
        record = cache.add_nb_to_project(str(job.path), **(
            {"read_data": job.read_fmt} if job.read_fmt is not None else {}))
        NbProjectRecord.remove_tracebacks([record.pk], cache.db)
        stage[job.doc] = record.uri
    failures, times, done = [], {}, 0
    # spawn: a clean interpreter per worker (no inherited sqlite handles or threads)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(kernels.environment(),)) as pool:
        futures = {pool.submit(_execute, job): job for job in todo}
        if on_tail is not None and len(todo) <= workers:
            on_tail()
        for future in as_completed(futures):
            job = futures[future]
            done += 1
            if on_tail is not None and done == len(todo) - workers:
                on_tail()            # the last notebooks have their workers now
            try:
                executed, seconds, err, message, exc_string = future.result()
            except Exception as exc:   # the worker itself failed (not a cell)
                executed, seconds, err = None, 0.0, type(exc).__name__
                message = exc_string = f"{type(exc).__name__}: {exc}"
            if err is None:
                cache.cache_notebook_bundle(
                    CacheBundleIn(executed, stage[job.doc],
                                  data={"execution_seconds": seconds}),
                    check_validity=False, overwrite=True)
                times[job.doc] = seconds
                log(f"executed {job.doc} in {seconds:.1f} s ({done}/{len(todo)} done)")
            else:
                message = ANSI.sub("", message or "").strip()
                failures.append(Failure(job.doc, err, seconds, message, job.raise_on_error))
                if not job.raise_on_error:
                    NbProjectRecord.set_traceback(stage[job.doc], exc_string, cache.db)
                rel = job.path.relative_to(book) if job.path.is_relative_to(book) else job.path
                log(f"FAILED {job.doc}: {err} after {seconds:.1f} s ({done}/{len(todo)} done); "
                    f"in {rel}:\n{message}\n[build_book] (end of {job.doc}'s error)")
    _write_times(build_dir, times)
    log(f"executed {len(todo) - len(failures)} of {len(todo)} notebooks in "
        f"{time.perf_counter() - t0:.1f} s with {workers} worker{'s' if workers > 1 else ''}")
    return failures


def _cache_pks(folder: Path) -> dict[int, str] | None:
    """The cache's records, primary key: source file (None if it cannot be read)."""
    try:
        from jupyter_cache import get_cache

        if not folder.exists():
            return {}
        return {r.pk: r.uri for r in get_cache(str(folder)).list_cache_records()}
    except Exception:
        return None


#: folders never read by Sphinx (tools' caches, outputs, environments): not in the listing
NOT_SOURCES = {".git", ".venv", "node_modules", ".cache", ".pytest_cache", ".hypothesis",
               "test-artifacts", "__pycache__", ".ipynb_checkpoints", "_build"}


#: folders that shape pages although jupyter-book excludes them from the documents
ALWAYS_READ = {"_templates", "_static", "_ext"}


def unread_folders(book: Path, build_dir: Path, exclude_patterns: list[str]) -> set[str]:
    """Top-level folders of ``book`` that Sphinx never reads, whose changes cannot change
    the site: those named as a whole in ``exclude_patterns`` (``tests``, ``tools``, ...),
    less any folder that a page depends on (an ``include`` or ``literalinclude``, recorded in
    the pickled Sphinx environment). Empty when that environment cannot be read."""
    import pickle

    names = {pat.strip("/") for pat in exclude_patterns
             if pat.strip("/") and not any(c in pat.strip("/") for c in "*?[/")}
    try:
        with (build_dir / ".doctrees" / "environment.pickle").open("rb") as fh:
            env = pickle.load(fh)
        deps = {str(d) for files in env.dependencies.values() for d in files}
    except Exception:
        return set()
    srcdir = Path(str(getattr(env, "srcdir", book)))
    for dep in deps:
        target = Path(os.path.normpath(srcdir / dep))
        if target.is_relative_to(book) and target != book:
            names.discard(target.relative_to(book).parts[0])
    return {n for n in names if (book / n).is_dir()} - ALWAYS_READ


def source_files(book: Path, output: Path) -> list[tuple[str, int, int]]:
    """``(path, size, mtime_ns)`` of every file under ``book``, but in ``NOT_SOURCES`` and
    the build folder."""
    entries = []
    skip = (output / "_build").resolve()
    for folder, dirs, files in os.walk(book):
        dirs[:] = sorted(d for d in dirs if d not in NOT_SOURCES
                         and (Path(folder) / d).resolve() != skip)
        for name in sorted(files):
            path = Path(folder) / name
            try:
                st = path.stat()
            except OSError:
                continue
            entries.append((path.relative_to(book).as_posix(), st.st_size, st.st_mtime_ns))
    return entries


def source_listing(files: list[tuple[str, int, int]], unread: set[str] = frozenset()) -> str:
    """Hash of ``source_files`` less the top-level folders ``unread`` (see
    ``unread_folders``): anything else that changes (a page, an image, ``_config.yml``)
    makes the next warm build run Sphinx. Equal to the listing of the last successful
    build, it means Sphinx would find nothing to do, and the build skips it.
    """
    return _listing_hash(files, lambda rel: "/" not in rel or rel.split("/", 1)[0] not in unread)


def _listing_hash(files: list[tuple[str, int, int]], keep) -> str:
    """Hash of the entries of ``source_files`` whose path ``keep`` accepts."""
    h = hashlib.sha256()
    for rel, size, mtime in files:
        if keep(rel):
            h.update(f"{rel}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()


def static_listing(files: list[tuple[str, int, int]], folders: list[str]) -> str:
    """Hash of the ``source_files`` under the static ``folders``. Sphinx copies static files
    only when it writes a page: after a change to them alone it finds "no targets out of
    date" and leaves the site's old copies, so the build then rewrites every page."""
    return _listing_hash(files, lambda rel: any(rel.startswith(f"{f}/") for f in folders))


#: packages whose every module the waiting Sphinx imports (autodoc documents them)
SPHINX_PRELOAD = ("lec4lib",)


def start_sphinx(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start ``cmd`` (``tools/jupyter_book_jobs.py``) with ``--wait``: Sphinx sets itself up
    and imports :data:`SPHINX_PRELOAD`, then waits for :func:`run_sphinx` or
    :func:`stop_sphinx`."""
    pre = [a for pkg in SPHINX_PRELOAD for a in ("--preload", pkg)]
    return subprocess.Popen(cmd[:2] + ["--wait", *pre] + cmd[2:], env=env,
                            stdin=subprocess.PIPE, text=True)


def run_sphinx(sphinx: subprocess.Popen | None, cmd: list[str], env: dict[str, str]) -> int:
    """Tell the waiting Sphinx to build (or run ``cmd`` when none waits); its exit status."""
    if sphinx is None:
        return subprocess.call(cmd, env=env)
    try:
        sphinx.stdin.write("build\n")
        sphinx.stdin.close()
    except BrokenPipeError:        # it ended before it was told (an error at its start)
        pass
    return sphinx.wait()


def stop_sphinx(sphinx: subprocess.Popen | None) -> None:
    """End a waiting Sphinx without building (it exits when its input ends)."""
    if sphinx is None:
        return
    try:
        sphinx.stdin.close()
    except BrokenPipeError:
        pass
    try:
        sphinx.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sphinx.kill()
        sphinx.wait()


def sphinx_jobs(jobs: int) -> int:
    """Sphinx's processes for ``jobs`` cores: ``jobs + 1`` when ``jobs > 1``, else 1.

    Sphinx reads in ``N`` processes but writes in ``N - 1`` beside the main process, which
    resolves each page and sends it to a writer; with ``N = jobs`` one core's worth of
    writers would wait on the main process. On the book (2 cores) 3 processes took
    17-20 s where 2 took 19-24 s, the same HTML either way.
    """
    return jobs + 1 if jobs > 1 else 1


def default_jobs() -> int:
    """One worker per CPU core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def build(book: Path, watch: list[Path], fresh: bool = False, quiet: bool = False,
          output: Path | None = None, jobs: int | None = None, preload: bool = True) -> int:
    """Build ``book`` into ``<output>/_build/html``; return the exit code (jupyter-book's,
    or 1 when a notebook raised during the parallel execution).

    ``output`` defaults to ``book`` itself (the site is then ``book/_build/html``);
    ``jobs`` (default: one per CPU core) is the number of notebooks executing at once (and
    gives Sphinx's processes, :func:`sphinx_jobs`);
    ``preload=False`` starts every kernel the usual way instead of forking a zygote
    (:class:`Kernels`).
    """
    output = book if output is None else output
    jobs = default_jobs() if jobs is None else jobs
    build_dir = output / "_build"
    stamp = build_dir / STAMP
    fp = fingerprint(watch)
    previous = stamp.read_text() if stamp.exists() else None
    warm = not fresh and previous == fp
    if not warm:
        why = "requested" if fresh else ("no successful build recorded" if previous is None
                                         else "watched library files changed")
        log(f"cold build ({why}): clearing execution cache and doctrees")
        for name in STALE:
            shutil.rmtree(build_dir / name, ignore_errors=True)
    else:
        log("warm build: library unchanged since the last successful build")
    stamp.unlink(missing_ok=True)
    env = kernel_environment(build_dir)
    with Kernels(env, preload) as kernels:
        if not warm:  # every notebook executes: the zygote imports while the homework is released
            kernels.start()
        release_homework(book, build_dir, fp, force=fresh)
        configs = book_configs(book)
        # taken before Sphinx reads anything: a file changed during the build is newer than it
        files = source_files(book, output)
        listed = build_dir / SOURCES
        if (warm and listed.exists() and previous is not None
                and (build_dir / STATIC_SOURCES).exists()
                and listed.read_text() == source_listing(
                    files, unread_folders(book, build_dir, configs[2]))):
            stamp.write_text(fp)
            log("nothing changed since the last successful build (watched files, tools, every "
                "file of the book): the site is up to date, Sphinx not run")
            return 0
        listed.unlink(missing_ok=True)
        static_record = build_dir / STATIC_SOURCES
        static_now = static_listing(files, configs[3])
        # no record (a build by an older build_book): the site's copies may be old too
        static_changed = warm and (not static_record.exists()
                                   or static_record.read_text() != static_now)
        static_record.unlink(missing_ok=True)
        # jupyter-book's command line, with Sphinx reading and writing in parallel
        cmd = [sys.executable, str(Path(__file__).with_name("jupyter_book_jobs.py")),
               str(sphinx_jobs(jobs)), "build", str(book), "-W", "-n", "--keep-going"]
        if output != book:
            cmd += ["--path-output", str(output)]
        if quiet:
            cmd.append("-q")
        if static_changed:
            cmd.append("--all")
        # in parallel builds Sphinx starts while the last notebooks execute, and waits
        started: list[subprocess.Popen] = []
        try:
            failures = execute_notebooks(
                book, build_dir, kernels, jobs, configs,
                on_tail=(lambda: started.append(start_sphinx(cmd, env))) if jobs > 1 else None)
        except BaseException:
            stop_sphinx(started[0] if started else None)
            raise
        sphinx = started[0] if started else None
    raising = [f for f in failures if f.raise_on_error]
    if raising:
        stop_sphinx(sphinx)
        log(f"{len(raising)} notebook(s) raised: {', '.join(f.doc for f in raising)} "
            "(tracebacks above). The build fails (nb_execution_raise_on_error); Sphinx not run.")
        for f in raising:
            log(f"  {f.doc}: {f.error} after {f.seconds:.1f} s")
        return 1
    before = _cache_pks(cache_path(configs[1], build_dir))
    if static_changed:
        log("static files changed: Sphinx re-reads and writes every page (it copies the "
            "static files only when it writes one)")
    t0 = time.perf_counter()
    rc = run_sphinx(sphinx, cmd, env)
    log(f"jupyter-book exited {rc} after {time.perf_counter() - t0:.1f} s")
    after = _cache_pks(cache_path(configs[1], build_dir))
    if before is not None and after is not None and after.keys() - before.keys():
        names = sorted(Path(after[pk]).name for pk in after.keys() - before.keys())
        log(f"WARNING: Sphinx executed {len(names)} notebook(s) itself ({', '.join(names)}): "
            "changed while the build ran, or hashed differently here than by myst-nb "
            "(see execute_notebooks)")
    if rc == 0:
        build_dir.mkdir(exist_ok=True)
        stamp.write_text(fp)
        # the files as they were before Sphinx ran; unread folders by the environment it left
        listed.write_text(source_listing(files, unread_folders(book, build_dir, configs[2])))
        static_record.write_text(static_now)
    return rc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--book", type=Path, default=ROOT, help="book directory (default: the repository)")
    p.add_argument("--watch", type=Path, nargs="*", default=None,
                   help="library files or folders whose change forces a cold build "
                        "(default: lec4lib/, stored results included, and _ext/)")
    p.add_argument("--output", type=Path, default=None,
                   help="write <OUTPUT>/_build instead of <BOOK>/_build (a private build folder)")
    p.add_argument("--fresh", action="store_true", help="always build cold")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help=f"notebooks executing at once (default: one per CPU core, "
                        f"{default_jobs()} here; 1: one after another); Sphinx runs in N + 1 "
                        f"processes, or 1 when N is 1")
    p.add_argument("--no-preload", action="store_true",
                   help="start every kernel the usual way, not as a fork of a process that "
                        "imported the heavy libraries once (tools/kernel_zygote.py)")
    p.add_argument("--quiet", action="store_true", help="pass -q to jupyter-book")
    args = p.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        p.error("--jobs must be at least 1")
    # lec4lib/ includes lec4lib/data: the slide map and the stored results of expensive
    # runs (e.g. GPU), which chapters read: as much an input of the pages as the code, and
    # equally invisible to the execution cache. _ext/ is the book's Sphinx extension: it
    # changes every chapter page, and Sphinx does not re-read a page when it changes.
    watch = args.watch if args.watch is not None else [ROOT / "lec4lib", ROOT / "_ext"]
    output = args.output.resolve() if args.output else None
    return build(args.book.resolve(), [w.resolve() for w in watch], fresh=args.fresh,
                 quiet=args.quiet, output=output, jobs=args.jobs, preload=not args.no_preload)


if __name__ == "__main__":
    sys.exit(main())
