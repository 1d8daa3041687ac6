"""The built site in a real Chromium, offline: one implementation for the browser tests
(``tests/site/``) and for ``make pdf`` (``tools/make_pdf.py``).

* :func:`serve` serves a built site (``_build/html``) from a ``http.server`` thread on
  127.0.0.1 and yields its base URL;
* :data:`CHROMIUM` and :data:`CHROMIUM_ARGS` launch Debian's Chromium through Playwright
  (never a downloaded browser);
* :func:`route_offline` refuses every off-site request of a context, recording it in
  ``context.blocked``. The site ships MathJax itself (``_ext/lec4_site.py`` copies the
  ``npm`` copy in ``.cache/npm``, which ``make setup`` installs, into ``_static/lec4/``);
  a page built without that copy asks MathJax's CDN, and that request alone is answered
  from the local copy (nothing third-party is committed);
* :func:`wait_for_mathjax` and :func:`unloaded_images` tell when a page is ready: every
  math element typeset, every image loaded.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SITE = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking"]
MATHJAX = ROOT / ".cache" / "npm" / "node_modules" / "mathjax"
# The script the pages load: Sphinx's default mathjax_path for MathJax 3.
MATHJAX_CDN = re.compile(r"^https://cdn\.jsdelivr\.net/npm/mathjax@3/(es5/.+)$")


def missing_prerequisites() -> list[str]:
    """Why the site cannot be opened offline here (empty when it can)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} not found (apt-get install -y chromium)")
    if not (MATHJAX / "es5" / "tex-mml-chtml.js").exists():
        missing.append(f"no local MathJax at {MATHJAX} (make setup installs mathjax@3 with npm)")
    return missing


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):   # no line per request on stderr
        pass


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve the directory ``site`` on 127.0.0.1 (a free port); yield its base URL ("http://.../")."""
    site = Path(site)
    if not (site / "index.html").exists():
        raise FileNotFoundError(f"no built site at {site}: run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def route_offline(context, base_url: str) -> None:
    """Route every request of the Playwright ``context`` that is not under ``base_url``.

    A request for MathJax on its CDN is answered from :data:`MATHJAX` (its path appended to
    ``context.mathjax_files``); any other is aborted and its URL appended to
    ``context.blocked``.
    """
    context.mathjax_files = []    # local files served for the CDN URL
    context.blocked = []          # off-site requests that were refused

    def route(route):
        url = route.request.url
        m = MATHJAX_CDN.match(url.split("?", 1)[0])
        if m and (MATHJAX / m.group(1)).is_file():
            context.mathjax_files.append(m.group(1))
            route.fulfill(path=str(MATHJAX / m.group(1)))
        else:
            context.blocked.append(url)
            route.abort()

    context.route(lambda url: not url.startswith(base_url), route)


def mathjax_scripts(page) -> list[str]:
    """The src of every MathJax script the open page loads."""
    return page.evaluate("""() => [...document.scripts].map(s => s.src)
                                  .filter(s => /mathjax/i.test(s))""")


def wait_for_mathjax(page, timeout_ms: int = 20_000) -> list[str]:
    """Wait until MathJax has typeset the open page; return the math left untypeset.

    A page without math elements (``.math``, Sphinx's wrapper) returns at once. Otherwise
    waits for ``MathJax.startup.promise`` (the first typesetting pass), then for the web
    fonts the output uses, and returns the start of each math element that holds no
    ``mjx-container`` (empty when all are typeset).
    """
    if not page.locator(".math").count():
        return []
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                           timeout=timeout_ms)
    page.evaluate("() => MathJax.startup.promise")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    return page.evaluate("""() => [...document.querySelectorAll('.math')]
        .filter(el => !el.querySelector('mjx-container')).map(el => el.textContent.slice(0, 80))""")


def unloaded_images(page, selector: str = "article img") -> list[str]:
    """The src of every image matching ``selector`` that has not loaded (``naturalWidth`` 0)."""
    return page.evaluate("""(sel) => [...document.querySelectorAll(sel)]
        .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.getAttribute('src'))""",
                         selector)
