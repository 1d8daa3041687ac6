"""What the course website shows of the homework: the released notebooks and a schedule.

The book build (``tools/build_book.py``) calls :func:`write_site_files` before Sphinx runs.
It releases every assignment with the grading pipeline's own :meth:`Course.release`
(nbgrader's ``generate_assignment``: solutions replaced by stubs, hidden tests removed) in a
throw-away course directory, copies each student notebook next to the homework page, and
writes ``schedule.md``, the table the page includes: assignment, points, due date and the
download link. The website therefore offers exactly what a student would be handed, never
the source.

Due dates come from the course configuration, ``"duedate"`` in the
``CourseDirectory.db_assignments`` entries of ``assignments/nbgrader_config.py`` (the
setting the grader reads too); an assignment without one shows "set by your instructor".
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from . import authoring

__all__ = ["due_dates", "released_points", "write_site_files", "SITE_DIR"]

#: where the files go, relative to the book: next to chapters/homework.md
SITE_DIR = Path("chapters") / "homework-files"
NO_DUE_DATE = "set by your instructor"


def due_dates(config_dir: Path = authoring.ASSIGNMENTS) -> dict[str, str]:
    """``{assignment: due date text}`` from ``nbgrader_config.py`` in ``config_dir``."""
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(config_dir)).load_config()
    entries = cfg.CourseDirectory.get("db_assignments", [])
    return {e["name"]: str(e["duedate"]) for e in entries if e.get("duedate")}


def released_points(nb_path: Path) -> float:
    """Total points of a released notebook (its nbgrader-graded cells)."""
    nb = json.loads(Path(nb_path).read_text("utf-8"))
    return sum(float(c.get("metadata", {}).get("nbgrader", {}).get("points", 0) or 0)
               for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade"))


def _title(nb_path: Path, name: str) -> str:
    nb = json.loads(Path(nb_path).read_text("utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for line in text.splitlines():
            if cell["cell_type"] == "markdown" and line.startswith("# "):
                return line[2:].strip()
    return name


def write_site_files(book: Path, *, config_dir: Path = authoring.ASSIGNMENTS,
                     log=print) -> list[Path]:
    """Release every assignment into ``book/chapters/homework-files/``; return the notebooks.

    Also writes ``schedule.md`` there (a MyST table with ``{download}`` links, included by
    ``chapters/homework.md``). Raises ``RuntimeError`` when a release fails: a site without
    its homework would be wrong, so the build stops.
    """
    from .pipeline import Course

    out = Path(book) / SITE_DIR
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    dues = due_dates(config_dir)
    rows, written = [], []
    with tempfile.TemporaryDirectory(prefix="lec4-release-") as tmp:
        course = Course(Path(tmp) / "course", log=lambda line: None)
        for name in authoring.assignment_names():
            released = course.release(name)
            target = out / f"{name}.ipynb"
            shutil.copyfile(released, target)
            written.append(target)
            points = released_points(target)
            rows.append(f"| {_title(target, name)} | {points:g} | {dues.get(name, NO_DUE_DATE)} "
                        f"| {{download}}`{name}.ipynb <homework-files/{name}.ipynb>` |")
    table = ["| assignment | points | due | notebook |", "|---|---|---|---|", *rows]
    (out / "schedule.md").write_text(
        "<!-- written by assignments/coursetools/site.py at build time; do not edit -->\n\n"
        + "\n".join(table) + "\n", "utf-8")
    log(f"[homework] released {', '.join(p.stem for p in written)} into {out}")
    return written
