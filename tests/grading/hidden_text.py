"""What must never leave the instructor's hands: solution code, hidden tests, model answers."""

from __future__ import annotations

from coursetools import authoring


def _regions(text: str, begin: str, end: str) -> list[str]:
    out, inside = [], False
    for line in text.splitlines():
        if begin in line:
            inside = True
            continue
        if end in line:
            inside = False
            continue
        if inside:
            out.append(line)
    return out


def _split(name: str) -> tuple[list[str], list[str]]:
    """(secret lines, public lines) of assignment ``name``'s source."""
    secret, public = [], []
    for cell in authoring.read_source(name).cells:
        text = cell.source
        if "written" in cell.metadata:
            secret += text.splitlines()
            continue
        if "tests" in cell.metadata:
            text = authoring._expand_guard(text)
        hidden = _regions(text, authoring.BEGIN_SOLUTION, authoring.END_SOLUTION) + \
            _regions(text, authoring.BEGIN_HIDDEN, authoring.END_HIDDEN)
        secret += hidden
        hidden_set = set(hidden)
        public += [l for l in text.splitlines() if l not in hidden_set]
    return secret, public


def secret_lines(name: str, min_len: int = 16) -> set[str]:
    """Distinctive lines (stripped, >= min_len characters) of the solutions, hidden tests
    (guard included) and model answers of ``name`` that appear nowhere in the public part of
    any assignment (a line every student is handed, e.g. hw3's given ``r =
    np.random.default_rng(seed)``, gives nothing away when hw1 solves with it too)."""
    secret = _split(name)[0]
    public_text = "\n".join(line for other in authoring.assignment_names() for line in _split(other)[1])
    return {s.strip() for s in secret if len(s.strip()) >= min_len and s.strip() not in public_text}


MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "_lec4_guard",
           "_lec4_call")
