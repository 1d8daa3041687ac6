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
    for book in ("book.glue", "book.plotting", "book.slidemap", "book.exercises", "book.explorers"):
        mods.discard(book)
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


# ---------------------------------------------------------------------------------------
# The teaching shape (issue 15). Every numbered chapter (00–11, 10a; not the appendices):
#
# * a label ``(chNN)=`` on its title, so other pages link to it with {ref};
# * a "Learning objectives" admonition (class ``lec4-objectives``) before its first section,
#   with its prerequisites and a link to the notation page;
# * at its end a "Key takeaways" admonition (class ``lec4-takeaways``), then an
#   "## Exercises" section, the last section, with at least two {exercise} directives, and at
#   least one code cell that checks itself (``check(...)``, lec4lib.book.exercises);
# * maintainer material (claim-test names, paths under tests/) only inside collapsed
#   "For maintainers" admonitions (class ``dropdown lec4-maintainers``), none after the
#   takeaways;
# * code lines of at most 88 characters; a cell that draws a figure has its input hidden
#   (``hide-input``);
# and on every page of chapters/: each "chapter NN" and "the previous/next chapter" is a link,
# the step size is η (α only on a line that quotes a slide's form), the optimum is w^⋆.
# ---------------------------------------------------------------------------------------

import re

#: numbered chapters; 97-99 are appendices
TEACHING = [md for md in CHAPTERS if re.match(r"\d\d[a-z]?-", md.name) and md.name[:2] < "97"]
PAGES = sorted((ROOT / "chapters").glob("*.md"))
MAX_LINE = 88

#: a link: a MyST role or a Markdown link [text](target)
_ROLE = re.compile(r"\{(?:ref|doc|numref|eq|prf:ref)\}`[^`]*`|\[[^\]]*\]\([^)]*\)")
_CHAPTER_MENTION = re.compile(r"\b[Cc]hapters? \d\d[a-z]?\b|\b(?:previous|next|last|following) "
                              r"(?:chapter|section)\b")


def markdown_lines(md) -> list[tuple[int, str, bool]]:
    """(line number, text, inside a maintainers admonition) for every prose line of ``md``:
    front matter, code cells and math blocks excluded."""
    out, fences, in_code, in_math, front = [], [], False, False, False
    lines = md.read_text("utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if n == 1 and s == "---":
            front = True
            continue
        if front:
            front = s != "---"
            continue
        if s.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if s == "$$":
            in_math = not in_math
            continue
        if in_math:
            continue
        m = re.match(r"^(:{3,})(\{[^}]*\})?", s)
        if m:
            colons = len(m.group(1))
            if m.group(2):        # opening: a maintainers block says so in its :class: line
                cls = lines[n] if n < len(lines) else ""
                fences.append((colons, "lec4-maintainers" in cls))
                continue
            if fences and fences[-1][0] == colons:
                fences.pop()
                continue
        out.append((n, line, any(mnt for _, mnt in fences)))
    return out


def shape_violations(md) -> list[str]:
    found = []
    src = md.read_text("utf-8")
    label = "ch" + md.name.split("-")[0]
    if not re.search(rf"^\({label}\)=\n# ", src, re.M):
        found.append(f"no ({label})= label on the title")
    first_section = src.find("\n## ")
    objectives = src.find(":class: lec4-objectives")
    if objectives < 0 or objectives > first_section:
        found.append("no lec4-objectives admonition before the first section")
    elif not re.search(r"\{ref\}`(?:[^`<]*<)?notation>?`", src[objectives:first_section]):
        found.append("the objectives do not link the notation page ({ref}`... <notation>`)")
    takeaways = src.rfind(":class: lec4-takeaways")
    sections = [m.start() for m in re.finditer(r"^## ", src, re.M)]
    exercises = src.find("\n## Exercises\n")
    if takeaways < 0:
        found.append("no lec4-takeaways admonition")
    if exercises < 0 or not sections or exercises + 1 != sections[-1]:
        found.append("the last section is not '## Exercises'")
    elif takeaways > exercises:
        found.append("the takeaways come after the exercises")
    else:
        tail = src[exercises:]
        if len(re.findall(r"^:{3,}\{exercise\}", tail, re.M)) < 2:
            found.append("fewer than two {exercise} directives in the Exercises section")
        checked = [s for tags, s in code_cells_after(md, "## Exercises") if re.search(r"\bcheck\(", s)]
        if not checked:
            found.append("no exercise cell checks itself (lec4lib.book.exercises.check)")
    if takeaways >= 0 and "lec4-maintainers" in src[takeaways:]:
        found.append("maintainer material after the takeaways")
    for n, line, maintainers in markdown_lines(md):
        if not maintainers and re.search(r"tests/|test_\w+\.py", line):
            found.append(f"line {n}: test paths outside a 'For maintainers' admonition")
    found += line_violations(md)
    for i, (tags, s) in enumerate(code_cells(md)):
        if re.search(r"\bnew_figure\(", s) and "hide-input" not in tags:
            found.append(f"cell {i} draws a figure but its input is not hidden (hide-input)")
        if i == 0 and "hide-input" not in tags:
            found.append("cell 0 (the imports) is bookkeeping: collapse it (hide-input)")
    return found


def line_violations(md) -> list[str]:
    """Code lines longer than 88 characters (they would scroll inside their box on a laptop)."""
    found = []
    for i, (tags, s) in enumerate(code_cells(md)):
        for k, code_line in enumerate(s.splitlines(), 1):
            if len(code_line) > MAX_LINE:
                found.append(f"cell {i} line {k}: {len(code_line)} characters (at most {MAX_LINE})")
    return found


@pytest.mark.parametrize("md", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_code_lines_fit_a_laptop_column(md):
    assert line_violations(md) == []


def code_cells_after(md, heading):
    """Code cells that come after the Markdown line ``heading``."""
    nb = jupytext.read(md)
    seen, out = False, []
    for c in nb.cells:
        if c.cell_type == "markdown" and re.search(rf"^{re.escape(heading)}\s*$", c.source, re.M):
            seen = True
        elif seen and c.cell_type == "code":
            out.append((c.metadata.get("tags", []), c.source))
    return out


#: pages that quote the slides' formulas throughout (the errata compare them one by one); they
#: state the mapping α → η once, at the top
QUOTES_SLIDES = {"98-errata.md"}


def notation_violations(md) -> list[str]:
    found = []
    quotes = md.name in QUOTES_SLIDES
    if quotes and "their $\\alpha$ is our $\\eta$" not in md.read_text("utf-8"):
        found.append("a page that quotes the slides must state the mapping "
                     "('their $\\alpha$ is our $\\eta$')")
    for n, line, _ in markdown_lines(md):
        bare = _ROLE.sub("", line)
        m = _CHAPTER_MENTION.search(bare)
        if m:
            found.append(f"line {n}: '{m.group(0)}' is not a link ({{ref}}`chapter 05 <ch05>`)")
        if re.search(r"\\alpha|α", line) and "slide" not in line.lower() and not quotes:
            found.append(f"line {n}: α outside a quote of a slide's form (the step size is η)")
        if re.search(r"w\^\*|w\^\{\*\}|w_\*|w\^\{\\ast\}", line):
            found.append(f"line {n}: write the optimum as w^⋆ (w^\\star)")
    if md in CHAPTERS:
        for i, (tags, s) in enumerate(code_cells(md)):
            if "\\alpha" in s or "α" in s:
                found.append(f"cell {i}: α in code (labels write the step size as $\\eta$)")
    return found


@pytest.mark.parametrize("md", TEACHING, ids=[p.name for p in TEACHING])
def test_chapter_has_the_teaching_shape(md):
    assert shape_violations(md) == []


@pytest.mark.parametrize("md", PAGES, ids=[p.name for p in PAGES])
def test_page_links_its_chapter_mentions_and_keeps_one_notation(md):
    assert notation_violations(md) == []


def test_the_shape_checks_catch_each_rule(tmp_path):
    md = tmp_path / "05-momentum.md"
    md.write_text("---\njupytext: {}\n---\n\n# Momentum\n\nAs chapter 04 showed, with α = 0.1"
                  " we reach w^* (see tests/claims/test_05.py).\n\n## A section\n\n"
                  "```{code-cell} ipython3\n:tags: [remove-cell]\n" + "x = 1  " * 20 + "\n```\n")
    shape = shape_violations(md)
    for want in ("no (ch05)= label", "no lec4-objectives", "no lec4-takeaways",
                 "last section is not", "test paths outside", "characters (at most 88)"):
        assert any(want in f for f in shape), (want, shape)
    notation = notation_violations(md)
    for want in ("'chapter 04' is not a link", "α outside", "w^⋆"):
        assert any(want in f for f in notation), (want, notation)
    md.write_text(md.read_text().replace("As chapter 04", "As {ref}`chapter 04 <ch04>`"))
    assert not any("is not a link" in f for f in notation_violations(md))
    md.write_text("---\njupytext: {}\n---\n\n# Momentum\n\n```{code-cell} ipython3\n"
                  "fig, ax = new_figure()\n```\n")
    assert any("draws a figure" in f for f in shape_violations(md))
    md.write_text(md.read_text().replace("ipython3\n", "ipython3\n:tags: [hide-input]\n"))
    assert not any("draws a figure" in f for f in shape_violations(md))


# ---------------------------------------------------------------------------------------
# Alt text (issue 16): every ``{glue:figure}`` says in its ``:alt:`` option what the figure
# shows (its axes and curves, one sentence), for a reader who cannot see it. The built
# site's <img> tags are checked in the browser (tests/site/test_accessibility.py).
# ---------------------------------------------------------------------------------------

#: a {glue:figure} directive and its option lines (an option may continue on indented lines)
_GLUE_FIGURE = re.compile(r"^```\{glue:figure\}[ \t]+(\S+)[ \t]*\n((?:(?::[\w-]+:.*|[ \t]+\S.*)\n)*)",
                          re.M)
#: alt texts that say nothing about the figure
_EMPTY_ALTS = {"figure", "image", "img", "plot", "graph", "chart", "png", "svg", "picture"}
MIN_ALT_WORDS = 8


def figure_alts(md) -> list[tuple[str, str | None]]:
    """(glue key, alt text or None) for every ``{glue:figure}`` of ``md``."""
    out = []
    for m in _GLUE_FIGURE.finditer(md.read_text("utf-8")):
        alt = re.search(r"^:alt:(.*(?:\n[ \t]+\S.*)*)", m.group(2), re.M)
        out.append((m.group(1), " ".join(alt.group(1).split()) if alt else None))
    return out


def alt_violations(md) -> list[str]:
    found = []
    for key, alt in figure_alts(md):
        words = re.findall(r"\w+", alt or "")
        if alt is None:
            found.append(f"{key}: no :alt: (say what the figure shows: axes, curves)")
        elif alt.lower().strip(" .") in _EMPTY_ALTS or not words:
            found.append(f"{key}: the alt {alt!r} says nothing about the figure")
        elif key in alt or re.search(r"\.(png|jpe?g|svg|gif|webp)\b", alt, re.I):
            found.append(f"{key}: the alt {alt!r} names a file or the glue key, not what is shown")
        elif len(words) < MIN_ALT_WORDS:
            found.append(f"{key}: the alt {alt!r} is {len(words)} words; describe the axes and "
                         f"curves (at least {MIN_ALT_WORDS})")
    return found


@pytest.mark.parametrize("md", PAGES, ids=[p.name for p in PAGES])
def test_every_glued_figure_has_alt_text(md):
    assert alt_violations(md) == []


def test_the_alt_check_catches_each_problem(tmp_path):
    md = tmp_path / "05-momentum.md"
    fig = "```{{glue:figure}} {key}\n:name: fig-{key}\n{alt}\nCaption.\n```\n\n"
    md.write_text("".join(fig.format(key=k, alt=a) for k, a in (
        ("none_fig", ""), ("empty_fig", ":alt:\n"), ("word_fig", ":alt: Figure\n"),
        ("file_fig", ":alt: Plot of the loss from loss_curve.png against the step t\n"),
        ("key_fig", ":alt: key_fig: the loss against the step t for each method\n"),
        ("short_fig", ":alt: The loss against the step\n"),
        ("good_fig", ":alt: The loss on a log scale against the step t, one curve per\n"
                     "  step size, each falling.\n"))))
    found = alt_violations(md)
    assert [f.split(":")[0] for f in found] == ["none_fig", "empty_fig", "word_fig", "file_fig",
                                                "key_fig", "short_fig"], found
    assert "no :alt:" in found[0] and "says nothing" in found[1] and "says nothing" in found[2]
    assert "names a file" in found[3] and "names a file" in found[4] and "5 words" in found[5]
    assert figure_alts(md)[-1] == ("good_fig", "The loss on a log scale against the step t, "
                                               "one curve per step size, each falling.")
    assert len(figure_alts(ROOT / "chapters" / "05-momentum.md")) >= 8


# ---------------------------------------------------------------------------------------
# A reference without its own text shows the target heading's text, and Sphinx writes a
# heading's math as bare TeX there ("… proportional to \eta"): a {ref} (or a docstring's
# :ref:) to a heading with math must give its link text.

_LABELLED_HEADING = re.compile(r"^\(([\w-]+)\)=\s*\n#+ (.*)$", re.M)
_BARE_REF = re.compile(r"[{:]ref[}:]`([^`<>]+)`")


def bare_refs_to_math_headings(sources: dict[str, str]) -> list[str]:
    """``file: label`` for every text-less reference to a heading that holds ``$…$``."""
    math_labels = {m.group(1) for text in sources.values()
                   for m in _LABELLED_HEADING.finditer(text) if "$" in m.group(2)}
    return [f"{name}: {m.group(1).strip()}" for name, text in sources.items()
            for m in _BARE_REF.finditer(text) if m.group(1).strip() in math_labels]


def test_no_reference_shows_a_headings_tex():
    files = [*(ROOT / "chapters").rglob("*.md"), *(ROOT / "lec4lib").rglob("*.py"),
             *(ROOT / "assignments").rglob("*.py"), *(ROOT / "assignments").rglob("*.md")]
    sources = {f.relative_to(ROOT).as_posix(): f.read_text("utf-8") for f in files}
    assert bare_refs_to_math_headings(sources) == []


def test_the_bare_reference_check_fires():
    sources = {"a.md": "(lab)=\n## Steps $\\eta$\n\nSee {ref}`lab` and {ref}`text <lab>`.\n",
               "b.py": '"""See :ref:`lab`."""\n'}
    assert bare_refs_to_math_headings(sources) == ["a.md: lab", "b.py: lab"]
