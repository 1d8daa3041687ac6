"""Print the built book into one PDF, ``<site>/lec4.pdf`` (what ``make pdf`` runs).

Every document of ``_toc.yml``, in reading order (``notebooks.toc_documents()``), is opened
in Debian's Chromium through Playwright from a local server, offline: MathJax comes from
the site itself (or, for a site built without it, from the local ``npm`` copy in place of
its CDN) and every other off-site request is refused (``tools/site_browser.py``, the same
code the browser tests use). Before a page is printed,
MathJax has typeset every math element and every image of the article has loaded; a page
that fails either, or asks for anything off-site, stops the tool with the reason. The print
styles (``@media print`` in ``_static/lec4.css``) hide the navigation, the launch buttons,
the PDF link and the interactive explorers (their static figure is printed instead).
MathJax does not break lines, so a formula wider than the printed column (display or
inline) is shrunk to fit, never below 60 % (a wider one stops the tool: split it in the
source); the line of its document says how many were shrunk.

Each page is printed on A4 (``page.pdf``); the pieces are merged with pypdf, with one
bookmark per document (its ``<h1>``) under one bookmark per part of the toc. Page numbers
run over the whole book: Chromium prints an empty document of as many pages as the book,
with "k / N" in its footer, and each of its pages is laid over the book's page k. Objects
the pieces share (fonts) are stored once. Links
between the book's pages point into the PDF (the first page of the target document); a
link to another file of the site (a download) becomes a link relative to the PDF, which
sits at the site's root.

A line per document (k/n, its title, its pages and seconds) and a final line with the size
and the page count are printed. Without Chromium or the local MathJax it writes nothing and
says why (removing an older PDF), like the browser tests skip; under ``CI=true`` it fails.

Usage::

    python tools/make_pdf.py [--site DIR] [--output FILE]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import notebooks
import site_browser
import yaml
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

ROOT = Path(__file__).resolve().parents[1]
PDF_NAME = "lec4.pdf"
PAGE = {"format": "A4",
        "margin": {"top": "16mm", "bottom": "18mm", "left": "15mm", "right": "15mm"}}
# Seconds a page may take to load, typeset its math and load its images.
TIMEOUT_MS = 60_000

# The page number, printed in the bottom margin of an otherwise empty page.
NUMBER_FOOTER = ('<div style="width:100%;text-align:center;font-size:9px;color:#444;'
                 'font-family:sans-serif;"><span class="pageNumber"></span> / '
                 '<span class="totalPages"></span></div>')

TITLE = """() => {
  const h1 = document.querySelector('article h1') || document.querySelector('h1');
  if (!h1) return null;
  const copy = h1.cloneNode(true);
  copy.querySelectorAll('.headerlink').forEach(a => a.remove());
  return copy.textContent.replace(/\\s+/g, ' ').trim();
}"""

# The width of the printed text column in CSS pixels (96 per inch): A4 less the margins.
PRINT_WIDTH_PX = round((210 - 15 - 15) / 25.4 * 96)
# A formula is shrunk to fit the column at most this far; a wider one stops the tool.
MIN_MATH_SCALE = 0.6

# MathJax does not break lines: a formula wider than its column would be cut off at the
# paper's edge. Shrink each such formula (display or inline) until it fits; report them.
FIT_WIDE_MATH = """() => {
  const out = [];
  for (const el of document.querySelectorAll('article mjx-container')) {
    const math = el.querySelector('mjx-math');
    if (!math) continue;
    const display = el.getAttribute('display') === 'true';
    const box = display ? el : (el.parentElement.closest('p, li, dd, dt, blockquote, div')
                                || el.parentElement);
    const avail = box.clientWidth, need = math.getBoundingClientRect().width;
    if (!(need > avail + 0.5)) continue;
    const scale = avail / need;
    const size = parseFloat(getComputedStyle(el).fontSize);
    el.style.fontSize = (size * scale * 0.99) + 'px';
    const speech = el.querySelector('mjx-assistive-mml');
    out.push({text: (speech || el).textContent.slice(0, 60), display, scale,
              fits: math.getBoundingClientRect().width <= avail + 0.5});
  }
  return out;
}"""

# Lazy images load only when scrolled into view: load them all now.
EAGER_IMAGES = """() => document.querySelectorAll('img[loading="lazy"]')
                        .forEach(img => img.loading = 'eager')"""
IMAGES_LOADED = """() => [...document.querySelectorAll('article img')]
                         .every(img => img.complete && img.naturalWidth > 0)"""


def toc_parts(root: Path = ROOT) -> list[tuple[str | None, list[str]]]:
    """The toc as (part caption or None, its documents), in reading order; the root
    document and chapters outside any part come under None."""
    toc = yaml.safe_load((root / "_toc.yml").read_text("utf-8"))
    docs = notebooks.toc_documents(root)
    parts: list[tuple[str | None, list[str]]] = [(None, [docs[0]])]
    if "chapters" in toc:           # a toc without parts
        parts.append((None, _walk_files(toc["chapters"])))
    for part in toc.get("parts", []):
        parts.append((part.get("caption"), _walk_files(part.get("chapters", []))))
    listed = [d for _, ds in parts for d in ds]
    if listed != docs:
        raise ValueError(f"the toc's parts list {listed}, toc_documents() {docs}")
    return parts


def _walk_files(node) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if "file" in node:
            out.append(str(node["file"]).removesuffix(".md").removesuffix(".ipynb"))
        for key, value in node.items():
            if key != "file":
                out += _walk_files(value)
    elif isinstance(node, list):
        for item in node:
            out += _walk_files(item)
    return out


def print_page(context, url: str, out: Path) -> tuple[str, list[dict]]:
    """Open ``url``, wait until it is ready to print, print it to ``out``; return its title
    and the formulas shrunk to fit the page (:func:`fit_wide_math`)."""
    page = context.new_page()
    try:
        response = page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
        if response is None or not response.ok:
            raise RuntimeError(f"{url}: HTTP {response and response.status}")
        bare = site_browser.wait_for_mathjax(page, timeout_ms=TIMEOUT_MS)
        if bare:
            raise RuntimeError(f"{url}: {len(bare)} math elements not typeset: {bare[:3]}")
        if page.locator("mjx-merror").count():
            raise RuntimeError(f"{url}: MathJax reports a TeX error")
        page.evaluate(EAGER_IMAGES)
        try:
            page.wait_for_function(IMAGES_LOADED, timeout=TIMEOUT_MS)
        except Exception as exc:   # playwright's TimeoutError
            raise RuntimeError(f"{url}: images that did not load: "
                               f"{site_browser.unloaded_images(page)}") from exc
        page.evaluate("() => document.fonts.ready.then(() => true)")
        fitted = fit_wide_math(page, url)
        if context.blocked:
            raise RuntimeError(f"{url}: off-site requests refused: {context.blocked}")
        title = page.evaluate(TITLE)
        if not title:
            raise RuntimeError(f"{url}: the page has no <h1> title")
        page.pdf(path=str(out), print_background=True, **PAGE)
        return title, fitted
    finally:
        page.close()


def fit_wide_math(page, url: str) -> list[dict]:
    """Lay ``page`` out as it prints (print media, the column's width) and shrink every
    formula wider than its column to fit (``FIT_WIDE_MATH``); return what was shrunk.

    A formula that would need a scale below ``MIN_MATH_SCALE`` (or still does not fit)
    raises: it must be split in the source, not printed unreadably small.
    """
    page.emulate_media(media="print")
    page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
    fitted = page.evaluate(FIT_WIDE_MATH)
    bad = [f for f in fitted if f["scale"] < MIN_MATH_SCALE or not f["fits"]]
    if bad:
        raise RuntimeError(f"{url}: formulas too wide for the printed page even at "
                           f"{MIN_MATH_SCALE:.0%} of their size: {bad}")
    return fitted


def number_pages(browser, n_pages: int) -> PdfReader:
    """A PDF of ``n_pages`` empty A4 pages, page k showing "k / n_pages" in its bottom margin."""
    page = browser.new_page()
    try:
        blank = '<div style="height: 1px; break-after: page"></div>' * (n_pages - 1) + "<div></div>"
        page.set_content(f"<!doctype html><html><body style='margin:0'>{blank}</body></html>")
        data = page.pdf(display_header_footer=True, header_template="<span></span>",
                        footer_template=NUMBER_FOOTER, print_background=False, **PAGE)
    finally:
        page.close()
    numbers = PdfReader(io.BytesIO(data))
    if len(numbers.pages) != n_pages:
        raise RuntimeError(f"the page-number overlay has {len(numbers.pages)} pages, "
                           f"the book {n_pages}")
    return numbers


def relink(writer: PdfWriter, base_url: str, first_page: dict[str, int]) -> tuple[int, int]:
    """Point the links that lead into the local server at the PDF or next to it.

    A link to a document of the book goes to its first page; a link to another file of the
    site becomes relative to the site's root (where the PDF is). Returns the two counts.
    """
    internal = relative = 0
    for page in writer.pages:
        for ref in page.get("/Annots", []) or []:
            annot = ref.get_object()
            action = annot.get("/A")
            if annot.get("/Subtype") != "/Link" or action is None:
                continue
            action = action.get_object()
            uri = str(action.get("/URI", ""))
            if action.get("/S") != "/URI" or not uri.startswith(base_url):
                continue
            path = urlsplit(uri).path.lstrip("/")
            doc = path.removesuffix(".html")
            if doc in first_page:
                target = writer.pages[first_page[doc]].indirect_reference
                annot[NameObject("/A")] = DictionaryObject({
                    NameObject("/S"): NameObject("/GoTo"),
                    NameObject("/D"): ArrayObject([target, NameObject("/Fit")]),
                })
                internal += 1
            else:
                frag = urlsplit(uri).fragment
                action[NameObject("/URI")] = TextStringObject(path + (f"#{frag}" if frag else ""))
                relative += 1
    return internal, relative


def make_pdf(site: Path, output: Path) -> None:
    start = time.perf_counter()
    missing = site_browser.missing_prerequisites()
    if missing:
        # As the browser tests: without Chromium or MathJax, skip, except under CI=true.
        if os.environ.get("CI", "").lower() == "true":
            sys.exit("make_pdf: " + "; ".join(missing) + " (CI=true: the PDF is required)")
        output.unlink(missing_ok=True)       # never leave an older PDF to be tested
        print("make_pdf: skipped, no PDF written: " + "; ".join(missing), flush=True)
        return
    parts = toc_parts()
    docs = [d for _, ds in parts for d in ds]
    absent = [d for d in docs if not (site / f"{d}.html").is_file()]
    if absent:
        sys.exit(f"make_pdf: not built into {site}: {absent} (run `make book`)")
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text("utf-8"))

    from playwright.sync_api import sync_playwright

    writer = PdfWriter()
    first_page: dict[str, int] = {}
    titles: dict[str, str] = {}
    with site_browser.serve(site) as base_url, sync_playwright() as pw, \
            tempfile.TemporaryDirectory(prefix="lec4-pdf-") as tmp:
        browser = pw.chromium.launch(executable_path=str(site_browser.CHROMIUM),
                                     args=site_browser.CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        site_browser.route_offline(context, base_url)
        for k, doc in enumerate(docs, 1):
            t0 = time.perf_counter()
            piece = Path(tmp) / f"{k:03d}.pdf"
            titles[doc], fitted = print_page(context, base_url + f"{doc}.html", piece)
            first_page[doc] = len(writer.pages)
            reader = PdfReader(piece)
            writer.append(reader, import_outline=False)
            shrunk = (f", {len(fitted)} wide formula{'s' if len(fitted) > 1 else ''} shrunk to "
                      f"fit (to {min(f['scale'] for f in fitted):.0%} at least)" if fitted else "")
            print(f"[{k}/{len(docs)}] {titles[doc]}: {len(reader.pages)} pages, "
                  f"{time.perf_counter() - t0:.1f} s{shrunk}", flush=True)
        n_pages = len(writer.pages)
        numbers = number_pages(browser, n_pages)
        context.close()
        browser.close()

    for page, number in zip(writer.pages, numbers.pages):
        page.merge_page(number, over=True)
        page.compress_content_streams()      # merge_page leaves the page's content inflated
    internal, relative = relink(writer, base_url, first_page)
    for caption, part_docs in parts:
        parent = None
        if caption is not None:
            parent = writer.add_outline_item(title=caption, page_number=first_page[part_docs[0]],
                                            bold=True)
        for doc in part_docs:
            writer.add_outline_item(title=titles[doc], page_number=first_page[doc], parent=parent)
    writer.page_mode = "/UseOutlines"
    # The pieces were printed one by one: each embeds its own copy of the fonts they share.
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    writer.add_metadata({"/Title": cfg.get("title", "lec4"), "/Author": cfg.get("author", "")})
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "wb") as fh:
        writer.write(fh)
    size = output.stat().st_size
    print(f"wrote {output}: {size / 1e6:.1f} MB, {n_pages} pages, {len(docs)} documents, "
          f"{internal} links into the PDF, {relative} to site files, "
          f"{time.perf_counter() - start:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", type=Path, default=site_browser.DEFAULT_SITE,
                    help="the built site (default: _build/html)")
    ap.add_argument("--output", type=Path, default=None,
                    help=f"the PDF to write (default: <site>/{PDF_NAME})")
    args = ap.parse_args(argv)
    site = args.site.resolve()
    make_pdf(site, (args.output or site / PDF_NAME).resolve())


if __name__ == "__main__":
    main()
