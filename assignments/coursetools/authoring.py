"""Generate the nbgrader source notebook and the otter-grader master from one source.

Each assignment is written once, as a py:percent file ``assignments/authoring/hwK.py``.
Cells are marked with jupytext cell metadata:

``# %% answer="id"``
    code the student writes; the solution sits between ``# BEGIN SOLUTION`` and
    ``# END SOLUTION`` (one ``#``: both nbgrader and otter read it).
``# %% tests="id" points=N``
    assert-only tests for the answers above it; visible asserts first, then a region
    ``# BEGIN HIDDEN TESTS`` ... ``# END HIDDEN TESTS``. A line ``# LEC4 GUARD`` inside
    the hidden region is replaced by the helpers of :mod:`coursetools.hidden_guard`.
``# %% [markdown] written="id" points=N``
    a written answer, graded by hand; the cell holds the model answer.
any other cell
    prose (markdown) or given code (locked, read-only in nbgrader).
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import jupytext
import nbformat

ASSIGNMENTS = Path(__file__).resolve().parents[1]
AUTHORING = ASSIGNMENTS / "authoring"
GUARD_FILE = Path(__file__).with_name("hidden_guard.py")
GUARD_MARK = "# LEC4 GUARD"
BEGIN_HIDDEN, END_HIDDEN = "# BEGIN HIDDEN TESTS", "# END HIDDEN TESTS"
BEGIN_SOLUTION, END_SOLUTION = "# BEGIN SOLUTION", "# END SOLUTION"
_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def assignment_names() -> list[str]:
    """Names of the assignments that have an authoring source (``hw1``, ``hw2``, ...)."""
    return sorted(p.stem for p in AUTHORING.glob("hw*.py"))


def guard_code() -> str:
    """The hidden-test helpers, without comment lines and without blank lines."""
    lines = GUARD_FILE.read_text().splitlines()
    return "\n".join(l for l in lines if l.strip() and not l.lstrip().startswith("#"))


def _expand_guard(source: str) -> str:
    return "\n".join(guard_code() if l.strip() == GUARD_MARK else l for l in source.splitlines())


def _check_source_cell(cell, name: str) -> None:
    text = cell.source
    if BEGIN_SOLUTION in text and "answer" not in cell.metadata and "written" not in cell.metadata:
        raise ValueError(f"{name}: a solution region outside an answer cell:\n{text[:200]}")
    if BEGIN_HIDDEN in text and "tests" not in cell.metadata:
        raise ValueError(f"{name}: hidden tests outside a tests cell:\n{text[:200]}")
    if "tests" in cell.metadata:
        code = text.replace(GUARD_MARK, "pass")
        compile(code, f"<{name} tests {cell.metadata['tests']}>", "exec")
        for node in ast.parse(code).body:
            if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Call):
                raise ValueError(f"{name}: tests cell {cell.metadata['tests']} has a bare expression "
                                 "(tests must be assert-only)")


def read_source(name: str) -> nbformat.NotebookNode:
    """Read ``assignments/authoring/<name>.py`` and check its cell markers."""
    path = AUTHORING / f"{name}.py"
    if not path.exists():
        raise ValueError(f"{name}: no authoring source {path} (have {assignment_names()})")
    nb = jupytext.read(path)
    ids = set()
    for cell in nb.cells:
        for key in ("answer", "tests", "written"):
            if key in cell.metadata:
                cid = cell.metadata[key]
                if not isinstance(cid, str) or not _ID.match(cid) or cid in ids:
                    raise ValueError(f"{name}: bad or duplicate cell id {cid!r}")
                ids.add(cid)
        _check_source_cell(cell, name)
    return nb


def _nbgrader_meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution}
    if grade:
        meta["points"] = points
    return meta


def nbgrader_source(name: str) -> nbformat.NotebookNode:
    """The nbgrader source notebook (instructor version, with solutions and hidden tests)."""
    src = read_source(name)
    cells = []
    given = 0
    for cell in src.cells:
        meta = cell.metadata
        if cell.cell_type == "markdown" and "written" in meta:
            new = nbformat.v4.new_markdown_cell(cell.source)
            new.metadata["nbgrader"] = _nbgrader_meta(meta["written"], solution=True, grade=True,
                                                      locked=False, points=meta["points"])
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source)
        elif "answer" in meta:
            new = nbformat.v4.new_code_cell(cell.source)
            new.metadata["nbgrader"] = _nbgrader_meta(meta["answer"], solution=True, grade=False,
                                                      locked=False)
        elif "tests" in meta:
            new = nbformat.v4.new_code_cell(_expand_guard(cell.source))
            new.metadata["nbgrader"] = _nbgrader_meta(meta["tests"], solution=False, grade=True,
                                                      locked=True, points=meta["points"])
        else:
            given += 1
            new = nbformat.v4.new_code_cell(cell.source)
            new.metadata["nbgrader"] = _nbgrader_meta(f"given_{given}", solution=False, grade=False,
                                                      locked=True)
        cells.append(new)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    # lets `otter run` grade submissions of the nbgrader release too (it checks the name)
    nb.metadata["otter"] = {"assignment_name": name}
    _stable_ids(nb)
    return nb


def _stable_ids(nb) -> None:
    """Cell ids from the position, so that regenerating gives byte-identical files."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"


def _split_tests(source: str) -> tuple[str, str]:
    """(visible asserts, visible + hidden asserts with the hidden markers removed)."""
    lines = source.splitlines()
    if BEGIN_HIDDEN not in source:
        return source, source
    start = next(i for i, l in enumerate(lines) if BEGIN_HIDDEN in l)
    end = next(i for i, l in enumerate(lines) if END_HIDDEN in l)
    visible = "\n".join(lines[:start] + lines[end + 1:])
    everything = "\n".join(lines[:start] + lines[start + 1:end] + lines[end + 1:])
    return visible, everything


def _no_blank(code: str) -> str:
    return "\n".join(l for l in code.splitlines() if l.strip())


def otter_master(name: str) -> nbformat.NotebookNode:
    """The otter-grader master notebook (otter's v1 format), from the same source.

    Each nbgrader test cell becomes one otter question: a visible test case worth 0
    points (what ``grader.check`` shows the student) and a hidden test case holding the
    visible and hidden asserts, worth the cell's points; so a question scores all or
    nothing, like an nbgrader test cell. Written answers become manual questions.
    """
    src = read_source(name)
    raw = nbformat.v4.new_raw_cell
    config = {
        "name": name,
        "init_cell": True,
        "check_all_cell": False,
        "export_cell": False,
        "run_tests": True,
        "solutions_pdf": False,
        "tests": {"files": False, "ok_format": True},
    }
    cells = [raw("# ASSIGNMENT CONFIG\n" + json.dumps(config))]
    pending_answers: list = []
    for cell in src.cells:
        meta = cell.metadata
        if cell.cell_type == "markdown" and "written" in meta:
            cells += [raw(f"# BEGIN QUESTION\nname: {meta['written']}\nmanual: true\npoints: {meta['points']}"),
                      raw("# BEGIN SOLUTION"), nbformat.v4.new_markdown_cell(cell.source),
                      raw("# END SOLUTION"), raw("# END QUESTION")]
        elif cell.cell_type == "markdown":
            if pending_answers:
                raise ValueError(f"{name}: prose between an answer cell and its tests")
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
        elif "answer" in meta:
            pending_answers.append(nbformat.v4.new_code_cell(cell.source))
        elif "tests" in meta:
            if not pending_answers:
                raise ValueError(f"{name}: tests cell {meta['tests']} has no answer cell before it")
            visible, everything = _split_tests(_expand_guard(cell.source))
            cells += [raw(f"# BEGIN QUESTION\nname: {meta['tests']}\npoints: [0, {meta['points']}]"),
                      raw("# BEGIN SOLUTION"), *pending_answers, raw("# END SOLUTION"),
                      raw("# BEGIN TESTS"),
                      nbformat.v4.new_code_cell(_no_blank(visible) or "assert True"),
                      nbformat.v4.new_code_cell("# HIDDEN\n" + _no_blank(everything)),
                      raw("# END TESTS"), raw("# END QUESTION")]
            pending_answers = []
        else:
            if pending_answers:
                raise ValueError(f"{name}: given code between an answer cell and its tests")
            cells.append(nbformat.v4.new_code_cell(cell.source))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    _stable_ids(nb)
    return nb


def source_path(name: str, root: Path = ASSIGNMENTS) -> Path:
    return Path(root) / "source" / name / f"{name}.ipynb"


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def write_sources(root: Path = ASSIGNMENTS, names=None) -> list[Path]:
    """Write ``source/hwK/hwK.ipynb`` for every assignment; returns the paths written."""
    from nbgrader.nbgraderformat import MetadataValidator

    written = []
    for name in names or assignment_names():
        nb = nbgrader_source(name)
        MetadataValidator().validate_nb(copy.deepcopy(nb))
        path = source_path(name, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(nb))
        written.append(path)
    return written


def write_otter_master(name: str, folder: Path) -> Path:
    """Write the otter master ``<folder>/<name>.ipynb`` and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    path.write_text(render(otter_master(name)))
    return path
