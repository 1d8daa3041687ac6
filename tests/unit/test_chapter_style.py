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
