"""Chapters read like lectures: imports in the first cell, no function definitions, glue hidden.

The rules, for every MyST chapter (``tools/notebooks.notebook_sources``):

* every ``import`` is in the first code cell;
* no ``def`` or ``class`` in any cell: what a chapter and its claim test both need lives in
  lec4lib (a chapter that teaches a piece of code would be listed in ``TEACHES_CODE``);
* values are glued (``glue``, ``glue_values``) only in cells tagged ``remove-cell``, so a
  visible cell shows the computation and its figure; ``glue_figure`` stays where the
  figure is drawn (it is how the figure is shown);
* a hidden cell draws nothing (no figure is made out of the reader's sight).
"""

from __future__ import annotations

import ast

import jupytext
import notebooks
import pytest

from tests.conftest import ROOT

#: chapter -> names of functions it defines because it teaches that code (none today)
TEACHES_CODE: dict[str, set[str]] = {}

CHAPTERS = notebooks.notebook_sources()


def code_cells(md):
    nb = jupytext.read(md)
    return [(c.metadata.get("tags", []), c.source) for c in nb.cells if c.cell_type == "code"]


def calls(tree, names):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id in names]


def violations(md) -> list[str]:
    found = []
    for i, (tags, src) in enumerate(code_cells(md)):
        tree = ast.parse(src)
        hidden = "remove-cell" in tags
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and i > 0:
                found.append(f"cell {i}: import on line {node.lineno} (imports go in the first cell)")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name not in TEACHES_CODE.get(md.name, set()):
                    found.append(f"cell {i}: defines {node.name} (put it in lec4lib)")
        if not hidden:
            for c in calls(tree, {"glue", "glue_values"}):
                found.append(f"cell {i}: {c.func.id}() on line {c.lineno} in a visible cell "
                             "(glue in a remove-cell cell after it)")
        else:
            for c in calls(tree, {"new_figure", "glue_figure"}):
                found.append(f"cell {i}: {c.func.id}() in a hidden cell")
    return found


@pytest.mark.parametrize("md", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_follows_the_lecture_layout(md):
    assert violations(md) == []


def test_the_checks_catch_each_rule(tmp_path):
    src = (ROOT / "chapters" / "03-sgd-vs-gd.md").read_text()
    bad = src.replace("```{code-cell} ipython3\n:tags: [remove-cell]\nglue_values(",
                      "```{code-cell} ipython3\nimport math\ndef helper(x):\n    return x\nglue_values(", 1)
    md = tmp_path / "03-sgd-vs-gd.md"
    md.write_text(bad)
    found = violations(md)
    assert any("import on line" in f for f in found)
    assert any("defines helper" in f for f in found)
    assert any("glue_values() on line" in f and "visible cell" in f for f in found)
    hidden_figure = src.replace(":tags: [remove-cell]\nglue_values(",
                                ":tags: [remove-cell]\nfig, ax = new_figure()\nglue_values(", 1)
    md.write_text(hidden_figure)
    assert any("new_figure() in a hidden cell" in f for f in violations(md))
    assert violations(ROOT / "chapters" / "03-sgd-vs-gd.md") == []


def _chapter_modules(md) -> tuple[set[str], set[str]]:
    """(study modules, core modules) a chapter imports, without the ``lec4lib.`` prefix."""
    tree = ast.parse(code_cells(md)[0][1])
    mods = {n.module.removeprefix("lec4lib.") for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("lec4lib.")}
    mods.discard("book.glue"), mods.discard("book.plotting"), mods.discard("book.slidemap")
    studies = {m for m in mods if m.startswith("studies.")}
    return studies, mods - studies


def test_readme_where_things_are_table_matches_what_each_chapter_imports():
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("### Where things are", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0][:2].isdigit():
            study = set() if cells[1] == "—" else {cells[1].split("`")[1]}
            core = set() if cells[2] == "—" else {m.strip("` ") for m in cells[2].split(",")}
            rows[cells[0].split()[0]] = (study, core)
    # every page but the slide map, by the number its file name starts with ("10a-…" is 10a)
    chapters = {md.name.split("-")[0]: md for md in CHAPTERS if not md.name.startswith("99")}
    assert sorted(rows) == sorted(chapters)
    for nn, md in chapters.items():
        assert rows[nn] == _chapter_modules(md), md.name
