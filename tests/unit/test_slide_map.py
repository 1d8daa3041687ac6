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
    with pytest.raises(ValueError, match="needs 'section', 'test' and 'code'"):
        load_slide_map(p)


def _imported_names(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted lec4lib path, for every ``from lec4lib... import`` in a module."""
    out = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("lec4lib"):
            for a in n.names:
                out[a.asname or a.name] = f"{n.module}.{a.name}"
    return out


def _names_used(tree: ast.Module, test_name: str) -> set[str]:
    """Names read by the test function and by the module's functions it reaches (fixtures
    it takes as arguments, helpers it calls), transitively."""
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    seen, todo, names = set(), [test_name], set()
    while todo:
        f = funcs[todo.pop()]
        if f.name in seen:
            continue
        seen.add(f.name)
        used = {n.id for n in ast.walk(f) if isinstance(n, ast.Name)} | {a.arg for a in f.args.args}
        names |= used
        todo += [u for u in used if u in funcs and u not in seen]
    return names


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["status"] == "covered"],
                         ids=lambda e: f"{e['title']}#{e['occurrence']}")
def test_code_names_a_lec4lib_object_that_the_claim_test_calls(entry):
    import importlib

    code = entry["code"]
    assert code.startswith("lec4lib."), code
    try:                                   # a module ...
        importlib.import_module(code)
        is_module = True
    except ModuleNotFoundError:            # ... or an object of one
        module, _, attr = code.rpartition(".")
        assert hasattr(importlib.import_module(module), attr), f"{code} does not exist"
        is_module = False
    file, _, name = entry["test"].partition("::")
    tree = ast.parse((ROOT / file).read_text())
    imported = _imported_names(tree)
    used = _names_used(tree, name)
    if is_module:
        calls = {local for local, path in imported.items() if path.rpartition(".")[0] == code}
    else:
        calls = {local for local, path in imported.items() if path == code}
    assert calls & used, f"{entry['test']} does not use {code}"


def test_a_covered_slide_without_code_is_rejected(tmp_path):
    p = tmp_path / "m.yml"
    p.write_text("slides:\n  - {title: A, occurrence: 1, section: x.md#a, test: t.py::test_a}\n")
    with pytest.raises(ValueError, match="needs 'section', 'test' and 'code'"):
        load_slide_map(p)


def test_the_table_links_sections_by_their_titles_and_numbers_repeated_slides():
    from lec4lib.book.slidemap import section_titles, slide_map_html

    titles = section_titles(ROOT / "chapters")
    covered = [e for e in ENTRIES if e["status"] == "covered"]
    assert all(e["section"] in titles for e in covered), "a section without a labelled heading"
    html = slide_map_html(ENTRIES, titles)
    assert "chapters/" not in html.split("<tbody>")[1].split("<code>")[0]   # no path as link text
    e = covered[0]
    assert f">{titles[e['section']]}</a>" in html.replace("&#x27;", "'")
    repeated = [x for x in ENTRIES if x["occurrence"] == 2][0]
    n = max(x["occurrence"] for x in ENTRIES if x["title"] == repeated["title"])
    assert f"{repeated['title']} (2 of {n})" in html.replace("&#x27;", "'").replace("&amp;", "&")
    assert html.count("<tr><td>") == len(ENTRIES)
    assert f"<tr><td>{len(ENTRIES)}</td>" in html        # numbered as in the deck
