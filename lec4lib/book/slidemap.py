"""The slide map: every slide of the lecture and where its result is derived.

The map lives in ``lec4lib/data/slide_map.yml`` (packaged, so it also loads on Colab).
Each entry names a slide by ``title`` and ``occurrence`` (the lecture repeats a title
while a slide is built up step by step) and either

* ``section`` (``chapters/NN-topic.md#label``) and ``test``
  (``tests/claims/test_file.py::test_name``): the chapter section that derives the
  slide's result and the claim test that asserts it; or
* ``status: todo``: not covered yet; or
* ``status: no-result``: a slide with nothing to derive (title page, logistics).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

__all__ = ["Slide", "parse_slides", "load_slide_map", "section_titles", "slide_map_html", "api_href",
           "STATUSES"]

STATUSES = ("covered", "todo", "no-result")

_BOLD = re.compile(r"\*\*(.*?)\*\*")


@dataclass(frozen=True)
class Slide:
    """One slide of the lecture: its title and which occurrence of that title it is."""

    title: str
    occurrence: int


def _clean(heading: str) -> str:
    return _BOLD.sub(r"\1", heading).strip()


def parse_slides(text: str) -> list[Slide]:
    """List the slides of a lecture written as Markdown.

    A slide starts at a level-1 heading (``# ...``). Its title is its first level-2
    heading (``## ...``) if it has one, else the level-1 heading itself.

    Parameters
    ----------
    text : str
        The Markdown text of the slides.

    Returns
    -------
    list of Slide
        In lecture order; ``occurrence`` counts repeats of a title from 1.

    Examples
    --------
    >>> parse_slides("# A\\n## x\\n# A\\n## x\\n# B\\n")
    [Slide(title='x', occurrence=1), Slide(title='x', occurrence=2), Slide(title='B', occurrence=1)]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    slides: list[tuple[str, str | None]] = []
    for line in text.splitlines():
        if line.startswith("# "):
            slides.append((_clean(line[2:]), None))
        elif line.startswith("## ") and slides and slides[-1][1] is None:
            slides[-1] = (slides[-1][0], _clean(line[3:]))
    counts: dict[str, int] = {}
    out = []
    for h1, h2 in slides:
        title = h2 if h2 is not None else h1
        counts[title] = counts.get(title, 0) + 1
        out.append(Slide(title, counts[title]))
    return out


def load_slide_map(path: str | Path | None = None) -> list[dict]:
    """Load the slide map.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file; by default the map packaged with lec4lib.

    Returns
    -------
    list of dict
        One dict per slide with keys ``title``, ``occurrence``, ``status`` and, for
        covered slides, ``section``, ``test``, ``code`` (the dotted name of the lec4lib
        object that computes the result) and ``result`` (a one-line summary).
    """
    if path is None:
        text = resources.files("lec4lib").joinpath("data/slide_map.yml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    entries = yaml.safe_load(text)["slides"]
    for e in entries:
        status = e.get("status", "covered" if "section" in e else None)
        if status not in STATUSES:
            raise ValueError(f"slide {e.get('title')!r}: status must be one of {STATUSES}, got {status!r}")
        if status == "covered" and not ("section" in e and "test" in e and "code" in e):
            raise ValueError(f"slide {e['title']!r} #{e['occurrence']}: a covered slide needs "
                             "'section', 'test' and 'code'")
        e["status"] = status
    return entries


_STATUS_TEXT = {"covered": "derived", "todo": "not yet covered", "no-result": "nothing to derive"}


def api_href(code: str) -> str:
    """The API page and anchor of a lec4lib object, relative to a chapter page.

    Examples
    --------
    >>> api_href("lec4lib.optim.momentum.HeavyBall")
    'api/optim.html#lec4lib.optim.momentum.HeavyBall'
    >>> api_href("lec4lib.optim.schedules")
    'api/optim.html#module-lec4lib.optim.schedules'
    """
    import importlib

    parts = code.split(".")
    if len(parts) < 3 or parts[0] != "lec4lib":
        raise ValueError(f"code must name an object inside a lec4lib subpackage, got {code!r}")
    try:
        importlib.import_module(code)
        anchor = f"module-{code}"
    except ModuleNotFoundError:
        anchor = code
    return f"api/{parts[1]}.html#{anchor}"


_LABEL = re.compile(r"^\(([^)\s]+)\)=\s*$")


def section_titles(chapters: str | Path) -> dict[str, str]:
    """``{"chapters/NN-topic.md#label": "NN · Section title"}`` for every labelled heading.

    Reads the MyST sources in the folder ``chapters``: a label line ``(label)=`` followed by
    a Markdown heading. The chapter's number (the file name's prefix) leads the title, so
    a reader sees where the section is. A missing folder gives ``{}`` (a chapter run on
    Colab has no sources beside it).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "05-momentum.md").write_text("(ch05)=\\n# Momentum\\n\\n(m-gd)=\\n## Momentum GD\\n")
    >>> section_titles(d)["chapters/05-momentum.md#m-gd"]
    '05 · Momentum GD'
    """
    folder = Path(chapters)
    titles: dict[str, str] = {}
    if not folder.is_dir():
        return titles
    for md in sorted(folder.glob("*.md")):
        prefix = md.name.split("-", 1)[0]
        number = f"{prefix} · " if prefix[:2].isdigit() else ""
        lines = md.read_text("utf-8").splitlines()
        for k, line in enumerate(lines[:-1]):
            m = _LABEL.match(line)
            nxt = lines[k + 1]
            if m and nxt.startswith("#"):
                heading = _clean(nxt.lstrip("#"))
                titles[f"chapters/{md.name}#{m.group(1)}"] = number + heading
    return titles


def _with_math(text: str) -> str:
    r"""``text`` as HTML whose ``$…$`` parts are inline math, as Sphinx writes it for MathJax.

    A section title such as ``Decreasing steps: $\eta_t$`` would otherwise show its TeX.

    Examples
    --------
    >>> _with_math(r"steps: $\eta < 2$ & more")
    'steps: <span class="math notranslate nohighlight">\\(\\eta &lt; 2\\)</span> &amp; more'
    """
    from html import escape

    parts = re.split(r"\$([^$]+)\$", text)
    return "".join(escape(p) if k % 2 == 0 else
                   f'<span class="math notranslate nohighlight">\\({escape(p)}\\)</span>'
                   for k, p in enumerate(parts))


def slide_map_html(entries: list[dict], titles: dict[str, str] | None = None) -> str:
    """The slide map as an HTML table: slide number, slide, section, claim test, code.

    Slides are numbered as in the deck (the entries are in deck order); a title the deck
    repeats says which of its repeats it is, ``(2 of 3)``. The section links to its page,
    with the section's title (from :func:`section_titles`) as the link text when known,
    and the code to its API reference (:func:`api_href`).
    """
    from html import escape

    titles = titles or {}
    repeats: dict[str, int] = {}
    for e in entries:
        repeats[e["title"]] = max(repeats.get(e["title"], 0), e["occurrence"])
    rows = []
    for i, e in enumerate(entries, 1):
        if e["status"] == "covered":
            page, _, anchor = e["section"].partition("#")
            href = page.rsplit("/", 1)[-1].removesuffix(".md") + ".html" + (f"#{anchor}" if anchor else "")
            text = titles.get(e["section"], e["section"])
            where = f'<a href="{escape(href)}">{_with_math(text)}</a>'
            test = f"<code>{escape(e['test'])}</code>"
            code = f'<a href="{escape(api_href(e["code"]))}"><code>{escape(e["code"])}</code></a>'
        else:
            where, test, code = _STATUS_TEXT[e["status"]], "", ""
        n = repeats[e["title"]]
        title = escape(e["title"]) + (f" ({e['occurrence']} of {n})" if n > 1 else "")
        rows.append(f"<tr><td>{i}</td><td>{title}</td>"
                    f"<td>{where}</td><td>{test}</td><td>{code}</td></tr>")
    return ('<div class="slide-map-wrapper"><table class="table slide-map"><thead><tr>'
            "<th>slide</th><th>title</th><th>derived in</th><th>claim test</th><th>code</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")
