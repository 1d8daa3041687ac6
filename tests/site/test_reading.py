"""Every page as a student reads it, on a laptop (1280 px) and on a phone (390 px).

Issue 15's acceptance checks, in Chromium (fixtures and the offline routing of
``test_browser.py``):

* no page scrolls sideways at either width (``scrollWidth <= innerWidth``): long inline code
  breaks, tables and display equations scroll inside their own box (``_static/lec4.css``);
* every numbered chapter (00–11, 10a) shows learning objectives, key takeaways, at least two
  exercises, one exercise cell whose self-check passed ("✓") and a link to the notation page;
  its test paths appear only inside the collapsed "For maintainers" blocks;
* every mention of a chapter ("chapter 05", "the previous chapter") is a link, on every page;
* glued numbers are set in normal weight, and a table cell holding a number does not wrap;
* at 1280 px no code cell scrolls sideways (its lines are at most 88 characters).

A full-page screenshot of every page at both widths goes to
``test-artifacts/screenshots/<width>/``.
"""

from __future__ import annotations

import re

import pytest
import site_browser  # tools/site_browser.py (tests/conftest.py puts tools/ on sys.path)

from tests.site.test_browser import SHOTS, SITE, _pages, browser, context, site_url  # noqa: F401

pytestmark = pytest.mark.browser

WIDTHS = (390, 1280)
TEACHING = re.compile(r"^chapters/(\d\d)[a-z]?-[^/]+\.html$")


def _is_teaching(page_path: str) -> bool:
    m = TEACHING.match(page_path)
    return bool(m) and int(m.group(1)) < 97


# Text nodes that mention a chapter without being inside a link (code and scripts excepted).
UNLINKED_MENTIONS = r"""() => {
  const re = /\b[Cc]hapters? \d\d[a-z]?\b|\b(?:previous|next|last|following) (?:chapter|section)\b/;
  const root = document.querySelector('article') || document.body;
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest('a, pre, code, script, style, mjx-container')) continue;
    const m = n.textContent.match(re);
    if (m) out.push(m[0] + ' in "' + n.textContent.trim().slice(0, 60) + '"');
  }
  return out;
}"""

TEST_PATHS_OUTSIDE_MAINTAINERS = r"""() => {
  const root = document.querySelector('article') || document.body;
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest('.lec4-maintainers, script, style')) continue;
    if (/tests\/|test_\w+\.py/.test(n.textContent)) out.push(n.textContent.trim().slice(0, 80));
  }
  return out;
}"""

WIDEST = r"""() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1
               && getComputedStyle(el).position !== 'fixed'
               && !el.closest('.bd-sidebar-primary, .bd-sidebar-secondary, .pst-scrollable-table-container, table, mjx-container, pre, .math'))
  .slice(0, 5).map(el => el.tagName + '.' + el.className + ': ' + (el.textContent || '').trim().slice(0, 50))"""


def _open(context, site_url, page_path, width):
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(site_url + page_path, wait_until="load")
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', (SITE / page_path).read_text())
    if redirect:
        page.wait_for_url(site_url + redirect.group(1), wait_until="load")
    site_browser.wait_for_mathjax(page)
    return page


def reading_problems(page, page_path: str, width: int) -> list[str]:
    """Everything on the open ``page`` that fails the reading checks (module docstring)."""
    problems: list[str] = []
    scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if scroll > inner:
        problems.append(f"scrolls sideways: page {scroll} px wide in a {inner} px window; "
                        f"too wide: {page.evaluate(WIDEST)}")
    unlinked = page.evaluate(UNLINKED_MENTIONS)
    if unlinked:
        problems.append(f"chapter mentions that are not links: {unlinked[:5]}")
    weights = page.evaluate("""() => [...document.querySelectorAll('article span.pasted-text')]
        .map(s => getComputedStyle(s).fontWeight).filter(w => Number(w) >= 600).length""")
    if weights:
        problems.append(f"{weights} glued values are bold")
    wrapping = page.evaluate(r"""() => [...document.querySelectorAll('article table td')]
        .filter(td => /^[-\u2212+]?[\d.,]+(e[-\u2212+]?\d+)?\s*%?$/i.test(td.innerText.trim()))
        .filter(td => {            // the number's text is laid out on more than one line
            const tops = new Set();
            const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
            for (let n = walk.nextNode(); n; n = walk.nextNode()) {
                const r = document.createRange(); r.selectNodeContents(n);
                for (const q of r.getClientRects()) if (q.width > 0) tops.add(Math.round(q.top));
            }
            return tops.size > 1; })
        .map(td => td.innerText.trim()).slice(0, 3)""")
    if wrapping:
        problems.append(f"table cells whose number breaks across lines: {wrapping}")
    if width >= 1280:   # 88-character code lines fit the laptop column (lec4.css sizes them)
        scrolling = page.evaluate("""() => [...document.querySelectorAll('article .cell_input pre')]
            .filter(e => e.scrollWidth > e.clientWidth + 1)
            .map(e => e.textContent.split('\\n').reduce((a, b) => a.length >= b.length ? a : b))""")
        if scrolling:
            problems.append(f"{len(scrolling)} code cells scroll sideways, e.g. {scrolling[:2]}")
    if _is_teaching(page_path):
        article = page.locator("article")
        for what, selector, least in (("learning objectives", ".lec4-objectives", 1),
                                      ("key takeaways", ".lec4-takeaways", 1),
                                      ("exercises", "div.exercise", 2)):
            n = article.locator(selector).count()
            if n < least:
                problems.append(f"{n} {what} ({selector}); needs {least}")
        outputs = " ".join(article.locator(".cell_output").all_text_contents())
        if "✓ ex-" not in outputs:
            problems.append("no exercise cell shows a passed self-check (✓ ex-...)")
        if not page.locator('article a[href*="notation.html"]').count():
            problems.append("no link to the notation page")
        leaked = page.evaluate(TEST_PATHS_OUTSIDE_MAINTAINERS)
        if leaked:
            problems.append(f"test paths outside the maintainers blocks: {leaked[:3]}")
    return problems


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page_path", _pages())
def test_page_reads_at_width(context, site_url, page_path, width):
    page = _open(context, site_url, page_path, width)
    problems = reading_problems(page, page_path, width)
    shots = SHOTS / str(width)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / (page_path.replace("/", "__").removesuffix(".html") + ".png")),
                    full_page=True)
    page.close()
    assert not problems, f"{page_path} at {width} px:\n  " + "\n  ".join(problems)


def test_the_reading_checks_catch_each_problem(context):
    """Each check fires on a page made to fail it (so a green run means something)."""
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 900})
    page.set_content("""<html><body><article>
      <p>As chapter 04 showed, see <a href="x.html">chapter 05</a>.</p>
      <p>Its value is <span class="pasted-text" style="font-weight:bold">0.5</span>.</p>
      <table><tr><td>label</td><td style="white-space:normal;display:inline-block;width:2em">6.67e-01</td></tr></table>
      <div style="width:900px">wide</div>
      <p>Test: tests/claims/test_05_momentum.py</p>
    </article></body></html>""")
    found = "\n".join(reading_problems(page, "chapters/05-momentum.html", 390))
    page.close()
    for want in ("scrolls sideways", "'chapter 04 in", "1 glued values are bold",
                 "number breaks across lines: ['6.67e-01']", "learning objectives",
                 "no exercise cell", "notation page", "test paths outside"):
        assert want in found, (want, found)
    assert "chapter 05 in" not in found          # a linked mention is fine


def test_teaching_pages_are_the_numbered_chapters():
    teaching = [p for p in _pages() if _is_teaching(p)]
    assert "chapters/05-momentum.html" in teaching and "chapters/10a-large-batch-generalization.html" in teaching
    assert not any(p.startswith(("chapters/98", "chapters/99", "chapters/notation")) for p in teaching)
    assert len(teaching) == 13
