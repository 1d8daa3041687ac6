"""The book as one PDF: ``<site>/lec4.pdf``, written by ``make pdf`` (``tools/make_pdf.py``;
``make test`` runs it before pytest), read back with pypdf.

* every document of ``_toc.yml`` is in it: its title (the ``<h1>`` of its built page, read
  from the HTML) is a bookmark, the bookmarks follow the toc's order (each part's caption a
  parent bookmark over its documents), and the page a bookmark opens shows that title;
* the page count is sane: at least one page per document, at most the bound of
  :func:`most_pages` (derived from the amount of text and the images the site holds);
* page k carries "k / N" in its bottom margin, k running over the whole book;
* no TeX source is left in the text (:func:`unrendered_tex`): MathJax typeset every
  formula. TeX that a code cell shows (matplotlib's ``r"$\\eta$"``) is allowed only where
  the PDF's line is part of a ``<pre>`` block of that document's built page; a synthetic PDF
  printed without MathJax proves the check flags raw math, and one typeset by MathJax that
  it does not;
* no link points at the local server the pages were printed from;
* every chapter page of the site links to the PDF at the site's root.

Without the PDF (or, for the synthetic PDFs, without Chromium) the tests skip with the
reason; with ``CI=true`` they fail instead (``test_browser._need``).
"""

from __future__ import annotations

import io
import re
import unicodedata
from functools import cache
from urllib.parse import urljoin

import notebooks  # tools/notebooks.py (tests/conftest.py puts tools/ on sys.path)
import pytest
import yaml
from bs4 import BeautifulSoup

from tests.conftest import ROOT
from tests.site.test_browser import SITE, _need, browser  # noqa: F401

PDF = SITE / "lec4.pdf"
MM = 72 / 25.4                       # PDF points per millimetre
BOTTOM_MARGIN_MM = 18                # tools/make_pdf.py prints with an 18 mm bottom margin

# TeX that MathJax should have turned into glyphs: a control word (\frac, \eta, \mathbb),
# the delimiters Sphinx writes (\( \) \[ \]), or a $...$ span holding TeX (\ ^ _ { }).
TEX = re.compile(r"\\(?:[()\[\]]|[A-Za-z]{2,})|\$[^$\n]*[\\^_{}][^$\n]*\$")


def _squash(text: str) -> str:
    """Text compared without its whitespace (pypdf spaces runs differently from the HTML)
    and with ligatures and compatibility characters unfolded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _reader():
    _need(PDF.is_file(), f"no PDF at {PDF}: run `make pdf` (make test does it)")
    from pypdf import PdfReader

    return PdfReader(PDF)


@cache
def _soup(doc: str) -> BeautifulSoup:
    return BeautifulSoup((SITE / f"{doc}.html").read_text("utf-8"), "html.parser")


def html_title(doc: str) -> str:
    """The ``<h1>`` of ``doc``'s built page, without its ``#`` anchor, whitespace collapsed."""
    soup = _soup(doc)
    h1 = soup.select_one("article h1") or soup.select_one("h1")
    assert h1 is not None, f"{doc}.html has no <h1>"
    for a in h1.select(".headerlink"):
        a.decompose()
    return re.sub(r"\s+", " ", h1.get_text()).strip()


def pre_blocks(doc: str) -> list[str]:
    """The squashed text of every ``<pre>`` block (code cells, outputs) of ``doc``'s page."""
    return [_squash(pre.get_text()) for pre in _soup(doc).select("article pre")]


def unrendered_tex(reader, page_blocks: list[list[str]]) -> list[str]:
    """Every line of the PDF that holds TeX source, unless the line is code.

    ``page_blocks[i]`` lists the squashed ``<pre>`` texts that page ``i`` may show: a line
    with a TeX match is allowed only when its squashed text occurs in one of them (a code
    cell wraps on paper, so a PDF line is a piece of a code line, never more). Returns
    "page N: line" for each line flagged.
    """
    hits = []
    for i, page in enumerate(reader.pages):
        for line in page.extract_text().splitlines():
            if not TEX.search(line):
                continue
            squashed = _squash(line)
            if not any(squashed in block for block in page_blocks[i]):
                hits.append(f"page {i + 1}: {line.strip()[:120]}")
    return hits


def _outline(reader) -> list[tuple[str, int, int, bool]]:
    """The bookmarks as (title, page index, depth, has children), depth-first."""
    out = []

    def walk(items, depth):
        for i, item in enumerate(items):
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                parent = i + 1 < len(items) and isinstance(items[i + 1], list)
                out.append((str(item.title), reader.get_destination_page_number(item), depth,
                            parent))

    walk(reader.outline, 0)
    return out


def _toc_parts() -> list[tuple[str | None, list[str]]]:
    """(caption, documents) of each part of ``_toc.yml``, read here, not by the tool."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text("utf-8"))

    def files(node):
        if isinstance(node, dict):
            own = [node["file"]] if "file" in node else []
            return own + [f for k, v in node.items() if k != "file" for f in files(v)]
        if isinstance(node, list):
            return [f for item in node for f in files(item)]
        return []

    return [(part["caption"], files(part["chapters"])) for part in toc["parts"]]


def _doc_pages(reader) -> dict[str, range]:
    """The pages of each toc document: from its bookmark to the next document's."""
    docs = notebooks.toc_documents()
    titles = {html_title(d): d for d in docs}
    # A part's bookmark (it has children) may read like a document's ("Homework").
    starts = [(titles[t], p) for t, p, _, parent in _outline(reader) if not parent and t in titles]
    assert [d for d, _ in starts] == docs, "the bookmarks do not list the toc's documents in order"
    ends = [p for _, p in starts[1:]] + [len(reader.pages)]
    return {d: range(p, end) for (d, p), end in zip(starts, ends)}


def most_pages() -> int:
    """The most pages the book may print to, from what the site holds.

    Every document starts on a new page (one page each at most wasted), every image may take
    a page of its own, and every other page carries at least 1000 characters of the
    article's text: a printed A4 page at 11 pt holds about 3500 characters of prose and 60
    to 70 lines of 8.5 pt code, so 1000 leaves room for display math and tables, and a PDF
    longer than this has blank or near-blank pages (a layout gone wrong).
    """
    docs = notebooks.toc_documents()
    chars = images = 0
    for doc in docs:
        article = _soup(doc).select_one("article")
        chars += len(re.sub(r"\s+", " ", article.get_text()))
        images += len(article.select("img"))
    return len(docs) + images + chars // 1000


@pytest.mark.slow
def test_every_document_is_a_bookmark_in_toc_order_on_a_page_that_shows_its_title():
    reader = _reader()
    docs = notebooks.toc_documents()
    outline = _outline(reader)
    pages = _doc_pages(reader)          # asserts the toc order of the documents' bookmarks
    for doc in docs:
        first = reader.pages[pages[doc].start].extract_text()
        assert _squash(html_title(doc)) in _squash(first), (
            f"the bookmark of {doc} opens page {pages[doc].start + 1}, which does not show "
            f"its title {html_title(doc)!r}")
    # The parts: each caption a bookmark on its first document's page, over its documents.
    for caption, part_docs in _toc_parts():
        at = [i for i, (t, _, depth, parent) in enumerate(outline)
              if t == caption and depth == 0 and parent]
        assert at, f"no top-level bookmark for the part {caption!r}"
        i = at[0]
        assert outline[i][1] == pages[part_docs[0]].start
        children = [t for t, _, depth, _ in outline[i + 1:i + 1 + len(part_docs)] if depth == 1]
        assert children == [html_title(d) for d in part_docs], f"part {caption!r}: {children}"


@pytest.mark.slow
def test_every_title_is_in_the_text_and_the_page_count_is_sane():
    reader = _reader()
    docs = notebooks.toc_documents()
    text = _squash("".join(page.extract_text() for page in reader.pages))
    missing = [html_title(d) for d in docs if _squash(html_title(d)) not in text]
    assert not missing, f"titles not in the PDF's text: {missing}"
    n, bound = len(reader.pages), most_pages()
    assert len(docs) <= n <= bound, f"{n} pages for {len(docs)} documents (at most {bound})"


@pytest.mark.slow
def test_every_page_shows_its_number_in_the_bottom_margin():
    from pypdf import mult

    reader = _reader()
    n = len(reader.pages)
    wrong = []
    for k, page in enumerate(reader.pages, 1):
        bottom: list[str] = []
        height = float(page.mediabox.height)

        def visit(text, cm, tm, font, size, bottom=bottom, height=height):
            y = mult(tm, cm)[5]
            # Chromium's content streams may flip y (origin at the top): accept either.
            if text.strip() and min(y, height - y) < BOTTOM_MARGIN_MM * MM and y < height / 2:
                bottom.append(text)

        page.extract_text(visitor_text=visit)
        if not re.search(rf"(?<!\d){k}\s*/\s*{n}(?!\d)", "".join(bottom)):
            wrong.append(f"page {k}: bottom margin reads {''.join(bottom)!r}")
    assert not wrong, f"{len(wrong)} of {n} pages lack 'k / {n}':\n  " + "\n  ".join(wrong[:5])


@pytest.mark.slow
def test_no_tex_source_is_left_unrendered():
    reader = _reader()
    owner: list[str | None] = [None] * len(reader.pages)
    for doc, pages in _doc_pages(reader).items():
        for p in pages:
            owner[p] = doc
    hits = unrendered_tex(reader, [pre_blocks(d) if d else [] for d in owner])
    assert not hits, f"{len(hits)} lines with TeX source:\n  " + "\n  ".join(hits[:10])


@pytest.mark.slow
def test_no_link_points_at_the_server_the_pages_were_printed_from():
    reader = _reader()
    local = []
    for k, page in enumerate(reader.pages, 1):
        for ref in page.get("/Annots", []) or []:
            action = ref.get_object().get("/A")
            uri = str(action.get_object().get("/URI", "")) if action is not None else ""
            if re.match(r"https?://(127\.0\.0\.1|localhost)", uri):
                local.append(f"page {k}: {uri}")
    assert not local, f"links into the print server: {local[:5]}"


@pytest.mark.slow
def test_every_chapter_page_links_to_the_pdf_at_the_site_root():
    _need((SITE / "index.html").exists(), f"no built site at {SITE}: run `make book`")
    pages = sorted((SITE / "chapters").rglob("*.html"))
    assert pages, f"no chapter pages under {SITE / 'chapters'}"
    root = "http://site.example/"
    want = urljoin(root, "lec4.pdf")
    wrong = []
    for html in pages:
        rel = html.relative_to(SITE).as_posix()
        links = [a["href"] for a in BeautifulSoup(html.read_text("utf-8"), "html.parser")
                 .select(".lec4-pdf-link a[href]")]
        if not links or any(urljoin(root + rel, href) != want for href in links):
            wrong.append(f"{rel}: {links}")
    assert not wrong, f"chapter pages without a link to lec4.pdf: {wrong[:5]}"


SYNTHETIC = r"""<!doctype html><html><head><meta charset="utf-8">{script}</head><body>
<p>The ratio $\frac{{a}}{{b}}$ is left as typed.</p>
<p>So is <span class="math">\(\eta \in \mathbb{{R}}\)</span> here.</p>
<pre>plt.xlabel(r"$\eta$")  # code shows TeX for matplotlib</pre>
</body></html>"""
# The script tag of the built pages (Sphinx's MathJax 3 URL), answered from the local copy.
MATHJAX_TAG = '<script defer src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'


@pytest.mark.browser
def test_the_tex_check_flags_raw_math_and_passes_typeset_math_and_code(browser, tmp_path):
    import site_browser
    from pypdf import PdfReader

    (tmp_path / "index.html").write_text(SYNTHETIC.format(script=""), "utf-8")
    (tmp_path / "typeset.html").write_text(SYNTHETIC.format(script=MATHJAX_TAG), "utf-8")
    code = [_squash(BeautifulSoup(SYNTHETIC, "html.parser").select_one("pre").get_text())]
    pdfs = {}
    with site_browser.serve(tmp_path) as url:
        context = browser.new_context()
        site_browser.route_offline(context, url)
        for name in ("index", "typeset"):
            page = context.new_page()
            page.goto(f"{url}{name}.html", wait_until="load")
            if name == "typeset":
                assert site_browser.wait_for_mathjax(page) == []
            pdfs[name] = PdfReader(io.BytesIO(page.pdf(format="A4")))
            page.close()
        blocked = context.blocked
        context.close()
    assert not blocked, blocked

    raw = unrendered_tex(pdfs["index"], [code])
    assert any("\\frac{a}{b}" in h for h in raw), raw
    assert any("\\mathbb{R}" in h for h in raw), raw
    assert not any("xlabel" in h for h in raw), f"a code line was flagged: {raw}"
    assert any("xlabel" in h for h in unrendered_tex(pdfs["index"], [[]])), (
        "without the page's <pre> blocks the code line must be flagged too")
    # MathJax (default delimiters \( \)) typesets the span; the $...$ one stays raw.
    left = unrendered_tex(pdfs["typeset"], [code])
    assert not any("mathbb" in h for h in left), left
    assert any("\\frac{a}{b}" in h for h in left), left


WIDE = r"""<!doctype html><html><head><meta charset="utf-8">{script}</head><body><article>
<div class="math">\[ {wide} \]</div>
<div class="math">\[ a + b = c \]</div>
<p>Inline: \( x_1 + x_2 \) stays.</p>
</article></body></html>"""


@pytest.mark.browser
def test_a_formula_wider_than_the_printed_column_is_shrunk_to_fit(browser, tmp_path):
    """make_pdf.fit_wide_math: MathJax does not break lines, so a display formula wider than
    the A4 column is shrunk until it fits; a narrow one is left alone; one that would need
    less than MIN_MATH_SCALE stops the tool."""
    import make_pdf   # tools/make_pdf.py
    import site_browser

    terms = lambda n: " + ".join(rf"\frac{{x_{{{k}}}}}{{y_{{{k}}}}}" for k in range(n))
    (tmp_path / "index.html").write_text("<!doctype html><title>index</title>", "utf-8")
    (tmp_path / "wide.html").write_text(WIDE.format(script=MATHJAX_TAG, wide=terms(18)), "utf-8")
    (tmp_path / "huge.html").write_text(WIDE.format(script=MATHJAX_TAG, wide=terms(40)), "utf-8")
    width = """() => [...document.querySelectorAll('mjx-container[display="true"]')].map(
                 e => [e.querySelector('mjx-math').getBoundingClientRect().width, e.clientWidth])"""
    with site_browser.serve(tmp_path) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        site_browser.route_offline(context, url)
        page = context.new_page()
        page.goto(f"{url}wide.html", wait_until="load")
        assert site_browser.wait_for_mathjax(page) == []
        page.emulate_media(media="print")
        page.set_viewport_size({"width": make_pdf.PRINT_WIDTH_PX, "height": 1000})
        (need, avail), (narrow, _) = page.evaluate(width)
        assert need > avail > narrow                     # the first formula does not fit
        fitted = make_pdf.fit_wide_math(page, "wide.html")
        assert len(fitted) == 1 and fitted[0]["display"] and fitted[0]["fits"], fitted
        assert make_pdf.MIN_MATH_SCALE <= fitted[0]["scale"] < 1
        (need_after, avail_after), (narrow_after, _) = page.evaluate(width)
        assert need_after <= avail_after + 0.5 and narrow_after == narrow
        page.close()

        page = context.new_page()
        page.goto(f"{url}huge.html", wait_until="load")
        assert site_browser.wait_for_mathjax(page) == []
        with pytest.raises(RuntimeError, match="too wide for the printed page"):
            make_pdf.fit_wide_math(page, "huge.html")
        page.close()
        context.close()
