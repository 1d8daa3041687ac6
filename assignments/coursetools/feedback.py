"""What the feedback nbgrader returns may show, and how it is written.

nbgrader's feedback shows each test cell as autograding ran it: hidden tests included,
and tracebacks that quote them (nbgrader issues #917 and #1363). :class:`HideHiddenTests`
removes the hidden region from every test cell and replaces a test cell's outputs by
one line: passed, or failed with the exception's name only. :class:`LimitOutputLength` cuts
huge outputs. :class:`FeedbackHTMLExporter` writes the HTML, compiling its templates once a
process rather than once a student.
"""

from __future__ import annotations

import jinja2
from nbconvert.exporters import HTMLExporter
from traitlets import Unicode

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from .skeleton import PRELUDE_MARK


class HideHiddenTests(NbGraderPreprocessor):  # enabled by default, unlike nbconvert's
    """Strip hidden tests and test-cell tracebacks from autograded notebooks."""

    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)

    def _strip(self, source: str) -> str:
        kept, inside = [], False
        for line in source.splitlines():
            if self.begin in line:
                inside = True
                kept.append("# (hidden tests are not shown)")
                continue
            if self.end in line:
                inside = False
                continue
            if not inside:
                kept.append(line)
        return "\n".join(kept)

    def preprocess(self, nb, resources):
        # the grader's prelude (trusted set-up code) is not the student's business
        nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and c.source.startswith(PRELUDE_MARK))]
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            cell.source = self._strip(cell.source)
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                text = (f"These tests failed ({errors[0].get('ename', 'error')}). "
                        "Run the visible tests above in your notebook to see why; "
                        "hidden tests are not shown.\n")
            else:
                text = "These tests passed.\n"
            cell.outputs = [{"output_type": "stream", "name": "stdout", "text": text}]
        return cell, resources


class LimitOutputLength(NbGraderPreprocessor):
    """Cut every text output to at most ``max_chars`` characters.

    nbgrader's ``LimitOutput`` counts lines, so one enormous line (``print('x' * 10**7)``)
    would still reach the gradebook and the feedback whole.
    """

    from traitlets import Integer as _Integer

    max_chars = _Integer(20_000).tag(config=True)

    def _cut(self, text):
        if isinstance(text, list):
            text = "".join(text)
        if len(text) <= self.max_chars:
            return text
        return text[: self.max_chars] + f"\n... [output cut: {len(text) - self.max_chars} more characters]\n"

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = self._cut(out["text"])
            for mime, value in list(out.get("data", {}).items()):
                if mime.startswith("text/") and isinstance(value, (str, list)):
                    out["data"][mime] = self._cut(value)
        return cell, resources


class _TemplateBytecode(jinja2.BytecodeCache):
    """Compiled Jinja templates kept in memory for the life of the process. Jinja checks
    each entry against a checksum of the template's source, so an edited template is
    compiled again."""

    def __init__(self):
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self._store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _TemplateBytecode()


class FeedbackHTMLExporter(HTMLExporter):
    """nbconvert's ``HTMLExporter``, sharing compiled templates between instances.

    nbgrader makes a new exporter for every student's feedback, and compiling the HTML
    templates anew took about a quarter of a second each time; the output is unchanged."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _BYTECODE
        return environment
