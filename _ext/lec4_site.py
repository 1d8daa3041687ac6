"""The book's own Sphinx extension (``sphinx.local_extensions`` in ``_config.yml``).

What no configuration value does:

* **The PDF link.** Every chapter page (a document under ``chapters/``) starts with a link
  to the whole book as one PDF, ``lec4.pdf`` at the site's root (``make pdf`` writes it,
  see ``tools/make_pdf.py``). The link is relative, so the site works from any folder.
* **The explorers' scripts.** A page whose body holds an explorer (an element with the
  class ``lec4-explorer``, written by :mod:`lec4lib.book.explorers`) loads plotly.js and
  ``lec4-explorers.js``; no other page does. plotly.js is copied from the installed
  ``plotly`` wheel (``plotly/package_data/plotly.min.js``) into ``_static/lec4/`` of the
  built site: nothing comes from a CDN. Neither file lives under the book's ``_static/``,
  whose every ``.js`` Jupyter Book adds to every page.
* **MathJax where raw HTML holds math** (the slide map): see :func:`_math_in_raw_html`.
* **Numbered references without re-reading pages.** Sphinx resolves each ``{numref}``
  (and each exercise reference, which sphinx-exercise turns into one) by unpickling the
  whole doctree of the page it points to, again for every reference: a tenth of the book's
  Sphinx time, spent in the one process that resolves the pages while the others write
  them. :func:`numref_domain` resolves them with one unpickled copy per page, read only, as
  long as Sphinx's own cache holds the same pickled bytes (the same result: the test
  compares the HTML with Sphinx's own).
* **MathJax from the site.** When the npm copy of MathJax 3 that ``make setup`` installs
  (``.cache/npm/node_modules/mathjax``) is present at build time, its CHTML bundle and
  fonts are copied to ``_static/lec4/mathjax/`` and the pages load MathJax from there
  (``mathjax_path``) instead of from cdn.jsdelivr.net: the site then requests nothing
  outside itself and reads offline. Without the copy the pages keep Sphinx's CDN URL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
PDF_NAME = "lec4.pdf"
EXPLORER_CLASS = "lec4-explorer"
RAW_MATH = 'class="math notranslate nohighlight"'
STATIC_SUBDIR = "lec4"          # <site>/_static/lec4/{plotly.min.js,lec4-explorers.js,mathjax/}
MATHJAX_NPM = HERE.parent / ".cache" / "npm" / "node_modules" / "mathjax" / "es5"
# what MathJax 3's tex-mml-chtml needs (FIELD-NOTES): the bundle and its woff-v2 fonts
MATHJAX_FILES = ["tex-mml-chtml.js", "output/chtml/fonts/woff-v2"]


def plotly_js() -> Path:
    """The plotly.js bundle shipped inside the ``plotly`` wheel."""
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js not found in the plotly package at {path}")
    return path


def _page_context(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if not isinstance(body, str):
        return
    if pagename.startswith("chapters/"):
        href = context["pathto"](PDF_NAME, 1)
        link = (f'<p class="lec4-pdf-link"><a href="{href}">The whole book as one PDF '
                f'({PDF_NAME})</a></p>\n')
        context["body"] = link + body
    if f'class="{EXPLORER_CLASS}' in body or f"{EXPLORER_CLASS} " in body:
        app.add_js_file(f"{STATIC_SUBDIR}/plotly.min.js", priority=600)
        app.add_js_file(f"{STATIC_SUBDIR}/lec4-explorers.js", priority=601)


def local_mathjax() -> Path | None:
    """The npm copy of MathJax 3's ``es5`` folder, or None when it is not installed."""
    return MATHJAX_NPM if (MATHJAX_NPM / MATHJAX_FILES[0]).is_file() else None


def _use_local_mathjax(app, config):
    if local_mathjax() is not None:
        # a relative mathjax_path is relative to the site's _static folder
        config.mathjax_path = f"{STATIC_SUBDIR}/mathjax/{MATHJAX_FILES[0]}"


def _math_in_raw_html(app, doctree, docname):
    """Load MathJax on a page whose only math sits in raw HTML (an output's ``text/html``).

    Sphinx adds MathJax to a page only when its doctree has math nodes; the slide map's
    table is an executed output whose link texts hold inline math written as Sphinx writes
    it (``<span class="math notranslate nohighlight">\\(…\\)</span>``), so without this
    its math would stay TeX and MathJax would never load there.
    """
    from docutils import nodes

    if any(RAW_MATH in node.astext() for node in doctree.findall(nodes.raw)):
        app.env.get_domain("math").data["has_equations"][docname] = True


def _copy_scripts(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / STATIC_SUBDIR
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js(), dest / "plotly.min.js")
    shutil.copyfile(HERE / "static" / "lec4-explorers.js", dest / "lec4-explorers.js")
    src = local_mathjax()
    if src is not None:
        for rel in MATHJAX_FILES:
            if (src / rel).is_dir():
                shutil.copytree(src / rel, dest / "mathjax" / rel, dirs_exist_ok=True)
            else:
                (dest / "mathjax" / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src / rel, dest / "mathjax" / rel)


def numref_domain():
    """Sphinx's standard domain, resolving ``{numref}`` from one copy of each target page.

    ``StandardDomain._resolve_numref_xref`` only looks the target node up in the target's
    doctree (its ids and node type); it never changes the tree. The copy of a page is used
    while ``env._pickled_doctree_cache`` (Sphinx's cache of the pickled doctrees, renewed
    for every build) holds the very bytes it was unpickled from; without that attribute
    (another Sphinx) every reference reads the page as Sphinx does.
    """
    from sphinx.domains.std import StandardDomain

    class NumrefOnceStandardDomain(StandardDomain):
        def _resolve_numref_xref(self, env, fromdocname, builder, typ, target, node, contnode):
            pickled = getattr(env, "_pickled_doctree_cache", None)
            if pickled is None or "get_doctree" in vars(env):
                return super()._resolve_numref_xref(env, fromdocname, builder, typ, target,
                                                    node, contnode)
            copies = self.__dict__.setdefault("_lec4_numref_doctrees", {})
            read = env.get_doctree

            def get_doctree(docname):
                held = copies.get(docname)
                if held is not None and held[0] is pickled.get(docname):
                    return held[1]
                doctree = read(docname)          # fills pickled[docname]
                copies[docname] = (pickled.get(docname), doctree)
                return doctree

            env.get_doctree = get_doctree
            try:
                return super()._resolve_numref_xref(env, fromdocname, builder, typ, target,
                                                    node, contnode)
            finally:
                del env.get_doctree

    return NumrefOnceStandardDomain


#: extensions that Jupyter Book loads and that say nothing about Sphinx's parallel read
#: (Sphinx then reads serially, with a warning that fails a -W build), read and found safe:
#: sphinx-multitoc-numbering only replaces ``TocTreeCollector.assign_section_numbers``,
#: which runs in the main process after the documents are read and merged;
#: sphinx-jupyterbook-latex's read-time transforms only mark nodes of the document being
#: read, and the rest of it acts for the LaTeX builder alone
PARALLEL_READ_SAFE = ("sphinx_multitoc_numbering", "sphinx_jupyterbook_latex")


def _declare_parallel_safe(app, config):
    for name in PARALLEL_READ_SAFE:
        ext = app.extensions.get(name)
        if ext is not None and ext.parallel_read_safe is None:
            ext.parallel_read_safe = True


def setup(app):
    app.add_domain(numref_domain(), override=True)
    app.connect("config-inited", _declare_parallel_safe)
    app.connect("config-inited", _use_local_mathjax)
    app.connect("doctree-resolved", _math_in_raw_html)
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _copy_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
