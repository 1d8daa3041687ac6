"""The notebook that is graded, rebuilt from the trusted side.

A student's file is untrusted in every part: its metadata can turn an answer cell into a
100-point test cell, its test cells can be edited or deleted, its JSON can be enormous or
nested thousands of levels deep. :func:`build` therefore takes from it only

* the source of each answer cell, matched by nbgrader ``grade_id``, and
* the student's own extra cells (no nbgrader metadata), in their order, placed after the
  trusted cell they followed;

and everything else — every nbgrader cell, its type and metadata, the locked and given
cells, the notebook's metadata — from the instructor's release (nbgrader then restores the
test cells' hidden parts from the gradebook). The grader's prelude
(``guard_prelude.py``) is the first cell, so it runs before any student code. What the
student changed is reported as flags (``metadata edited``, ``test cell edited``, ...).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

PRELUDE_FILE = Path(__file__).with_name("guard_prelude.py")
PRELUDE_MARK = "# lec4 grader prelude"
MAX_BYTES = 20 * 1024**2


class Unreadable(ValueError):
    """The upload cannot be graded; the message is the CSV status reason."""


def load(path, max_bytes: int = MAX_BYTES) -> dict:
    """The upload's JSON, refusing what is too large, not JSON or not a notebook."""
    path = Path(path)
    if not path.exists():
        raise Unreadable("no notebook")
    size = path.stat().st_size
    if size > max_bytes:
        raise Unreadable(f"notebook too large ({size / 1024**2:.0f} MiB; the limit is "
                         f"{max_bytes / 1024**2:.0f} MiB)")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError, MemoryError) as exc:
        # ValueError: bad JSON, or an integer with too many digits; RecursionError: nesting
        raise Unreadable(f"unreadable notebook ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise Unreadable("not a notebook")
    return data


def _source(cell) -> str | None:
    src = cell.get("source")
    if isinstance(src, str):
        return src
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    return None


def _nbgrader(cell) -> dict | None:
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else (None if nbg is None else {})


def prelude_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(PRELUDE_FILE.read_text())
    cell.pop("id", None)
    return cell


def build(upload: dict, release) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook to grade and the flags describing what the student changed.

    Parameters
    ----------
    upload : dict
        The student's notebook as parsed JSON (:func:`load`), untrusted.
    release : NotebookNode
        The released notebook (trusted).
    """
    flags: list[str] = []
    trusted = [copy.deepcopy(c) for c in release.cells]
    ids = {}
    for k, cell in enumerate(trusted):
        nbg = cell.get("metadata", {}).get("nbgrader")
        if nbg and nbg.get("grade_id"):
            ids[nbg["grade_id"]] = k
    plain = {k: cell.source for k, cell in enumerate(trusted) if k not in ids.values()}
    answers: dict[int, str] = {}
    extras: dict[int, list] = {}          # trusted index they follow (-1: before all)
    seen: set[int] = set()
    anchor = -1
    edited_meta = edited_test = malformed = False
    for cell in upload["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw") \
                or _source(cell) is None:
            malformed = True
            continue
        src = _source(cell)
        nbg = _nbgrader(cell)
        gid = nbg.get("grade_id") if nbg else None
        k = ids.get(gid) if isinstance(gid, str) else None
        if k is not None and k not in seen:
            seen.add(k)
            anchor = k
            mine = trusted[k]
            if nbg != mine.metadata["nbgrader"] or cell.get("cell_type") != mine.cell_type:
                edited_meta = True
            if mine.metadata["nbgrader"].get("solution"):
                answers[k] = src
            elif src != mine.source and mine.metadata["nbgrader"].get("grade"):
                edited_test = True
            continue
        if nbg is not None:
            edited_meta = True  # nbgrader metadata on a cell the release does not have
        else:
            same = [j for j, s in plain.items() if s == src and j not in seen]
            if same:
                seen.add(same[0])
                anchor = same[0]
                continue
        extras.setdefault(anchor, []).append(
            nbformat.v4.new_code_cell(src) if cell["cell_type"] == "code"
            else nbformat.v4.new_markdown_cell(src) if cell["cell_type"] == "markdown"
            else nbformat.v4.new_raw_cell(src))
    missing_tests = [gid for gid, k in ids.items() if k not in seen
                     and trusted[k].metadata["nbgrader"].get("grade")
                     and not trusted[k].metadata["nbgrader"].get("solution")]
    missing_answers = [gid for gid, k in ids.items() if k not in seen
                       and trusted[k].metadata["nbgrader"].get("solution")]
    cells = [prelude_cell()] + extras.get(-1, [])
    for k, cell in enumerate(trusted):
        if k in answers:
            cell.source = answers[k]
        cells.append(cell)
        cells.extend(extras.get(k, []))
    for i, c in enumerate(cells):
        c["id"] = f"graded-{i}"
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(release.metadata))
    if edited_meta:
        flags.append("metadata edited (graded as released)")
    if edited_test:
        flags.append("test cell edited (the trusted copy was graded)")
    if missing_tests:
        flags.append("test cell deleted (restored): " + ", ".join(missing_tests))
    if missing_answers:
        flags.append("answer cell deleted (graded as released): " + ", ".join(missing_answers))
    if malformed:
        flags.append("malformed cells ignored")
    return nb, flags


def student_code(nb) -> list[str]:
    """The code cells of a built notebook that came from the student (answers and extras)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.startswith(PRELUDE_MARK):
            continue
        nbg = cell.get("metadata", {}).get("nbgrader")
        if not nbg or nbg.get("solution"):
            out.append(cell.source)
    return out
