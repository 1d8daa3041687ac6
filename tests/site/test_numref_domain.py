"""The book's extension resolves ``{numref}`` with one copy of each target page.

``_ext/lec4_site.py`` replaces Sphinx's standard domain with a subclass
(:func:`lec4_site.numref_domain`) that unpickles the doctree a numbered reference points to
once, not once per reference. These tests build a small Sphinx project in this process,
with and without the extension, and compare what Sphinx wrote and how often it read a
doctree.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_ext"))

import lec4_site  # noqa: E402  (_ext/lec4_site.py)

sphinx_application = pytest.importorskip("sphinx.application")
from sphinx.environment import BuildEnvironment  # noqa: E402

PAGES = ("a", "b", "c")


def listing(page: str, k: int) -> str:
    return textwrap.dedent(f"""\
        .. code-block:: text
           :caption: Listing {k} of {page}
           :name: code-{page}{k}

           line {k}

        """)


def make_project(src: Path, with_ext: bool, extra_first: dict | None = None) -> None:
    """Three pages of three numbered listings each; every page refers to every listing."""
    src.mkdir(parents=True, exist_ok=True)
    exts = ["lec4_site"] if with_ext else []
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\n"
        f"extensions = {exts!r}\nnumfig = True\nhtml_theme = 'basic'\n")
    (src / "index.rst").write_text("Root\n====\n\n.. toctree::\n\n" +
                                   "".join(f"   {p}\n" for p in PAGES))
    refs = " ".join(f":numref:`code-{p}{k}`" for p in PAGES for k in (1, 2, 3))
    for p in PAGES:
        head = (extra_first or {}).get(p, "")
        body = "".join(listing(p, k) for k in (1, 2, 3))
        (src / f"{p}.rst").write_text(f"Page {p}\n=======\n\n{head}{body}See {refs}.\n")


def build(src: Path, out: Path, calls: list | None = None, monkeypatch=None) -> dict[str, str]:
    """Build ``src`` into ``out`` (incrementally when ``out`` holds a build); the pages'
    HTML by name. ``calls`` collects the document of every ``get_doctree``."""
    if calls is not None:
        real = BuildEnvironment.get_doctree

        def counting(self, docname):
            calls.append(docname)
            return real(self, docname)

        monkeypatch.setattr(BuildEnvironment, "get_doctree", counting)
    app = sphinx_application.Sphinx(str(src), str(src), str(out / "html"), str(out / "doctrees"),
                                    "html", status=None, warning=None, freshenv=False)
    app.build()
    assert app.statuscode == 0
    if calls is not None:
        monkeypatch.setattr(BuildEnvironment, "get_doctree", real)
    return {p: (out / "html" / f"{p}.html").read_text() for p in PAGES}


def numbers(body: str) -> list[str]:
    return re.findall(r'<span class="std std-numref">([^<]*)</span>', body)


def test_the_book_extension_installs_the_domain():
    class App:
        def __init__(self):
            self.domains = []

        def add_domain(self, cls, override=False):
            self.domains.append((cls.name, override, cls))

        def connect(self, *args, **kwargs):
            pass

    app = App()
    lec4_site.setup(app)
    [(name, override, cls)] = app.domains
    assert (name, override) == ("std", True)
    from sphinx.domains.std import StandardDomain
    assert issubclass(cls, StandardDomain)


def test_numbered_references_read_each_target_once_and_write_the_same_pages(tmp_path,
                                                                             monkeypatch):
    pages, reads = {}, {}
    for with_ext in (False, True):
        src, out = tmp_path / f"src{with_ext}", tmp_path / f"out{with_ext}"
        make_project(src, with_ext)
        calls: list = []
        pages[with_ext] = build(src, out, calls, monkeypatch)
        reads[with_ext] = calls
    assert pages[True] == pages[False]
    # every page shows the 9 numbers, "Listing 1" .. "Listing 9" in page order
    for body in pages[True].values():
        assert numbers(body) == [f"Listing {n}" for n in range(1, 10)]
    # Sphinx reads a target page per reference (3 pages x 9 references); the domain reads
    # each of the 3 targets once, so 27 - 3 reads fewer
    assert len(reads[False]) - len(reads[True]) == 3 * 9 - 3


def test_a_rebuild_after_a_page_changed_shows_its_new_numbers(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    make_project(src, with_ext=True)
    first = build(src, out)
    assert numbers(first["a"])[3:6] == ["Listing 4", "Listing 5", "Listing 6"]
    # two more listings at the top of page b: b's listings become 6..8, c's 9..11
    extra = listing("b", 8) + listing("b", 9)
    make_project(src, with_ext=True, extra_first={"b": extra})
    second = build(src, out)                  # incremental: a and c are not re-read
    assert numbers(second["a"]) == [f"Listing {n}" for n in (1, 2, 3, 6, 7, 8, 9, 10, 11)]
    assert numbers(second["c"]) == numbers(second["a"])
