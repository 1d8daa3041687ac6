"""The notebooks execute in parallel before Sphinx runs, into the cache myst-nb then reads.

``tools/build_book.py`` reads every notebook of the toc as myst-nb reads it, executes the
ones its execution cache lacks in a pool of worker processes and stores them the way
myst-nb does, so that Sphinx finds every notebook cached and executes none. A warm build in which
no file of the book changed does not even start Sphinx. The slow tests
build throwaway books of three small MyST notebooks (``tests/site/test_build.py``'s
helpers: our real ``_config.yml``) and read what happened from files the notebooks write
when they execute, from the cache and from Sphinx's own log ("Using cached notebook",
"Executing notebook"). The fast tests check how notebooks are found, configured and
ordered, and the command line, without a kernel.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import build_book   # tools/build_book.py (tests/conftest.py puts tools/ on sys.path)
from tests.site.test_build import HEADER, build, make_book, show, tiny_library


def page(name: str, runs: Path, sleep: float = 0.0, extra: str = "") -> str:
    """A MyST notebook that appends one JSON line per execution to ``runs``: its name, the
    kernel's cwd, IPYTHONDIR, its compute threads (torch's and BLAS's), whether the startup
    file kept rfc3987-syntax out, and when it started and ended (after sleeping ``sleep`` s)."""
    return f"""\
        # Page {name}

        ```{{code-cell}} ipython3
        import json, os, sys, time
        import numpy, threadpoolctl, torch
        start = time.time()
        time.sleep({sleep})
        with open({str(runs)!r}, "a") as log:
            log.write(json.dumps({{"page": {name!r}, "cwd": os.getcwd(),
                                  "ipythondir": os.environ.get("IPYTHONDIR"),
                                  "torch_threads": torch.get_num_threads(),
                                  "blas_threads": sorted({{p["num_threads"] for p in
                                                          threadpoolctl.threadpool_info()}}),
                                  "rfc3987_blocked": sys.modules.get("rfc3987_syntax", 0) is None,
                                  "start": start, "end": time.time()}}) + "\\n")
        {extra}
        ```
        """


def executions(runs: Path) -> list[dict]:
    return [json.loads(line) for line in runs.read_text().splitlines()] if runs.exists() else []


def cache_uris(book: Path) -> set[str]:
    from jupyter_cache import get_cache

    return {Path(r.uri).name for r in
            get_cache(str(book / "_build" / ".jupyter_cache")).list_cache_records()}


@pytest.mark.slow
def test_parallel_execution_fills_the_cache_and_sphinx_executes_nothing(tmp_path):
    lib = tiny_library(tmp_path)
    runs = tmp_path / "runs.jsonl"
    book = tmp_path / "book"
    # Each sleeps long enough that two workers must overlap however their start is skewed.
    make_book(book, page("root", runs, sleep=4),
              {"alpha": page("alpha", runs, sleep=4), "beta": page("beta", runs, sleep=4),
               "plain": "# A plain Markdown page\n\nNo code here.\n"})

    res = build(book, lib, "--jobs", "2", quiet=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, show(res)
    done = executions(runs)
    assert sorted(d["page"] for d in done) == ["alpha", "beta", "root"], show(res)
    # myst-nb's cwd (the notebook's folder) and the build's private IPYTHONDIR
    assert {d["cwd"] for d in done} == {str(book)}
    assert {d["ipythondir"] for d in done} == {str(book / "_build" / ".ipython")}
    # one compute thread per kernel (THREAD_LIMITS), and the IRI grammars never built
    assert {d["torch_threads"] for d in done} == {1}, done
    assert {tuple(d["blas_threads"]) for d in done} == {(1,)}, done
    assert all(d["rfc3987_blocked"] for d in done), done
    # two workers: some two executions overlapped in time
    spans = sorted((d["start"], d["end"]) for d in done)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), spans
    assert "3 notebooks: 0 in the execution cache, executing 3 with 2 workers" in out, show(res)
    for name in ("page", "alpha", "beta"):
        assert f"executed {name} in " in out, show(res)
    assert "(3/3 done)" in out, show(res)
    # Sphinx started while the last two executed (build_book.start_sphinx) and held its
    # output back until it was told to build: none of it among the execution's lines
    assert res.stdout.index("Running Jupyter-Book") > res.stdout.index(
        "executed 3 of 3 notebooks"), show(res)
    # Sphinx found all three in the cache and executed none of them itself.
    assert out.count("Using cached notebook") == 3, show(res)
    assert "Executing notebook" not in out, show(res)
    assert "WARNING: Sphinx executed" not in out, show(res)
    assert cache_uris(book) == {"page.md", "alpha.md", "beta.md"}
    html = (book / "_build" / "html" / "alpha.html").read_text()
    assert "Page alpha" in html

    # Nothing changed: the warm build finds the site up to date and runs nothing at all
    # (the first build was cold: the listing it recorded must already count).
    (book / "tests").mkdir()   # a folder _config.yml excludes: its changes do not count
    (book / "tests" / "notes.txt").write_text("not read by Sphinx\n")
    res = build(book, lib, "--jobs", "2", quiet=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, show(res)
    assert "[build_book] warm build" in out, show(res)
    assert "the site is up to date, Sphinx not run" in out, show(res)
    assert "jupyter-book exited" not in out, show(res)
    assert len(executions(runs)) == 3

    # A page without code changed: Sphinx runs (it re-reads that page) and executes nothing.
    (book / "plain.md").write_text("# A plain Markdown page\n\nNew text here.\n")
    res = build(book, lib, "--jobs", "2", quiet=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, show(res)
    assert "3 notebooks, all in the execution cache: nothing to execute" in out, show(res)
    assert "jupyter-book exited 0" in out, show(res)
    assert "Executing notebook" not in out, show(res)
    assert "New text here." in (book / "_build" / "html" / "plain.html").read_text()
    assert len(executions(runs)) == 3

    # A changed notebook executes again; the unchanged ones do not.
    alpha = book / "alpha.md"
    alpha.write_text(alpha.read_text().replace("time.sleep(4)", "time.sleep(0)"))
    res = build(book, lib, "--jobs", "2", quiet=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, show(res)
    assert "3 notebooks: 2 in the execution cache, executing 1 with 1 worker" in out, show(res)
    assert [d["page"] for d in executions(runs)[3:]] == ["alpha"], show(res)
    assert "Executing notebook" not in out, show(res)
    assert out.count("Using cached notebook") >= 1, show(res)   # Sphinx re-read alpha only

    # The times recorded order the next execution, longest first.
    times = json.loads((book / "_build" / build_book.TIMES).read_text())
    assert set(times) == {"page", "alpha", "beta"}
    assert times["alpha"] < times["beta"]


@pytest.mark.slow
def test_a_raising_notebook_fails_the_build_naming_it_and_the_rest_is_cached(tmp_path):
    lib = tiny_library(tmp_path)
    runs = tmp_path / "runs.jsonl"
    book = tmp_path / "book"
    make_book(book, page("root", runs),
              {"good": page("good", runs),
               "broken": page("broken", runs,
                              extra='raise ValueError("broken raises on purpose")')})
    for jobs in ("2", "1"):   # parallel and serial report it alike
        res = build(book, lib, "--jobs", jobs, quiet=False)
        out = res.stdout + res.stderr
        assert res.returncode != 0, show(res)
        assert "FAILED broken: CellExecutionError" in out, show(res)
        assert "broken raises on purpose" in out, show(res)        # the traceback
        assert "1 notebook(s) raised: broken" in out, show(res)
        assert "Sphinx not run" in out, show(res)
        assert "jupyter-book exited" not in out, show(res)
        # in parallel Sphinx had started, waiting (build_book.start_sphinx): told not to
        # build, it printed nothing
        assert "Running Jupyter-Book" not in out, show(res)
        # the other notebooks executed and are cached; the raising one is not
        assert cache_uris(book) == {"page.md", "good.md"}, show(res)
    # the failed build recorded no success: the next build is cold again
    assert "[build_book] cold build (no successful build recorded)" in res.stdout, show(res)


def test_notebook_jobs_reads_the_toc_notebooks_with_the_books_execution_settings(tmp_path):
    book = tmp_path / "book"
    runs = tmp_path / "runs.jsonl"
    overridden = HEADER.replace("kernelspec:", "mystnb:\n  execution_timeout: 7\nkernelspec:")
    make_book(book, page("root", runs), {
        "sub/deep": page("deep", runs),
        "plain": "# A plain Markdown page\n",
        "timed": overridden + "\n# timed\n\n```{code-cell} ipython3\n1\n```\n",
        "unexecuted": HEADER.replace("kernelspec:", "mystnb:\n  execution_mode: 'off'\nkernelspec:")
               + "\n# unexecuted\n\n```{code-cell} ipython3\n1\n```\n",
    })
    (book / "not-in-toc.md").write_text(HEADER + "\n```{code-cell} ipython3\n1\n```\n")
    build_dir = book / "_build"
    build_dir.mkdir()
    (build_dir / build_book.TIMES).write_text(json.dumps({"timed": 3.5}))

    jobs = {j.doc: j for j in build_book.notebook_jobs(book, build_dir)}
    assert list(jobs) == ["page", "sub/deep", "timed"]   # toc order; no plain page, no mode "off"
    assert jobs["sub/deep"].cwd == str(book / "sub")       # myst-nb's cwd: the file's folder
    assert jobs["page"].timeout == 120                     # execute.timeout of _config.yml
    assert jobs["timed"].timeout == 7                      # the notebook's mystnb override
    for job in jobs.values():
        assert job.allow_errors is False and job.raise_on_error is True
        assert job.read_fmt == {"type": "plugin", "name": "myst_nb_md"}
        assert job.path == book / f"{job.doc}.md"
    assert jobs["timed"].seconds == 3.5 and jobs["page"].seconds is None
    # myst-nb's reader: one code cell per {code-cell}, a source map, the kernelspec
    nb = jobs["timed"].notebook
    assert [c.cell_type for c in nb.cells] == ["markdown", "code"]
    assert nb.cells[1].source == "1"
    assert nb.metadata.kernelspec.name == "python3"
    assert "source_map" in nb.metadata


def test_a_build_without_times_of_its_own_orders_by_the_books_committed_times(tmp_path):
    book = tmp_path / "book"
    runs = tmp_path / "runs.jsonl"
    make_book(book, page("root", runs), {"a": page("a", runs), "b": page("b", runs)})
    build_dir = book / "_build"
    assert {j.doc: j.seconds for j in build_book.notebook_jobs(book, build_dir)} == \
        {"page": None, "a": None, "b": None}
    (book / "tools").mkdir()
    (book / build_book.BOOK_TIMES).write_text(json.dumps({"a": 9.0, "b": 4.0}))
    assert {j.doc: j.seconds for j in build_book.notebook_jobs(book, build_dir)} == \
        {"page": None, "a": 9.0, "b": 4.0}
    build_dir.mkdir()                          # a build's own times win over the book's
    (build_dir / build_book.TIMES).write_text(json.dumps({"b": 12.0}))
    jobs = build_book.notebook_jobs(book, build_dir)
    assert {j.doc: j.seconds for j in jobs} == {"page": None, "a": 9.0, "b": 12.0}
    assert [j.doc for j in build_book.longest_first(jobs)] == ["page", "b", "a"]


def test_the_repositorys_committed_times_name_every_notebook_of_the_book():
    import notebooks
    from tests.site.test_build import ROOT

    committed = json.loads((ROOT / build_book.BOOK_TIMES).read_text())
    docs = [d for d in notebooks.toc_documents(ROOT)
            if notebooks.is_myst_notebook(ROOT / f"{d}.md")]
    assert sorted(committed) == sorted(docs)
    assert all(v > 0 for v in committed.values())


def _job(doc, seconds):
    return build_book.NotebookJob(doc=doc, path=Path(doc), notebook=None, read_fmt=None,
                                  cwd=None, timeout=1, allow_errors=False,
                                  raise_on_error=True, seconds=seconds)


def test_longest_first_puts_never_timed_notebooks_first_then_the_slowest():
    jobs = [_job("a", 2.0), _job("b", None), _job("c", 30.0), _job("d", None), _job("e", 5.0)]
    assert [j.doc for j in build_book.longest_first(jobs)] == ["b", "d", "c", "e", "a"]


def test_default_watch_is_the_library_and_the_books_extension(monkeypatch):
    seen = {}
    monkeypatch.setattr(build_book, "build", lambda book, watch, **kw: seen.update(watch=watch, **kw) or 0)
    assert build_book.main([]) == 0
    assert seen["watch"] == [build_book.ROOT / "lec4lib", build_book.ROOT / "_ext"]
    assert seen["jobs"] is None
    assert build_book.main(["--jobs", "1"]) == 0 and seen["jobs"] == 1
    with pytest.raises(SystemExit):
        build_book.main(["--jobs", "0"])


def test_a_change_under_ext_changes_the_fingerprint(tmp_path):
    ext = tmp_path / "_ext"
    ext.mkdir()
    (ext / "site.py").write_text("A = 1\n")
    before = build_book.fingerprint([tmp_path / "lib", ext])
    (ext / "site.py").write_text("A = 2\n")
    assert build_book.fingerprint([tmp_path / "lib", ext]) != before


def test_unread_folders_are_excluded_folders_no_page_depends_on(tmp_path):
    import pickle
    from types import SimpleNamespace

    book = tmp_path / "book"
    for folder in ("tests", "tools", "snippets", "chapters", "_static"):
        (book / folder).mkdir(parents=True)
    build_dir = book / "_build"
    patterns = ["tests", "tools/", "snippets", "_static", "**.ipynb", "missing"]
    # without Sphinx's environment nothing is known to be unread
    assert build_book.unread_folders(book, build_dir, patterns) == set()
    (build_dir / ".doctrees").mkdir(parents=True)
    env = SimpleNamespace(srcdir=str(book),
                          dependencies={"chapters/a": {"snippets/code.py"}})  # srcdir-relative
    (build_dir / ".doctrees" / "environment.pickle").write_bytes(pickle.dumps(env))
    # snippets/ is included by a page; _static shapes pages; "missing" is no folder
    assert build_book.unread_folders(book, build_dir, patterns) == {"tests", "tools"}

    def listing():
        return build_book.source_listing(build_book.source_files(book, book), {"tests", "tools"})

    before = listing()
    (book / "tools" / "helper.py").write_text("x = 1\n")
    (book / "_build" / "html").mkdir()
    (book / "_build" / "html" / "page.html").write_text("<p>built</p>\n")
    assert listing() == before
    (book / "snippets" / "code.py").write_text("y = 2\n")
    assert listing() != before


@pytest.mark.slow
def test_a_changed_static_file_reaches_the_site_in_a_warm_build(tmp_path):
    """Sphinx copies html_static_path only when it writes a page; a warm build after a
    change to a stylesheet alone must still publish the new stylesheet."""
    lib = tiny_library(tmp_path)
    book = tmp_path / "book"
    make_book(book, "# Only page\n\nNo code.\n")
    css = book / "_static" / "extra.css"
    css.parent.mkdir()
    css.write_text("p { color: #111; }\n")
    res = build(book, lib, quiet=False)
    assert res.returncode == 0, show(res)
    built = book / "_build" / "html" / "_static" / "extra.css"
    assert built.read_text() == "p { color: #111; }\n"

    css.write_text("p { color: #222; }\n")          # only the stylesheet changes
    res = build(book, lib, quiet=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, show(res)
    assert built.read_text() == "p { color: #222; }\n", show(res)
    assert "[build_book] warm build" in out and "static files changed" in out, show(res)

    res = build(book, lib, quiet=False)             # and then nothing is left to do
    assert "the site is up to date, Sphinx not run" in res.stdout + res.stderr, show(res)


def _site(book: Path) -> dict[str, bytes]:
    """The built HTML pages and Sphinx's search index, by path."""
    html = book / "_build" / "html"
    return {p.relative_to(html).as_posix(): p.read_bytes() for p in sorted(html.rglob("*"))
            if p.suffix == ".html" or p.name == "searchindex.js"}


@pytest.mark.slow
def test_sphinx_reads_and_writes_in_parallel_and_writes_the_same_site(tmp_path):
    """With the book's extension (``_ext/``, which declares the Jupyter Book extensions that
    say nothing about it parallel-safe) Sphinx reads and writes more than five pages in two
    processes and writes what one process writes; without it, Sphinx's warning about them
    fails the -W build."""
    import shutil

    import yaml

    from tests.site.test_build import ROOT

    lib = tiny_library(tmp_path)
    pages = {f"p{i}": f"# Page {i}\n\nSee {{ref}}`label-{(i + 1) % 7}`.\n\n(label-{i})=\n"
                      f"## Part {i}\n\n$x_{i}^2$ and text.\n" for i in range(7)}
    sites = {}
    for jobs in ("1", "2"):
        book = tmp_path / f"book{jobs}"
        make_book(book, "# Root\n\nThe pages.\n", pages)
        cfg = yaml.safe_load((book / "_config.yml").read_text())
        cfg["sphinx"]["local_extensions"] = {"lec4_site": "_ext/", "lec4_a11y": "_ext/"}
        (book / "_config.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        shutil.copytree(ROOT / "_ext", book / "_ext")
        res = build(book, lib, "--jobs", jobs, quiet=False)
        out = res.stdout + res.stderr
        assert res.returncode == 0, show(res)
        assert "does not declare if it is safe" not in out, show(res)
        # in parallel Sphinx reads and writes chunks of pages ("[ 50%] p0 .. p3")
        plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
        for step in ("reading sources", "writing output"):
            chunked = re.search(step + r"\.\.\. \[\s*\d+%\] \S+ \.\. \S+", plain)
            assert bool(chunked) == (jobs == "2"), (step, show(res))
        sites[jobs] = _site(book)
    assert sites["1"].keys() == sites["2"].keys() and len(sites["1"]) >= 9
    assert [k for k in sites["1"] if sites["1"][k] != sites["2"][k]] == []

    bare = tmp_path / "bare"          # the same pages without the book's extension
    make_book(bare, "# Root\n\nThe pages.\n", pages)
    res = build(bare, lib, "--jobs", "2", quiet=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0, show(res)
    assert "does not declare if it is safe for parallel reading" in out, show(res)


def test_sphinx_jobs_is_one_writer_per_core_beside_the_main_process():
    assert [build_book.sphinx_jobs(j) for j in (1, 2, 4)] == [1, 3, 5]


def test_a_waiting_jupyter_book_told_not_to_build_prints_nothing_and_exits_3(tmp_path):
    """``tools/jupyter_book_jobs.py --wait`` sets Sphinx up, then reads a line: anything but
    ``build`` ends it with status 3 and without a word (its held output is dropped)."""
    import subprocess
    import sys

    book = tmp_path / "book"
    make_book(book, "# Root\n\nNo code.\n")
    cmd = [sys.executable, str(Path(build_book.__file__).with_name("jupyter_book_jobs.py")),
           "--wait", "--preload", "json", "1", "build", str(book), "-W"]
    res = subprocess.run(cmd, input="no\n", capture_output=True, text=True, timeout=300)
    assert res.returncode == 3, show(res)
    assert res.stdout == "" and res.stderr == "", show(res)
    assert not (book / "_build" / "html" / "page.html").exists()     # no page written
    res = subprocess.run(cmd, input="build\n", capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, show(res)
    assert res.stdout.startswith("Running Jupyter-Book"), show(res)
    assert (book / "_build" / "html" / "page.html").exists()


def test_held_stream_holds_text_until_released_and_refuses_bytes():
    import io

    import jupyter_book_jobs as jbj

    target = io.StringIO()
    held = jbj.HeldStream(target)
    held.write("one ")
    assert target.getvalue() == ""
    held.release()
    held.write("two")
    assert target.getvalue() == "one two"
    with pytest.raises(TypeError):           # a text stream, as click expects
        held.write(b"bytes")
