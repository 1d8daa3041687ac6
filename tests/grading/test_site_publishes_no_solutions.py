"""The website never publishes homework solutions, hidden tests or model answers.

Scans every text file of the built site (``_build/html``, written by ``make book``; set
``LEC4_SITE`` to scan another build) for the distinctive lines of each assignment's
solutions, hidden tests and written model answers, and for the grading markers.
"""

from __future__ import annotations

import html
import os
import re
import sys
from pathlib import Path

import pytest

from coursetools import authoring
import hidden_text as course_secrets

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("LEC4_SITE", ROOT / "_build" / "html")).resolve()
TEXT_SUFFIXES = {".html", ".htm", ".txt", ".md", ".ipynb", ".py", ".json", ".js", ".xml", ".rst"}

pytestmark = pytest.mark.slow  # needs the built book (make test builds it first)


def _site_texts():
    if not (SITE / "index.html").exists() and not any(SITE.glob("*.html")):
        pytest.fail(f"no built site at {SITE}: run `make book` first (or set LEC4_SITE)")
    for path in sorted(SITE.rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            raw = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix in (".html", ".htm"):
                raw = re.sub(r"<(style|script)\b.*?</\1>", "", raw, flags=re.S | re.I)
                raw = html.unescape(re.sub(r"<[^>]+>", "", raw))
            yield path, raw


def test_site_has_no_solution_hidden_test_or_model_answer():
    secrets = {name: course_secrets.secret_lines(name) for name in authoring.assignment_names()}
    assert all(len(s) > 10 for s in secrets.values())
    scanned = 0
    for path, text in _site_texts():
        scanned += 1
        for marker in course_secrets.MARKERS:
            assert marker not in text, f"{marker!r} published in {path.relative_to(SITE)}"
        for name, lines in secrets.items():
            leaked = [line for line in lines if line in text]
            assert not leaked, f"{path.relative_to(SITE)} publishes {name} secrets: {leaked[:3]}"
    assert scanned > 5, f"only {scanned} text files under {SITE}"


def test_homework_page_is_published():
    page = SITE / "chapters" / "homework.html"
    if not page.exists():
        pytest.fail(f"{page} missing: run `make book` first (or set LEC4_SITE)")
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
    for name in authoring.assignment_names():
        assert f"Homework {name[2:]}" in text


def test_scan_catches_a_leaked_hidden_test(tmp_path, monkeypatch):
    """The scan itself can fail: a page quoting one hidden-test line (HTML-escaped and
    split by highlighting spans, as Sphinx would render it) is caught."""
    line = sorted(course_secrets.secret_lines("hw2"))[0]
    half = len(line) // 2
    page = (f"<html><body><pre><span>{html.escape(line[:half])}</span>"
            f"<span>{html.escape(line[half:])}</span></pre></body></html>")
    (tmp_path / "index.html").write_text(page)
    for k in range(6):
        (tmp_path / f"p{k}.html").write_text("<p>nothing</p>")
    monkeypatch.setattr(sys.modules[__name__], "SITE", tmp_path)
    with pytest.raises(AssertionError, match="publishes hw2 secrets"):
        test_site_has_no_solution_hidden_test_or_model_answer()


def test_homework_page_offers_each_released_notebook_as_a_download():
    """The page links one download per assignment; the file is there and is the student
    version (its secrets are scanned by the test above, which reads _downloads too)."""
    page = SITE / "chapters" / "homework.html"
    if not page.exists():
        pytest.fail(f"{page} missing: run `make book` first (or set LEC4_SITE)")
    hrefs = re.findall(r'href="([^"]*_downloads/[^"]+\.ipynb)"', page.read_text(encoding="utf-8"))
    names = sorted(Path(h).stem for h in hrefs)
    assert names == authoring.assignment_names(), hrefs
    for href in hrefs:
        target = (page.parent / href).resolve()
        assert target.is_file() and SITE in target.parents, href
        assert "YOUR CODE HERE" in target.read_text(encoding="utf-8")
