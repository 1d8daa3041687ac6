"""Every page of the built site, opened in a real Chromium (Debian's) through Playwright.

The site is ``_build/html``, written by ``make book`` (``make test`` builds it before
running pytest); set ``LEC4_SITE=/path/to/_build/html`` to test another build (e.g. a
private one made with ``tools/build_book.py --output DIR``). It is served by a
``http.server`` thread on 127.0.0.1 and opened with the offline routing below, both from
``tools/site_browser.py`` (which ``make pdf`` uses too). The pages are discovered, not
listed by hand: every document of ``_toc.yml`` plus every other HTML page Sphinx wrote
(index, genindex, search).

For each page: it loads (index.html: its redirect is followed); every math element is
typeset by MathJax 3, loaded from the site itself (the build copies the ``npm`` copy in
``.cache/npm``, which ``make setup`` installs, into ``_static/lec4/mathjax/``; nothing
third-party is committed; any off-site request is refused and fails the page); every image in the article has loaded (``naturalWidth > 0``); the console and
the page raise no errors beyond the allowlist below; no output shows a Python repr
(``<Figure size ...>``), an empty glued value or a Markdown table left as raw text; the
first page has an executed figure and a glued number; the slide map is a table; a chapter
page (one with a paired ``.ipynb``) has Binder and Colab links to that ``.ipynb``.
``test_reading.py`` reads every page at a phone's and a laptop's width and keeps the
screenshots (``test-artifacts/screenshots/<width>/``).

Without ``/usr/bin/chromium`` or the MathJax copy the tests skip with the reason; with
``CI=true`` (``.ci/run`` sets it) they fail instead, so CI cannot pass without them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import notebooks  # tools/notebooks.py (tests/conftest.py puts tools/ on sys.path)
import pytest
import site_browser  # tools/site_browser.py: the server, Chromium and the offline routing
import yaml
from site_browser import CHROMIUM, CHROMIUM_ARGS, MATHJAX, MATHJAX_CDN  # noqa: F401

from tests.conftest import ROOT

pytestmark = pytest.mark.browser

SITE = Path(os.environ.get("LEC4_SITE", ROOT / "_build" / "html")).resolve()
SHOTS = ROOT / "test-artifacts" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() == "true"

# Console/page errors that are known noise of the theme, not of our pages. Keep it short.
ALLOWED_ERRORS = [
    # sphinx-thebe adds its <script> defining `const THEBE_JS_URL` twice to every page
    # (once by sphinx-book-theme, once by sphinx-thebe itself); the second copy throws.
    # Thebe is loaded only when a reader clicks "live code", which we do not use.
    re.compile(r"Identifier 'THEBE_JS_URL' has already been declared"),
    # pydata-sphinx-theme reads the colour mode from localStorage; on a fresh profile it
    # is empty, the theme logs this once and falls back to "auto" (light/dark by OS).
    re.compile(r"Got invalid theme mode: .*Resetting to auto"),
]


def _need(condition: bool, reason: str) -> None:
    """Skip when a browser prerequisite is missing; under CI=true, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests may not skip)")
    pytest.skip(reason)


def _pages() -> list[str]:
    """Relative HTML paths: the toc's documents, then any other page Sphinx wrote."""
    pages = [f"{d}.html" for d in notebooks.toc_documents()]
    if SITE.is_dir():
        skip = {"_static", "_sources", "_images", "jupyter_execute"}
        for html in sorted(SITE.rglob("*.html")):
            rel = html.relative_to(SITE).as_posix()
            if not skip & set(html.relative_to(SITE).parts) and rel not in pages:
                pages.append(rel)
    return pages


def _launch_urls(doc: str) -> tuple[str, str]:
    """The Binder and Colab URLs of ``doc``'s notebook, from the repository in _config.yml."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = cfg["repository"]
    slug = urlsplit(repo["url"]).path.strip("/")
    branch = repo.get("branch", "master")
    launch = cfg["launch_buttons"]
    path = f"{repo.get('path_to_book', '') or ''}{doc}.ipynb".lstrip("/")
    ui = "lab/tree" if launch.get("notebook_interface") == "jupyterlab" else "tree"
    binder = f"{launch['binderhub_url'].rstrip('/')}/v2/gh/{slug}/{branch}?urlpath={ui}/{path}"
    colab = f"{launch['colab_url'].rstrip('/')}/github/{slug}/blob/{branch}/{path}"
    return binder, colab


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site at {SITE}: run `make book` first (make test does it)")
    with site_browser.serve(SITE) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    missing = site_browser.missing_prerequisites()
    _need(not missing, "; ".join(missing))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def context(browser, site_url):
    """A fresh browser context: MathJax served locally, every other off-site request refused
    (and recorded in ``ctx.blocked``; ``site_browser.route_offline``)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    site_browser.route_offline(ctx, site_url)
    yield ctx
    ctx.close()


@pytest.mark.parametrize("page_path", _pages())
def test_page_renders_in_chromium(context, site_url, page_path):
    assert (SITE / page_path).exists(), (
        f"{page_path} (in _toc.yml) was not built into {SITE}: run `make book`")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))
    response = page.goto(site_url + page_path, wait_until="load")
    assert response is not None and response.ok, f"{page_path}: HTTP {response and response.status}"
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', (SITE / page_path).read_text())
    if redirect:   # index.html sends the reader to the root document: follow it
        page.wait_for_url(site_url + redirect.group(1), wait_until="load")

    problems: list[str] = []

    # MathJax: every math element typeset, none with a TeX error.
    n_math = page.locator(".math").count()
    if n_math:
        src = site_browser.mathjax_scripts(page)
        # the site ships MathJax (_ext/lec4_site.py copies the npm copy into _static/lec4/)
        assert src and all(s.startswith(site_url + "_static/lec4/mathjax/") for s in src), (
            f"{page_path}: MathJax not loaded from the site itself: {src}")
        bare = site_browser.wait_for_mathjax(page)
        if bare:
            problems.append(f"{len(bare)} of {n_math} math elements not typeset: {bare[:3]}")
        tex_errors = page.locator(".math mjx-merror").count()
        if tex_errors:
            problems.append(f"{tex_errors} math elements with a TeX error")

    # Images in the article (figures, glued plots): all loaded.
    broken = site_browser.unloaded_images(page)
    if broken:
        problems.append(f"images that did not load: {broken}")

    # Executed outputs: a glued figure that fell back to its text repr (as it does
    # under a non-interactive backend such as MPLBACKEND=Agg) or an empty glued value shows up here.
    article = page.evaluate("() => (document.querySelector('article') || document.body).innerText")
    for bad in ("<Figure size", "<matplotlib.", "<IPython.core.display"):
        if bad in article:
            problems.append(f"an output shows its repr {bad!r}... instead of being rendered")
    # A Markdown output whose table was not parsed shows its pipes as a paragraph.
    raw_tables = page.evaluate(r"""() => [...document.querySelectorAll('article p')]
        .map(p => p.innerText).filter(t => /\|\s*:?[-\u2013\u2014]+:?\s*\|/.test(t))
        .map(t => t.slice(0, 80))""")
    if raw_tables:
        problems.append(f"Markdown tables shown as raw text: {raw_tables[:2]}")
    empty = page.locator("article .pasted-text:empty").count()
    if empty:
        problems.append(f"{empty} glued values are empty")

    # The first page proves the pipeline: an executed figure and glued numbers.
    if page_path == f"{notebooks.toc_documents()[0]}.html":
        if page.locator("article figure img").count() == 0:
            problems.append("the first page has no executed figure")
        glued = page.locator("article span.pasted-text").all_inner_texts()
        if not any(re.fullmatch(r"-?\d+(\.\d+)?(e[-+]?\d+)?", g.strip()) for g in glued):
            problems.append(f"the first page shows no glued number (pasted: {glued})")
    # The slide map renders as a table with one row per slide.
    if page_path.endswith("99-slide-map.html"):
        rows = page.locator("article table.slide-map tbody tr").count()
        if rows < 30:
            problems.append(f"the slide map table has {rows} rows")

    # Launch buttons of a chapter (a page whose source is a MyST notebook; its .ipynb
    # copy is what Binder and Colab must open).
    doc = page_path.removesuffix(".html")
    if ROOT / f"{doc}.md" in notebooks.notebook_sources():
        binder, colab = _launch_urls(doc)
        hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
        launch = [h for h in hrefs if "/v2/gh/" in h or "/github/" in h]
        for want in (binder, colab):
            if want not in hrefs:
                problems.append(f"no launch link {want} (found {launch})")

    page.close()

    problems += [e for e in errors if not any(p.search(e) for p in ALLOWED_ERRORS)]
    problems += [f"off-site request refused: {u}" for u in context.blocked]
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


def test_pages_cover_the_toc_and_chapters_have_notebooks():
    """The page list is the toc (not a hand list), and the intro chapter is among them."""
    pages = _pages()
    docs = notebooks.toc_documents()
    assert docs[0] == "chapters/00-intro" and "chapters/99-slide-map" in docs
    assert all(f"{d}.html" in pages for d in docs)
    assert _launch_urls("chapters/00-intro")[1].endswith("/blob/main/chapters/00-intro.ipynb")
