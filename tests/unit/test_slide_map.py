"""The slide map lists every slide, and every section and test it names exists."""

import ast
import os
import re
from pathlib import Path

import pytest
import yaml

from lec4lib.book.slidemap import load_slide_map, parse_slides, Slide
from tests.conftest import ROOT, SLIDES

ENTRIES = load_slide_map()


def test_map_lists_every_slide_in_lecture_order():
    if not SLIDES.exists():
        # CI runs beside a copy of shared/; there the slides must be found
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"slides not found at {SLIDES}")
        pytest.skip(f"slides not found at {SLIDES} (a clone outside the course checkout)")
    slides = parse_slides(SLIDES.read_text())
    assert len(slides) > 30
    assert [Slide(e["title"], e["occurrence"]) for e in ENTRIES] == slides


def test_parse_slides_counts_repeated_titles():
    text = "# **T**\n## **Lecture 4**\n# Logistics\n- x\n# O\n## A\n# O\n## A\n"
    assert parse_slides(text) == [Slide("Lecture 4", 1), Slide("Logistics", 1), Slide("A", 1), Slide("A", 2)]


def _labels(md: Path) -> set[str]:
    return set(re.findall(r"^\((\S+)\)=\s*$", md.read_text(), re.M))


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["status"] == "covered"],
                         ids=lambda e: f"{e['title']}#{e['occurrence']}")
def test_named_section_and_claim_test_exist(entry):
    page, _, label = entry["section"].partition("#")
    md = ROOT / page
    assert md.exists(), f"{page} does not exist"
    assert label in _labels(md), f"label ({label})= not found in {page}"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert page.removesuffix(".md") in str(toc), f"{page} is not in _toc.yml"
    file, _, name = entry["test"].partition("::")
    assert file.startswith("tests/claims/"), entry["test"]
    assert (ROOT / file).exists(), f"{file} does not exist"
    assert name in _test_names(ROOT / file), f"{name} not defined in {file}"
    assert entry.get("result"), "a covered slide states its result in one line"


def test_bad_status_is_rejected(tmp_path):
    p = tmp_path / "m.yml"
    p.write_text("slides:\n  - {title: A, occurrence: 1, status: done}\n")
    with pytest.raises(ValueError, match="status must be one of"):
        load_slide_map(p)
    p.write_text("slides:\n  - {title: A, occurrence: 1, status: covered, section: x.md#a}\n")
    with pytest.raises(ValueError, match="needs 'section' and 'test'"):
        load_slide_map(p)
