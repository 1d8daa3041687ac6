"""Grades and feedback in the shapes course sites import.

* **Canvas** — the gradebook import (Grades → Import): the columns ``Student``, ``ID``,
  ``SIS User ID``, ``SIS Login ID``, ``Section`` (the layout of Canvas's own gradebook
  export, which it matches students by), then one column per assignment, here one, named
  as in Canvas (``--column "Homework 1 (12345)"``), and a ``Points Possible`` row. Feedback
  is re-uploaded with "Re-Upload Submissions": a zip of files whose names keep Canvas's
  download prefix ``<name>_<userid>_<submissionid>_``.
* **Gradescope** — "Import scores": ``Name``, ``SID``, ``Email`` and the score column.
* **Moodle** — "Import grades from CSV": ``Full name``, ``Email address``, ``ID number``
  and the grade column, mapped on import. Feedback: "Upload multiple feedback files in a
  zip", one folder per participant named as in Moodle's download
  (``<Full Name>_<id>_assignsubmission_file_``).

Course-site ids come from the roster (columns such as ``canvas_id``, ``sis_user_id``,
``sis_login_id``, ``section``, ``email``, ``name``, ``moodle_id``, ``gradescope_sid``)
or from what the upload itself said (Canvas user ids, Moodle participant ids, Gradescope
SIDs). The score exported is ``final``: the autograded score less the late penalty.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

SITES = ("canvas", "gradescope", "moodle", "plain")


def _people(rows, manifest) -> list[dict]:
    """Every student with a final score, joined with the roster and the upload's ids."""
    roster = {r["student_id"]: r for r in (manifest.get("roster") or [])}
    records = {r["student"]: r for r in manifest["records"] if r.get("graded")}
    out = []
    for row in rows:
        if row["final"] == "" and row["status"] != "missing":
            continue  # a superseded notebook: its student has a graded row
        rec, ros = records.get(row["student"], {}), roster.get(row["student"], {})
        ids = rec.get("site_ids", {})
        out.append({"student": row["student"], "final": row["final"], "max": row["max_score"],
                    "name": ros.get("name") or rec.get("name") or row["student"],
                    "canvas_id": ros.get("canvas_id") or ids.get("canvas_id", ""),
                    "sis_user_id": ros.get("sis_user_id") or ros.get("student_id", ""),
                    "sis_login_id": ros.get("sis_login_id") or ros.get("email", ""),
                    "section": ros.get("section", ""),
                    "email": ros.get("email") or ids.get("email", ""),
                    "moodle_id": ros.get("moodle_id") or ids.get("moodle_id", ""),
                    "sid": ros.get("gradescope_sid") or ids.get("gradescope_sid") or ros.get("student_id", "")})
    return out


def write(site: str, rows, manifest, path, *, column: str) -> Path:
    if site not in SITES:
        raise ValueError(f"site must be one of {SITES}, got {site!r}")
    people = _people(rows, manifest)
    points = next((p["max"] for p in people if p["max"] not in ("", "0")), "")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        if site == "canvas":
            w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
            w.writerow(["Points Possible", "", "", "", "", points])
            for p in people:
                w.writerow([p["name"], p["canvas_id"], p["sis_user_id"], p["sis_login_id"], p["section"],
                            p["final"]])
        elif site == "gradescope":
            w.writerow(["Name", "SID", "Email", column])
            for p in people:
                w.writerow([p["name"], p["sid"], p["email"], p["final"]])
        else:  # moodle
            w.writerow(["Full name", "Email address", "ID number", column])
            for p in people:
                w.writerow([p["name"], p["email"], p["moodle_id"] or p["student"], p["final"]])
    return path


def feedback_zip(files: dict, name: str, path, site: str | None = None) -> Path:
    """``files``: student -> (feedback html, collect record). Names in the zip:

    * canvas: ``<name>_<userid>_<submissionid>_<assignment>-feedback.html``
    * moodle: ``<Full Name>_<id>_assignsubmission_file_/<assignment>-feedback.html``
    * otherwise: ``<student>/<assignment>-feedback.html``
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for student, (html, rec) in sorted(files.items()):
            layout = site or rec.get("format", "plain")
            prefix = rec.get("site_name", "")
            if layout == "canvas" and prefix:
                arc = f"{prefix}_{name}-feedback.html"
            elif layout == "moodle" and prefix:
                arc = f"{prefix}/{name}-feedback.html"
            else:
                arc = f"{student}/{name}-feedback.html"
            zf.write(html, arc)
    return path
