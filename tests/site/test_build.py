"""The book build fails on a raising cell and never shows numbers from an older library.

The slow tests build a throwaway one-page book in a temp dir with ``tools/build_book.py``
(what ``make book`` runs), using the execute and Sphinx settings of our real
``_config.yml``: the same command, the same configuration, a page small enough to build
in seconds. The last test checks those settings in our real configuration.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

BUILD_BOOK = ROOT / "tools" / "build_book.py"
HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def make_book(book: Path, body: str, pages: dict[str, str] | None = None) -> None:
    """Write a small book: our ``_config.yml`` as loaded, a toc whose root is the MyST
    notebook ``page`` (``body``), then one chapter per entry of ``pages`` (name: text; a
    text with a code cell and no header of its own gets the MyST notebook header)."""
    book.mkdir(parents=True)
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg["title"] = "throwaway test book"
    cfg["sphinx"].pop("local_extensions", None)   # the real book's _ext/ is not here
    (book / "_config.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    toc = "format: jb-book\nroot: page\n"
    if pages:
        toc += "chapters:\n" + "".join(f"  - file: {name}\n" for name in pages)
    (book / "_toc.yml").write_text(toc)
    (book / "page.md").write_text(HEADER + "\n" + textwrap.dedent(body))
    for name, text in (pages or {}).items():
        text = textwrap.dedent(text)
        (book / f"{name}.md").parent.mkdir(parents=True, exist_ok=True)
        (book / f"{name}.md").write_text(
            HEADER + "\n" + text if "{code-cell}" in text and not text.startswith("---") else text)


def build(book: Path, lib: Path, *options: str, quiet: bool = True) -> subprocess.CompletedProcess:
    """Run ``tools/build_book.py --book BOOK --watch LIB`` the way ``make book`` does."""
    return subprocess.run(
        [sys.executable, str(BUILD_BOOK), "--book", str(book), "--watch", str(lib),
         *options, *(["--quiet"] if quiet else [])],
        capture_output=True, text=True, timeout=600,
    )


def tiny_library(tmp_path: Path, value: int = 1) -> Path:
    """A watched library folder ``tmp_path/lib`` holding ``tinymod.py`` (``VALUE = value``)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "tinymod.py").write_text(f"VALUE = {value}\n")
    return lib


def show(res: subprocess.CompletedProcess) -> str:
    return f"exit {res.returncode}\n--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-3000:]}"


@pytest.mark.slow
def test_a_raising_cell_fails_the_build_every_time(tmp_path):
    lib = tiny_library(tmp_path)
    book = tmp_path / "book"
    make_book(book, """\
        # A page that raises

        ```{code-cell} ipython3
        x = 1 + 1
        ```

        ```{code-cell} ipython3
        raise RuntimeError("this cell raises on purpose")
        ```
        """)
    first = build(book, lib)
    assert first.returncode != 0, show(first)
    assert "this cell raises on purpose" in first.stdout + first.stderr, show(first)
    # Nothing changed: Sphinx alone would not re-read the page and -W would pass it now.
    second = build(book, lib)
    assert second.returncode != 0, show(second)
    assert "this cell raises on purpose" in second.stdout + second.stderr, show(second)
    assert "[build_book] cold build (no successful build recorded)" in second.stdout, show(second)


@pytest.mark.slow
def test_a_library_change_is_never_hidden_by_the_execution_cache(tmp_path):
    lib = tiny_library(tmp_path, 271828)
    module = lib / "tinymod.py"
    runs = tmp_path / "executions.log"
    book = tmp_path / "book"
    make_book(book, f"""\
        # A page that glues a number computed by the library

        ```{{code-cell}} ipython3
        import sys
        sys.path.insert(0, {str(lib)!r})
        import numpy as np
        import tinymod
        from myst_nb import glue
        with open({str(runs)!r}, "a") as log:   # one line per execution of this page
            log.write("executed\\n")
        glue("libvalue", tinymod.VALUE, display=False)
        glue("libscaled", np.float64(tinymod.VALUE) / 1000, display=False)  # a NumPy 2 scalar
        ```

        The library says {{glue:text}}`libvalue`, or {{glue:text}}`libscaled:.2f` thousand.
        """)
    html = book / "_build" / "html" / "page.html"

    res = build(book, lib)
    assert res.returncode == 0, show(res)
    assert '<span class="pasted-text">271828</span>' in html.read_text(), show(res)
    # A NumPy scalar formatted by {glue:text} (the build sets NumPy's legacy scalar repr).
    assert '<span class="pasted-text">271.83</span>' in html.read_text(), show(res)
    assert runs.read_text().count("executed") == 1

    # The notebook text is unchanged, so jupyter-cache would serve the old outputs.
    module.write_text("VALUE = 314159\n")
    res = build(book, lib)
    assert res.returncode == 0, show(res)
    assert "[build_book] cold build (watched library files changed)" in res.stdout, show(res)
    text = html.read_text()
    assert '<span class="pasted-text">314159</span>' in text, show(res)
    assert '<span class="pasted-text">314.16</span>' in text, show(res)
    assert "271828" not in text
    assert runs.read_text().count("executed") == 2

    # Nothing changed: a warm build that executes nothing and keeps the new value.
    res = build(book, lib)
    assert res.returncode == 0, show(res)
    assert "[build_book] warm build" in res.stdout, show(res)
    assert runs.read_text().count("executed") == 2, "the warm build re-executed the page"
    assert '<span class="pasted-text">314159</span>' in html.read_text()


def test_real_config_executes_strictly_with_a_cell_timeout_and_excludes_ipynb():
    """Our ``_config.yml`` as Jupyter Book resolves it into the Sphinx configuration."""
    from jupyter_book.config import get_final_config

    cfg, _ = get_final_config(user_yaml=ROOT / "_config.yml",
                              cli_config={"latex_individualpages": False}, sourcedir=ROOT)
    assert cfg["nb_execution_raise_on_error"] is True
    assert cfg["nb_execution_allow_errors"] is False
    assert cfg["nb_execution_mode"] in {"cache", "force"}
    assert isinstance(cfg["nb_execution_timeout"], int) and 0 < cfg["nb_execution_timeout"] <= 600
    assert "**.ipynb" in cfg["exclude_patterns"]



WARNING_LINE = re.compile(r"\b[A-Z]\w*Warning: ")


@pytest.mark.slow
def test_no_chapter_of_the_built_book_prints_a_python_warning():
    """No executed cell of the real book writes a Python warning, not even a hidden cell
    (whose output no reader sees but which tells of a misuse). The notebooks are the
    ones the last ``make book`` left in the execution cache, matched to today's sources."""
    import build_book   # tools/build_book.py (tests/conftest.py puts tools/ on sys.path)
    from jupyter_cache import get_cache

    configs = build_book.book_configs(ROOT)
    cache = get_cache(str(build_book.cache_path(configs[1], ROOT / "_build")))
    warned, missing = [], []
    for job in build_book.notebook_jobs(ROOT, ROOT / "_build", configs):
        try:
            record = cache.match_cache_notebook(job.notebook)
        except KeyError:
            missing.append(job.doc)
            continue
        for i, cell in enumerate(cache.get_cache_bundle(record.pk).nb.cells):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and WARNING_LINE.search(out.get("text", "")):
                    warned.append(f"{job.doc} cell {i}: {out['text'].strip()[:300]}")
    assert not missing, f"not in the execution cache (run `make book` first): {missing}"
    assert not warned, "\n".join(warned)


def test_the_warning_check_sees_a_python_warning():
    assert WARNING_LINE.search("/tmp/x.py:2: UserWarning: Converting a tensor ...")
    assert WARNING_LINE.search("  DeprecationWarning: old")
    assert not WARNING_LINE.search("epoch 3/10: warning-free, 12 it/s")
