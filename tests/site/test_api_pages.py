"""The built site's API reference: every slide-map code link lands on a documented object."""

from __future__ import annotations

import os
import re

import pytest

from lec4lib.book.slidemap import api_href, load_slide_map
from tests.conftest import ROOT

SITE = ROOT / "_build" / "html"


@pytest.mark.slow
def test_every_code_link_of_the_slide_map_resolves_to_an_api_anchor():
    if not (SITE / "chapters" / "99-slide-map.html").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"no built site at {SITE} (CI=true: run `make book` first)")
        pytest.skip(f"no built site at {SITE} (run `make book`)")
    page = (SITE / "chapters" / "99-slide-map.html").read_text("utf-8")
    links = re.findall(r'href="(api/[^"#]+)#([^"]+)"', page)
    covered = [e for e in load_slide_map() if e["status"] == "covered"]
    assert sorted(f"{p}#{a}" for p, a in links) == sorted(api_href(e["code"]) for e in covered)
    for target, anchor in links:
        html = (SITE / "chapters" / target).read_text("utf-8")
        assert f'id="{anchor}"' in html, f"{target} has no entry #{anchor}"


def test_every_core_and_study_module_has_an_api_section():
    import pkgutil

    pages = "\n".join(p.read_text("utf-8") for p in (ROOT / "chapters" / "api").glob("*.md"))
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$", pages, re.M))
    expected = {"lec4lib.validation"}
    for sub in ("optim", "problems", "theory", "nets", "studies"):
        expected.add(f"lec4lib.{sub}")
        pkg = __import__(f"lec4lib.{sub}", fromlist=["__path__"])
        expected |= {f"lec4lib.{sub}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)}
    assert sorted(expected - documented) == []


@pytest.mark.slow
def test_the_objectives_public_methods_are_documented_inherited_ones_too():
    """LogisticRegression and LeastSquares get most methods from a private base class
    (minibatch_grad, per_sample_grads, row_grads, ...): each has an entry on the API page."""
    import inspect

    from lec4lib.problems import objectives

    page = SITE / "chapters" / "api" / "problems.html"
    if not page.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"no built site at {SITE} (CI=true: run `make book` first)")
        pytest.skip(f"no built site at {SITE} (run `make book`)")
    html = page.read_text("utf-8")
    missing = []
    for cls in (objectives.LogisticRegression, objectives.LeastSquares):
        names = [n for n, _ in inspect.getmembers(cls) if not n.startswith("_")]
        assert {"minibatch_grad", "row_grads", "per_sample_grads"} <= set(names)
        missing += [f"{cls.__name__}.{n}" for n in names
                    if f'id="lec4lib.problems.objectives.{cls.__name__}.{n}"' not in html]
    assert missing == []
