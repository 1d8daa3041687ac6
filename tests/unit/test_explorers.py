"""lec4lib.book.explorers without a browser: the spec, the HTML fragment, bad input.

What the browser shows for each slider position is checked against lec4lib in
``tests/site/test_explorers.py``; here: the data is complete, stored to DIGITS digits,
embedded so that it parses back unchanged, and bad explorers are refused.
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from lec4lib.book import explorers
from lec4lib.book.explorers import Explorer, Slider, rounded


def _spec_from_html(fragment: str) -> dict:
    m = re.search(r'<script type="application/json" class="lec4-explorer-data">(.*?)</script>',
                  fragment, re.S)
    assert m, "no data script"
    return json.loads(m.group(1))


def test_rounded_keeps_seven_significant_digits_and_refuses_non_finite():
    assert rounded(1 / 3) == 0.3333333
    assert rounded([[2 / 3, 123456789.0]]) == [[0.6666667, 123456800.0]]
    with pytest.raises(ValueError, match="finite"):
        rounded([1.0, np.inf])
    with pytest.raises(ValueError, match="finite"):
        rounded(np.nan)


def test_sliders_and_explorers_refuse_bad_grids():
    with pytest.raises(ValueError, match="at least two"):
        Slider("a", "a", [1.0])
    with pytest.raises(ValueError, match="start"):
        Slider("a", "a", [1.0, 2.0], start=2)
    ex = Explorer("x", "X", [Slider("a", "a", [1.0, 2.0])], [])
    ex.points[ex.key(0)] = {"readout": "one"}
    with pytest.raises(ValueError, match="1 points for a grid of 2"):
        ex.spec()
    ex.points[ex.key(1)] = {}
    with pytest.raises(ValueError, match="readout"):
        ex.spec()
    with pytest.raises(ValueError, match="1 slider indices"):
        ex.key(0, 1)


def test_html_embeds_the_spec_so_that_it_parses_back_even_with_a_closing_tag_in_it():
    ex = Explorer("x", "A <b> title", [Slider("a", "step η", [0.1, 0.2], 1, "{:.2f}")], [])
    ex.points = {"0": {"readout": "ends with </script> here"}, "1": {"readout": "two"}}
    fragment = ex.html()
    assert fragment.count("</script>") == 1               # only the real closing tag
    assert _spec_from_html(fragment) == json.loads(json.dumps(ex.spec()))
    assert "A &lt;b&gt; title" in fragment
    slider = re.search(r'<input type="range"[^>]*>', fragment).group(0)
    assert 'min="0"' in slider and 'max="1"' in slider and 'value="1"' in slider
    assert "<output" in fragment and "0.20</output>" in fragment


def test_momentum_explorer_has_every_grid_point_and_names_the_boundary():
    small = {"step_times_L": (0.4, 2.0, 3.0), "betas": (0.0, 0.5)}
    ex = explorers.momentum_explorer(small)
    spec = _spec_from_html(ex.html())
    assert sorted(spec["points"]) == ["0,0", "0,1", "1,0", "1,1", "2,0", "2,1"]
    for key, point in spec["points"].items():
        assert len(point["path_x"]) == explorers.MOMENTUM["path_steps"] + 1
        assert len(point["loss"]) == explorers.MOMENTUM["loss_steps"] + 1
    # η·L = 2 at β = 0 is on the boundary η λ_max = 2 + 2β; 3 at β = 0 is past it;
    # 3 at β = 0.5 is back inside (2 + 2β = 3: on it again), 0.4 converges
    assert "sits on the stability boundary" in spec["points"]["1,0"]["readout"]
    assert "diverges" in spec["points"]["2,0"]["readout"]
    assert "sits on the stability boundary" in spec["points"]["2,1"]["readout"]
    assert "converges" in spec["points"]["0,0"]["readout"]
    assert spec["points"]["2,0"]["radius"] == pytest.approx(2.0)   # |1 − 3| for λ = L


def test_every_dynamic_trace_field_names_a_key_of_every_point():
    for build in (explorers.momentum_explorer, explorers.noise_floor_explorer):
        spec = build().spec()
        keys = set()

        def walk(v):
            if isinstance(v, dict):
                if set(v) == {"point"}:
                    keys.add(v["point"])
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(spec["plots"])
        assert keys
        for point in spec["points"].values():
            assert keys <= set(point)
        for plot in spec["plots"]:
            assert len(html.unescape(plot["alt"]).split()) >= 8      # says what it shows
