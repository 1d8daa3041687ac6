"""Find every student notebook in whatever a course site exports, and lose none.

:func:`gather` takes a folder or a ``.zip`` and returns one :class:`Found` per notebook
in it, with the student it belongs to, its submission time where one is known, and how
it was named. The layout is detected from the content:

* **plain** — ``<student>.ipynb`` files or ``<student>/…/<file>.ipynb`` folders, under
  any number of wrapper folders (``downloads/alice/hw1.ipynb``);
* **canvas** — Canvas's submission download: ``<name>_<userid>_<submissionid>_<file>``,
  or ``<name>_late_<userid>_<submissionid>_<file>`` for a late one;
* **moodle** — Moodle's "download all submissions": ``<Full Name>_<id>_assignsubmission_file_/<file>``;
* **gradescope** — Gradescope's export: ``submission_metadata.yml`` beside one folder per
  submission (``submission_<id>/``), naming each one's submitters, SIDs and time.

A zip is opened member by member: a member with an absolute path, ``..``, or a symbolic
link is refused (one line each) and the rest is read. Nothing here runs a notebook.
"""

from __future__ import annotations

import csv
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import yaml

CANVAS = re.compile(r"^(?P<name>[a-z0-9]+)_(?P<late>late_)?(?P<userid>\d+)_(?P<subid>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assign(?:submission|feedback)_\w+_?$")
GRADESCOPE_META = "submission_metadata.yml"
MAX_MEMBERS = 20_000
MAX_UNPACKED = 4 * 1024**3
SKIP = ("__MACOSX", ".ipynb_checkpoints")


class CollectError(ValueError):
    """The whole upload cannot be read (the message names the file and the problem)."""


@dataclass
class Found:
    """One notebook found in an upload."""

    key: str                      # the id the upload gives it (folder, Canvas user id, ...)
    path: Path                    # where its bytes are now (extracted)
    origin: str                   # its path inside the upload, for messages
    fmt: str                      # plain, canvas, moodle, gradescope
    name: str = ""                # a display name, where the upload has one
    submitted_at: datetime | None = None
    time_source: str = ""         # course site, timestamps file, zip entry, file
    late_marker: bool = False     # Canvas's _late_
    site_ids: dict = field(default_factory=dict)  # e.g. {"canvas_id": "123", "canvas_submission": "456"}
    site_name: str = ""           # the prefix the course site gave it (for feedback files)
    student: str = ""             # filled by the caller (roster or key)
    flags: list = field(default_factory=list)


def slug(text: str) -> str:
    """A student id from a display name: ASCII letters, digits, ``_ . -``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_text).strip("_.-") or "unnamed"


# -- reading the upload -----------------------------------------------------------------------
def _extract(zpath: Path, dest: Path, problems: list[str]) -> dict[str, datetime]:
    """Extract the safe members of a zip; returns member path -> time of the entry."""
    try:
        zf = zipfile.ZipFile(zpath)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CollectError(f"{zpath.name}: not a readable zip file ({exc})") from None
    times = {}
    total = 0
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise CollectError(f"{zpath.name}: {len(infos)} entries (more than {MAX_MEMBERS}); refused")
        for info in infos:
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                problems.append(f"{zpath.name}: {name}: a path outside the zip, skipped")
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                problems.append(f"{zpath.name}: {name}: a symbolic link, skipped")
                continue
            if info.is_dir() or not parts or any(p in SKIP or p.startswith("._") for p in parts):
                continue
            total += info.file_size
            if total > MAX_UNPACKED:
                raise CollectError(f"{zpath.name}: unpacks to more than {MAX_UNPACKED // 1024**3} GiB; refused")
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                problems.append(f"{zpath.name}: {name}: cannot be read ({type(exc).__name__}), skipped")
                target.unlink(missing_ok=True)
                continue
            times["/".join(parts)] = datetime(*info.date_time, tzinfo=timezone.utc)
    return times


def _notebooks(base: Path) -> list[Path]:
    out = []
    for p in sorted(base.rglob("*")):
        rel = p.relative_to(base).parts
        if any(part in SKIP or part.startswith(".") for part in rel):
            continue
        if p.is_symlink():
            continue
        if p.is_file() and p.suffix == ".ipynb":
            out.append(p)
    return out


def _named_for(nb: Path, assignment: str) -> bool:
    """``hw1.ipynb``, ``hw1 (1).ipynb``, ``HW1-final.ipynb``: named after the assignment."""
    return bool(assignment) and re.match(rf"^{re.escape(assignment)}(?![A-Za-z0-9])", nb.stem, re.I) is not None


def _entries(d: Path) -> list[Path]:
    return [p for p in sorted(d.iterdir()) if p.name not in SKIP and not p.name.startswith((".", "._"))
            and not p.is_symlink()]


def _has_notebook(d: Path) -> bool:
    return any(True for _ in _notebooks(d))


def _unwrap(base: Path, assignment: str) -> Path:
    """Go down through wrapper folders: a folder that holds nothing but one folder, unless
    that folder is a student's (it holds the assignment's notebook itself)."""
    while True:
        entries = _entries(base)
        if len(entries) != 1 or not entries[0].is_dir():
            return base
        inner = entries[0]
        if any(p.is_file() and p.suffix == ".ipynb" and _named_for(p, assignment) for p in _entries(inner)):
            return base  # inner is one student's folder
        base = inner


def _plain(base: Path, assignment: str) -> list[tuple[str, Path]]:
    """(student key, notebook) for a plain layout below ``base``.

    A notebook directly in a folder of students is ``<student>.ipynb``; a folder is one
    student's (every notebook under it is theirs) unless it groups students: it holds no
    notebook of the assignment itself and two or more folders with notebooks (a section),
    or only loose ``<student>.ipynb`` files; then it is read the same way, at any depth.
    """
    out = []
    for entry in _entries(base):
        if entry.is_file() and entry.suffix == ".ipynb":
            out.append((entry.stem, entry))
        elif entry.is_dir() and _has_notebook(entry):
            direct = [p for p in _entries(entry) if p.is_file() and p.suffix == ".ipynb"]
            subdirs = [p for p in _entries(entry) if p.is_dir() and _has_notebook(p)]
            own = [p for p in direct if _named_for(p, assignment)]
            groups = not own and (len(subdirs) >= 2 or (len(direct) >= 2 and not subdirs))
            if groups:
                out += _plain(entry, assignment)
            else:
                out += [(entry.name, nb) for nb in _notebooks(entry)]
    return out


def _parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    # Gradescope writes e.g. "2026-02-03 11:12:13.123456789 -0800"
    m = re.match(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?\s*(Z|UTC|[+-]\d\d:?\d\d)?$", text)
    if not m:
        return None
    date, clock, frac, tz = m.groups()
    clock = clock if clock.count(":") == 2 else clock + ":00"
    dt = datetime.fromisoformat(f"{date}T{clock}" + (f".{frac[:6]}" if frac else ""))
    if tz in (None, "Z", "UTC"):
        return dt.replace(tzinfo=timezone.utc)
    tz = tz.replace(":", "")
    sign = 1 if tz[0] == "+" else -1
    from datetime import timedelta

    return dt.replace(tzinfo=timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))))


def parse_due(value) -> datetime:
    """A due date from ``--due`` or the course's configuration (UTC unless it says)."""
    dt = _parse_time(value if not isinstance(value, str) else value.replace("/", "-"))
    if dt is None and isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value.strip()):
        dt = _parse_time(value.strip() + " 23:59:59")
    if dt is None:
        raise ValueError(f"due date {value!r} cannot be parsed: use e.g. '2026-03-01 23:59' "
                         "or '2026-03-01T23:59:00+01:00' (UTC unless an offset is given)")
    return dt


def _gradescope(base: Path, times: dict, problems: list[str]) -> list[Found]:
    meta_path = next(iter(sorted(base.rglob(GRADESCOPE_META))), None)
    root = meta_path.parent
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CollectError(f"{GRADESCOPE_META}: cannot be read ({type(exc).__name__})") from None
    if not isinstance(meta, dict):
        raise CollectError(f"{GRADESCOPE_META}: not a mapping of submissions")
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        info = meta.get(folder.name)
        notebooks = _notebooks(folder)
        if not isinstance(info, dict):
            for nb in notebooks:
                problems.append(f"{folder.name}: not in {GRADESCOPE_META}; graded under its folder name")
                found.append(Found(folder.name, nb, str(nb.relative_to(base)), "gradescope"))
            continue
        get = lambda d, k: d.get(f":{k}", d.get(k))  # noqa: E731 (Ruby-symbol keys)
        submitters = get(info, "submitters") or [{}]
        first = submitters[0] if isinstance(submitters, list) and submitters else {}
        first = first if isinstance(first, dict) else {}
        sid = str(get(first, "sid") or "").strip()
        email = str(get(first, "email") or "").strip()
        name = str(get(first, "name") or "").strip()
        when = _parse_time(str(get(info, "created_at") or ""))
        for nb in notebooks:
            f = Found(sid or email or slug(name) or folder.name, nb, str(nb.relative_to(base)), "gradescope",
                      name=name, submitted_at=when, time_source="course site" if when else "",
                      site_ids={k: v for k, v in (("gradescope_sid", sid), ("email", email),
                                                  ("gradescope_submission", folder.name)) if v},
                      site_name=folder.name)
            if isinstance(submitters, list) and len(submitters) > 1:
                f.flags.append(f"group submission ({len(submitters)} submitters; graded for the first)")
            found.append(f)
    return found


def _classify(nb: Path, base: Path) -> tuple[str, dict]:
    rel = nb.relative_to(base).parts
    m = CANVAS.match(nb.name)
    if m:
        return "canvas", m.groupdict()
    for part in rel[:-1]:
        mm = MOODLE.match(part)
        if mm:
            return "moodle", dict(mm.groupdict(), folder=part)
    return "plain", {}


def gather(upload, assignment: str = "") -> tuple[list[str], list[Found], list[str]]:
    """Every notebook of an upload (folder or zip).

    Returns ``(formats, found, problems)``: the formats detected (more than one when an
    upload mixes them), one :class:`Found` per notebook, and one line per problem (skipped
    zip members and the like). Raises :class:`CollectError` when the upload itself cannot
    be read. ``assignment`` (e.g. ``"hw1"``) tells a student's folder from a wrapper. A
    zip is extracted to a temporary folder, ``gather.last_tmp``, which the caller removes.
    """
    import tempfile

    upload = Path(upload)
    if not upload.exists():
        raise CollectError(f"submissions: {upload} does not exist")
    problems: list[str] = []
    times: dict[str, datetime] = {}
    if upload.is_file():
        if upload.suffix.lower() != ".zip":
            raise CollectError(f"submissions must be a folder or a .zip file, got {upload}")
        tmp = Path(tempfile.mkdtemp(prefix="lec4-collect-"))
        times = _extract(upload, tmp, problems)
        base = tmp
    else:
        base = upload
    gather.last_tmp = base if upload.is_file() else None
    if any(base.rglob(GRADESCOPE_META)):
        found = _gradescope(base, times, problems)
        for f in found:
            if f.submitted_at is None:
                _time_from(f, base, times, upload.is_file())
        return ["gradescope"], found, problems
    inner = _unwrap(base, assignment)
    plain_key = {nb: key for key, nb in _plain(inner, assignment)}
    found = []
    for nb in _notebooks(inner):
        fmt, parts = _classify(nb, inner)
        rel = nb.relative_to(inner)
        if fmt == "canvas":
            f = Found(parts["userid"], nb, str(rel), fmt, name=parts["name"], late_marker=bool(parts["late"]),
                      site_ids={"canvas_id": parts["userid"], "canvas_submission": parts["subid"]},
                      site_name=nb.name[: -len(parts["file"])].rstrip("_"))
            if f.late_marker:
                f.flags.append("late (Canvas)")
        elif fmt == "moodle":
            f = Found(parts["id"], nb, str(rel), fmt, name=parts["name"],
                      site_ids={"moodle_id": parts["id"]}, site_name=parts["folder"])
        else:
            f = Found(plain_key.get(nb, nb.stem), nb, str(rel), fmt)
        _time_from(f, base, times, upload.is_file())
        found.append(f)
    formats = sorted({f.fmt for f in found}, key=["canvas", "moodle", "plain"].index)
    return formats, found, problems


def _time_from(f: Found, base: Path, times: dict, zipped: bool) -> None:
    if zipped:
        key = "/".join(f.path.relative_to(base).parts)
        if key in times:
            f.submitted_at, f.time_source = times[key], "zip entry"
            return
    f.submitted_at = datetime.fromtimestamp(f.path.stat().st_mtime, tz=timezone.utc)
    f.time_source = "file"


# -- rosters and timestamps ------------------------------------------------------------------------
class Roster:
    """A course roster: ``student_id`` plus any course-site ids and names (CSV columns)."""

    def __init__(self, path):
        path = Path(path)
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CollectError(f"roster {path.name}: cannot be read ({type(exc).__name__})") from None
        if not rows or "student_id" not in rows[0]:
            cols = ", ".join(rows[0]) if rows else "none"
            raise CollectError(f"roster {path.name}: no 'student_id' column (columns: {cols})")
        self.rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in rows]
        self.ids = [r["student_id"] for r in self.rows if r["student_id"]]
        self._by_value: dict[str, str] = {}
        for r in self.rows:
            for k, v in r.items():
                if v and r["student_id"]:
                    self._by_value.setdefault(v.casefold(), r["student_id"])

    def lookup(self, *values) -> str | None:
        for v in values:
            if v and v.casefold() in self._by_value:
                return self._by_value[v.casefold()]
        return None

    def row(self, student: str) -> dict:
        return next((r for r in self.rows if r["student_id"] == student), {"student_id": student})


def read_timestamps(path) -> dict[str, datetime]:
    """A timestamps file: CSV with a student (or course-site id) column and ``submitted_at``."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "submitted_at" not in rows[0]:
        raise CollectError(f"timestamps {path.name}: needs a 'submitted_at' column")
    key = next((k for k in rows[0] if k != "submitted_at"), None)
    out = {}
    for r in rows:
        when = _parse_time(r["submitted_at"])
        if when is None:
            raise CollectError(f"timestamps {path.name}: {r['submitted_at']!r} is not a time")
        out[r[key].strip()] = when
    return out
