"""Accessible pages (issue 16 §2), every page of the built site in Chromium.

The fixtures and the offline routing are ``test_browser.py``'s (MathJax served from
``.cache/npm``, every other off-site request refused); pages are opened as
``test_reading.py`` opens them (MathJax typeset before anything is read).

* **Alt text.** Every ``<img>`` on the page (figures, notebook outputs, the theme's logo) has
  an ``alt`` that says something: not missing, not empty, not a generic word ("image",
  "figure", "png"), not the image's file name. Chapter figures get theirs from the
  ``:alt:`` of their ``{glue:figure}`` (``tests/unit/test_chapter_style.py`` checks the
  sources).
* **axe-core.** ``axe.min.js`` (npm ``axe-core``, which ``make setup`` installs in
  ``.cache/npm``) is injected into the page and ``axe.run()`` checks it with its default
  rules (WCAG 2 A/AA and best practices). The full result of each page goes to
  ``test-artifacts/axe/<page>.json`` and the counts by impact and by rule over all pages to
  ``test-artifacts/axe/summary.json``; a page fails on any ``serious`` or ``critical``
  violation. No rule is disabled.
* **Dark mode.** With the theme in dark mode (``localStorage`` "mode" = "dark" before the
  page loads, as the theme's switch leaves it) every figure image sits on a light card: the
  mean luminance of the pixels along the edges of its screenshot is high, so dark axis text
  stays readable; a plotly explorer (``.lec4-explorer .js-plotly-plot``) likewise has a light
  paper. Full-page screenshots go to ``test-artifacts/screenshots/dark/``.

Each check is also run on a page made to fail it, so a green run means something. Without
Chromium, MathJax or axe-core the tests skip with the reason; under ``CI=true`` they fail.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections import Counter

import pytest

from tests.conftest import ROOT
from tests.site.test_browser import (SHOTS, SITE, _need, _pages, browser, context,  # noqa: F401
                                     site_url)
from tests.site.test_reading import _open

pytestmark = pytest.mark.browser

AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
AXE_OUT = ROOT / "test-artifacts" / "axe"
DARK_SHOTS = SHOTS / "dark"
#: impacts that fail a page (axe's scale: minor, moderate, serious, critical)
FAILING_IMPACTS = ("serious", "critical")
#: alt texts that say nothing about the image
GENERIC_ALTS = {"image", "img", "figure", "fig", "picture", "photo", "graphic", "plot", "chart",
                "graph", "png", "jpg", "jpeg", "svg", "gif", "logo", "icon"}
#: mean luminance (0-255) the edges of a figure must reach in dark mode. lec4.css puts each
#: figure on a white card; the theme dims every image in dark mode (``filter: brightness(.8)
#: contrast(1.2)``), so a card's edges measure about 200 (less where an axis or a legend
#: reaches the edge); a transparent figure on the theme's dark background measures about 20.
MIN_EDGE_LUMINANCE = 150
#: width in pixels of the band along the edges that is measured
EDGE = 3


def _slug(page_path: str) -> str:
    return page_path.replace("/", "__").removesuffix(".html")


# ----------------------------------------------------------------------------- alt text

IMAGES = """() => [...document.querySelectorAll('img')].map(img => ({
    src: img.getAttribute('src') || '', alt: img.getAttribute('alt'),
    visible: img.getClientRects().length > 0}))"""


def _names_its_file(alt: str, name: str, stem: str) -> bool:
    """Whether ``alt`` is, or holds, the image's file name: ``name`` (``loss_curve.png``)
    anywhere, or its ``stem`` alone or, when the stem is no word (a hash, ``fig_3``), as a
    word of the alt."""
    alt = alt.lower()
    if not name or data_uri(name):
        return False
    if name.lower() in alt or alt.strip(" .") == stem.lower():
        return True
    return bool(re.search(r"[\d_\-]", stem)) and bool(
        re.search(rf"(?<!\w){re.escape(stem.lower())}(?!\w)", alt))


def data_uri(src: str) -> bool:
    return src.startswith("data:")


def alt_problems(page) -> list[str]:
    """Every ``<img>`` of the open ``page`` whose ``alt`` is missing or says nothing."""
    problems = []
    for img in page.evaluate(IMAGES):
        src, alt = img["src"], img["alt"]
        name = "" if data_uri(src) else src.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0]
        label = (src[:60] + "...") if len(src) > 60 else src
        text = (alt or "").strip()
        if alt is None:
            problems.append(f"<img src={label!r}> has no alt")
        elif not text:
            problems.append(f"<img src={label!r}> has an empty alt")
        elif text.lower().strip(" .") in GENERIC_ALTS:
            problems.append(f"<img src={label!r}> has the generic alt {text!r}")
        elif not re.search(r"[^\W\d_]{2}", text):
            problems.append(f"<img src={label!r}> has the alt {text!r}, no word")
        elif _names_its_file(text, name, stem):
            problems.append(f"<img src={label!r}> has its file name as alt ({text!r})")
    return problems


@pytest.mark.parametrize("page_path", _pages())
def test_every_image_has_meaningful_alt(context, site_url, page_path):
    page = _open(context, site_url, page_path, 1280)
    problems = alt_problems(page)
    page.close()
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


def test_the_alt_check_catches_each_problem(context):
    page = context.new_page()
    page.set_content("""<html><body>
      <img src="_images/a1.png">
      <img src="_images/a2.png" alt="  ">
      <img src="_images/a3.png" alt="PNG">
      <img src="_static/minus.png" alt="-">
      <img src="_images/loss_curve.png" alt="loss_curve.png">
      <img src="_images/8f0c2d1e.png" alt="Figure 8f0c2d1e">
      <img src="_images/loss.png" alt="The loss against the step on a log scale, falling.">
      <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="A one-pixel example image">
    </body></html>""")
    found = alt_problems(page)
    page.close()
    assert found == ["<img src='_images/a1.png'> has no alt",
                     "<img src='_images/a2.png'> has an empty alt",
                     "<img src='_images/a3.png'> has the generic alt 'PNG'",
                     "<img src='_static/minus.png'> has the alt '-', no word",
                     "<img src='_images/loss_curve.png'> has its file name as alt ('loss_curve.png')",
                     "<img src='_images/8f0c2d1e.png'> has its file name as alt ('Figure 8f0c2d1e')"], found


# ----------------------------------------------------------------------------- axe-core

def _need_axe() -> None:
    _need(AXE.is_file(), f"no axe-core at {AXE} (make setup installs axe-core with npm)")


def run_axe(page) -> dict:
    """axe-core's full result for the open ``page`` (its default rules, none disabled)."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")


def failing_violations(result: dict) -> list[str]:
    """One line per ``serious`` or ``critical`` violation of an axe result: rule, impact, help,
    how many elements and the first few of them."""
    out = []
    for v in result["violations"]:
        if v.get("impact") in FAILING_IMPACTS:
            targets = [" ".join(map(str, n["target"])) for n in v["nodes"]][:3]
            out.append(f"{v['id']} ({v['impact']}): {v['help']}; {len(v['nodes'])} elements, "
                       f"e.g. {targets}")
    return out


@pytest.fixture(scope="module")
def axe_summary():
    """Counts over every page checked, written to test-artifacts/axe/summary.json at the end."""
    summary = {"pages": 0, "by_impact": Counter(), "by_rule": Counter(), "elements_by_rule": Counter(),
               "pages_by_rule": {}}
    yield summary
    if summary["pages"]:
        AXE_OUT.mkdir(parents=True, exist_ok=True)
        out = dict(summary, by_impact=dict(summary["by_impact"]), by_rule=dict(summary["by_rule"]),
                   elements_by_rule=dict(summary["elements_by_rule"]))
        (AXE_OUT / "summary.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("page_path", _pages())
def test_axe_finds_no_serious_or_critical_violation(context, site_url, page_path, axe_summary):
    _need_axe()
    page = _open(context, site_url, page_path, 1280)
    result = run_axe(page)
    page.close()
    AXE_OUT.mkdir(parents=True, exist_ok=True)
    (AXE_OUT / f"{_slug(page_path)}.json").write_text(json.dumps(result, indent=1) + "\n")
    axe_summary["pages"] += 1
    for v in result["violations"]:
        rule = f"{v['id']} ({v.get('impact')})"
        axe_summary["by_impact"][v.get("impact")] += 1
        axe_summary["by_rule"][rule] += 1
        axe_summary["elements_by_rule"][rule] += len(v["nodes"])
        axe_summary["pages_by_rule"].setdefault(rule, []).append(page_path)
    problems = failing_violations(result)
    problems += [f"off-site request refused: {u}" for u in context.blocked]
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


def test_the_axe_check_catches_serious_and_critical_violations(context):
    _need_axe()
    page = context.new_page()
    page.set_content("""<html lang="en"><head><title>t</title></head><body><main>
      <h1>A page made to fail</h1>
      <p style="color:#bbbbbb;background:#ffffff">Light grey text on white.</p>
      <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
      <a href="x.html"></a>
    </main></body></html>""")
    found = "\n".join(failing_violations(run_axe(page)))
    page.close()
    for rule in ("color-contrast (serious)", "image-alt (critical)", "link-name (serious)"):
        assert rule in found, (rule, found)


# ----------------------------------------------------------------------------- dark mode

#: the figures a reader sees: glued figures and images a cell displays, and the plotly
#: explorers (not the theme's icons, such as the module index's toggles)
FIGURES = "article figure img, article .cell_output img, .lec4-explorer .js-plotly-plot"


def _edge_luminance(png: bytes) -> float:
    """Mean luminance (ITU-R BT.601, 0-255) of the ``EDGE``-pixel band along the edges of a
    screenshot."""
    from PIL import Image, ImageStat

    img = Image.open(io.BytesIO(png)).convert("L")
    w, h = img.size
    e = max(1, min(EDGE, w // 4, h // 4))
    bands = [img.crop(box) for box in ((0, 0, w, e), (0, h - e, w, h), (0, e, e, h - e),
                                       (w - e, e, w, h - e))]
    pixels = sum(b.size[0] * b.size[1] for b in bands)
    return sum(ImageStat.Stat(b).sum[0] for b in bands) / pixels


def dark_mode_problems(page) -> list[str]:
    """Figures of the open ``page`` whose edges are dark (their dark text would vanish on the
    dark background); the page must be in dark mode."""
    mode = page.evaluate("() => document.documentElement.dataset.theme")
    if mode != "dark":
        return [f"the page is not in dark mode (data-theme={mode!r})"]
    problems = []
    figures = page.locator(FIGURES)
    for i in range(figures.count()):
        fig = figures.nth(i)
        box = fig.bounding_box()
        if not box or box["width"] < 8 or box["height"] < 8:
            continue                       # not laid out (a collapsed block)
        fig.scroll_into_view_if_needed()
        lum = _edge_luminance(fig.screenshot())
        if lum < MIN_EDGE_LUMINANCE:
            what = fig.evaluate("el => el.tagName === 'IMG' ? el.getAttribute('src') : 'plotly ' + "
                                "(el.closest('.lec4-explorer').id || el.className)")
            problems.append(f"figure {i} ({what}): its edges have mean luminance {lum:.0f} in dark "
                            f"mode (at least {MIN_EDGE_LUMINANCE}: a light card behind it)")
    return problems


@pytest.fixture()
def dark_context(context):
    """``context`` with the theme's colour mode set to dark before any page loads."""
    context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
    return context


PAGES_WITH_FIGURES = [p for p in _pages()
                      if (SITE / p).is_file()
                      and re.search(r'<figure\b|class="cell_output|class="lec4-explorer',
                                    (SITE / p).read_text("utf-8"))]


@pytest.mark.parametrize("page_path", PAGES_WITH_FIGURES)
def test_figures_stay_legible_in_dark_mode(dark_context, site_url, page_path):
    page = _open(dark_context, site_url, page_path, 1280)
    if page.locator(".lec4-explorer").count():
        page.wait_for_selector(".lec4-explorer .js-plotly-plot", timeout=20_000)
    problems = dark_mode_problems(page)
    DARK_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DARK_SHOTS / f"{_slug(page_path)}.png"), full_page=True)
    page.close()
    assert not problems, f"{page_path}:\n  " + "\n  ".join(problems)


def test_the_dark_mode_pages_include_the_chapters_with_figures(site_url):
    """The list is read from the built site: it must not come out empty."""
    assert {"chapters/00-intro.html", "chapters/05-momentum.html"} <= set(PAGES_WITH_FIGURES)


def test_the_dark_mode_check_catches_a_dark_figure(dark_context):
    from PIL import Image, ImageDraw

    buf = io.BytesIO()            # a transparent figure: black text, no background of its own
    img = Image.new("RGBA", (200, 120), (0, 0, 0, 0))
    ImageDraw.Draw(img).text((20, 50), "loss", fill=(0, 0, 0, 255))
    img.save(buf, format="PNG")
    src = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    page = dark_context.new_page()
    page.set_content(f"""<html data-theme="dark"><body style="background:#121212"><article>
      <figure><img src="{src}" alt="The loss"></figure>
      <figure><img src="{src}" alt="The loss" style="background:#fff"></figure>
      <div class="lec4-explorer" id="ex1"><div class="js-plotly-plot"
           style="width:300px;height:150px;background:#111111"></div></div>
    </article></body></html>""")
    found = dark_mode_problems(page)
    page.evaluate("() => document.documentElement.dataset.theme = 'light'")
    light = dark_mode_problems(page)
    page.close()
    assert len(found) == 2, found
    assert found[0].startswith("figure 0 (data:image/png") and "mean luminance" in found[0]
    assert found[1].startswith("figure 2 (plotly ex1)")
    assert light == ["the page is not in dark mode (data-theme='light')"]
