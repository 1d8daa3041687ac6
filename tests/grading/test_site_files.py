"""The homework page's downloads are the released student notebooks, with the due dates
from the course configuration (assignments/coursetools/site.py)."""

from __future__ import annotations

import json
import shutil

from coursetools import authoring, site
import hidden_text as course_secrets


def test_released_notebooks_and_schedule_with_configured_due_dates(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    text = (authoring.ASSIGNMENTS / "nbgrader_config.py").read_text()
    text = text.replace('{"name": "hw2"}', '{"name": "hw2", "duedate": "2027-03-01 23:59:00 UTC"}')
    assert "duedate" in text
    (config / "nbgrader_config.py").write_text(text)
    book = tmp_path / "book"
    written = site.write_site_files(book, config_dir=config, log=lambda line: None)
    assert [p.name for p in written] == [f"{n}.ipynb" for n in authoring.assignment_names()]
    schedule = (book / site.SITE_DIR / "schedule.md").read_text()
    rows = [r for r in schedule.splitlines() if r.startswith("| Homework")]
    assert len(rows) == 3
    assert "2027-03-01 23:59:00 UTC" in rows[1] and site.NO_DUE_DATE in rows[0]
    assert "{download}`hw2.ipynb <homework-files/hw2.ipynb>`" in rows[1]
    # points as the authoring sources declare them (the page says 11, 12, 11)
    assert [r.split("|")[2].strip() for r in rows] == ["11", "12", "11"]
    for nb_path in written:
        nb = json.loads(nb_path.read_text())
        src = "\n".join("".join(c["source"]) for c in nb["cells"])
        for marker in course_secrets.MARKERS:
            assert marker not in src, (nb_path.name, marker)
        leaked = [line for line in course_secrets.secret_lines(nb_path.stem) if line in src]
        assert not leaked, (nb_path.name, leaked[:3])
        assert "YOUR CODE HERE" in src and "raise NotImplementedError()" in src


def test_without_a_due_date_the_page_says_who_sets_it():
    assert site.due_dates() == {}          # the repository's course sets none
    assert "instructor" in site.NO_DUE_DATE
