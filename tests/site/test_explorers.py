"""The explorers of the built site, driven in Chromium like a reader drives them (issue 16 §1).

An explorer (``lec4lib.book.explorers``) ships the data of every slider position, computed
at build time, and plotly.js draws it. These tests move each slider with the keyboard (a
range input's arrow, Home and End keys, which fire the same ``input`` event as a drag),
read back what plotly.js has plotted (``div.data``, the traces of the graph) and compare
it with what lec4lib computes *here*, for the parameters the slider shows, with the
library's own optimizers and formulas (``run(HeavyBall(...))``,
``noisy_quadratic_second_moments(SGD(...))``, ``adam_step_ratio`` and the closed form
``(1 − β₁ᵗ)/√(1 − β₂ᵗ)``), never with the explorer's code. The page stores 7 significant
digits (``explorers.DIGITS``), so values agree to a relative 5e-7 (``RTOL``).

They also check that plotly.js comes from the site itself and that the page requests
nothing outside it (the ``context`` fixture refuses and records any off-site request), and
that without JavaScript the page shows the explorer's note and hides its dead sliders.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from lec4lib.book import explorers
from lec4lib.optim.driver import run
from lec4lib.optim.momentum import HeavyBall
from lec4lib.optim.sgd import SGD
from lec4lib.problems.quadratic import quadratic_grad
from lec4lib.studies.ch08_adam import adam_step_ratio
from lec4lib.theory.measure import measured_rate
from lec4lib.theory.momentum import heavy_ball_radius
from lec4lib.theory.noise_floor import (noise_floor_theory, noisy_quadratic_second_moments,
                                        stationary_second_moment)
from tests.site.test_browser import (ALLOWED_ERRORS, SITE, browser, context,  # noqa: F401
                                    site_url)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# 7 significant digits stored: the rounding error is at most half a unit of the 7th digit
RTOL = 0.5 * 10.0 ** (1 - explorers.DIGITS)
EXPECTED = {"momentum", "noise-floor", "adam-bias"}


def _explorer_pages() -> dict[str, str]:
    """Explorer name -> the page (relative path) holding it, found in the built HTML."""
    found = {}
    for html in sorted(SITE.rglob("*.html")):
        for name in re.findall(r'<div class="lec4-explorer" data-explorer="([^"]+)"',
                               html.read_text("utf-8", errors="replace")):
            found[name] = html.relative_to(SITE).as_posix()
    return found


def _open(context, site_url, name):
    pages = _explorer_pages()
    assert name in pages, f"explorer {name!r} not on any page of {SITE}"
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site_url + pages[name], wait_until="load")
    root = f'div.lec4-explorer[data-explorer="{name}"]'
    page.wait_for_selector(f"{root}.lec4-explorer-live div[data-plot] .main-svg", timeout=20_000)
    return page, root, requests, errors


def _state(page, root):
    """What the page shows: slider values and labels, the readout, every plotted trace."""
    return page.evaluate(
        """(sel) => {
            const el = document.querySelector(sel);
            const spec = JSON.parse(el.querySelector('script.lec4-explorer-data').textContent);
            const inputs = Array.from(el.querySelectorAll('input[data-slider]'));
            return {
              point: el.getAttribute('data-point'),
              values: inputs.map((i, k) => spec.sliders[k].values[parseInt(i.value, 10)]),
              shown: inputs.map(i => i.parentNode.querySelector('output').textContent),
              readout: el.querySelector('.lec4-explorer-readout').textContent,
              plots: Array.from(el.querySelectorAll('div[data-plot]')).map(
                d => d.data.map(t => ({name: t.name, type: t.type, x: t.x, y: t.y}))),
            };
        }""", root)


def _move(page, root, slider: int, key: str):
    before = page.get_attribute(root, "data-point")
    page.focus(f'{root} input[data-slider="{slider}"]')
    page.keyboard.press(key)
    page.wait_for_function(
        "([sel, before]) => document.querySelector(sel).getAttribute('data-point') !== before",
        arg=[root, before], timeout=10_000)


def _trace(state, plot, name):
    matches = [t for t in state["plots"][plot] if t["name"] == name]
    assert len(matches) == 1, (plot, name, [t["name"] for t in state["plots"][plot]])
    return matches[0]


def _close(got, want):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=RTOL, atol=0)


def _no_offsite(context, site_url, requests, errors):
    assert context.blocked == [], f"off-site requests: {context.blocked}"
    assert all(u.startswith(site_url) or u.startswith("data:") for u in requests), [
        u for u in requests if not u.startswith(site_url)]
    unexpected = [e for e in errors if not any(p.search(e) for p in ALLOWED_ERRORS)]
    assert unexpected == []


def test_every_explorer_is_on_a_page():
    found = _explorer_pages()
    assert EXPECTED <= set(found), found
    # chapter 02, chapter 05 and one of chapters 07-11
    assert found["noise-floor"].startswith("chapters/02-")
    assert found["momentum"].startswith("chapters/05-")
    assert re.match(r"chapters/(0[7-9]|1[01])", found["adam-bias"])


def check_momentum(state):
    s = explorers.MOMENTUM
    curv = np.asarray(s["curvatures"])
    eta_L, beta = state["values"]
    assert state["shown"] == [f"{eta_L:.1f}", f"{beta:.1f}"]
    eta = eta_L / curv.max()
    path = run(HeavyBall(eta, beta), quadratic_grad(curv), np.asarray(s["start"]),
               s["loss_steps"])
    line = _trace(state, 0, f"path, first {s['path_steps']} steps")
    _close(line["x"], path[: s["path_steps"] + 1, 0])
    _close(line["y"], path[: s["path_steps"] + 1, 1])
    loss = _trace(state, 1, "f(w_t)")
    _close(loss["x"], np.arange(s["loss_steps"] + 1))
    _close(loss["y"], 0.5 * (path[:, 0] ** 2 + curv[1] * path[:, 1] ** 2))
    here = _trace(state, 2, "chosen (η, β)")
    _close(here["x"], [eta_L])
    _close(here["y"], [beta])
    rate = measured_rate(run(HeavyBall(eta, beta), quadratic_grad(curv),
                             np.asarray(s["start"]), s["rate_steps"]))
    radius = float(heavy_ball_radius(eta, beta, curv))
    assert f"measured rate per step {rate:.4f}" in state["readout"]
    assert f"spectral radius {radius:.4f}" in state["readout"]
    boundary = _trace(state, 2, "boundary η·L = 2 + 2β")
    _close(boundary["x"], 2 + 2 * np.asarray(boundary["y"]))


def check_noise_floor(state):
    s = explorers.NOISE_FLOOR
    (lr,) = state["values"]
    assert state["shown"] == [f"{lr:g}"]
    burn = int(np.ceil(s["burn_in_factor"] / (lr * s["mu"])))
    m = noisy_quadratic_second_moments(SGD(lr), s["mu"], s["sigma"], burn + s["window"],
                                       n_chains=s["n_chains"], seed=s["seed"], w0=0.0)
    curve = _trace(state, 0, "E w_t², measured")
    t = np.asarray(curve["x"], dtype=int)
    every = t[1] - t[0]
    assert t[0] == 0 and np.all(np.diff(t) == every) and t[-1] > len(m) - 1 - every
    _close(curve["y"], m[t])
    theory = lr * s["sigma"] ** 2 / (s["mu"] * (2 - lr * s["mu"]))   # the formula, by hand
    _close(_trace(state, 0, "ησ²/(μ(2−ημ))")["y"], [theory, theory])
    floor = float(np.mean(m[burn + 1:]))
    _close(_trace(state, 1, "chosen η")["y"], [floor])
    assert f"measured stationary E w² = {floor:.4f}" in state["readout"]
    assert f"= {theory:.4f}" in state["readout"]
    # the library's measurement is the one the chapter and its claim test use
    assert floor == pytest.approx(stationary_second_moment(lr, s["mu"], s["sigma"],
                                                           n_chains=s["n_chains"],
                                                           seed=s["seed"]), rel=1e-12)
    assert noise_floor_theory(lr, s["mu"], s["sigma"]) == pytest.approx(theory, rel=1e-12)


def check_adam_bias(state):
    s = explorers.ADAM_BIAS
    b1, b2 = state["values"]
    assert state["shown"] == [f"{b1:g}", f"{b2:g}"]
    measured = _trace(state, 0, "measured (Adam run both ways)")
    t = np.asarray(measured["x"], dtype=int)
    assert t[0] == 1 and t[-1] == s["steps"]
    _close(measured["y"], adam_step_ratio(b1, b2, s["steps"])[t - 1])
    _close(_trace(state, 0, "(1 − β₁ᵗ)/√(1 − β₂ᵗ)")["y"],
           (1 - b1 ** t.astype(float)) / np.sqrt(1 - b2 ** t.astype(float)))
    assert f"(1 − β₁)/√(1 − β₂) = {(1 - b1) / np.sqrt(1 - b2):.3f}" in state["readout"]


CHECKS = {"momentum": check_momentum, "noise-floor": check_noise_floor,
          "adam-bias": check_adam_bias}
# slider moves from the start: (slider, key) sequences, each followed by a full check
MOVES = {
    "momentum": [(0, "ArrowRight"), (1, "End"), (0, "End"), (1, "Home"), (0, "Home")],
    "noise-floor": [(0, "ArrowLeft"), (0, "End"), (0, "Home")],
    "adam-bias": [(1, "ArrowLeft"), (0, "Home"), (1, "End"), (0, "End")],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_moving_a_slider_plots_what_lec4lib_computes(context, site_url, name):
    page, root, requests, errors = _open(context, site_url, name)
    assert page.evaluate("typeof window.Plotly") == "object"
    scripts = page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)")
    plotly = [src for src in scripts if src.split("?")[0].endswith("plotly.min.js")]
    assert plotly and all(src.startswith(site_url + "_static/lec4/") for src in plotly), plotly
    state = _state(page, root)
    CHECKS[name](state)                       # the starting point
    seen = {state["point"]}
    for slider, key in MOVES[name]:
        before = state
        _move(page, root, slider, key)
        state = _state(page, root)
        assert state["point"] != before["point"]
        assert state["readout"] != before["readout"]
        CHECKS[name](state)
        seen.add(state["point"])
    assert len(seen) == len(MOVES[name]) + 1
    _no_offsite(context, site_url, requests, errors)
    page.close()


def test_a_check_fails_on_data_that_lec4lib_did_not_compute(context, site_url):
    """The comparison is not vacuous: one plotted value off by 1e-5 relative fails it."""
    page, root, _, _ = _open(context, site_url, "momentum")
    state = _state(page, root)
    trace = _trace(state, 1, "f(w_t)")
    trace["y"][5] *= 1 + 1e-5
    with pytest.raises(AssertionError):
        check_momentum(state)
    page.close()


def test_without_javascript_the_note_shows_and_the_sliders_hide(browser, site_url):
    ctx = browser.new_context(java_script_enabled=False)
    try:
        page = ctx.new_page()
        for name, path in sorted(_explorer_pages().items()):
            page.goto(site_url + path)
            root = page.locator(f'div.lec4-explorer[data-explorer="{name}"]')
            assert root.locator(".lec4-explorer-fallback").is_visible()
            assert not root.locator(".lec4-explorer-controls").is_visible()
            assert "static figure" in root.locator(".lec4-explorer-fallback").inner_text()
    finally:
        ctx.close()
