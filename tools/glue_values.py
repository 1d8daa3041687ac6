"""Dump every glued value of a built site as JSON, or compare two such dumps.

MyST-NB stores what a chapter glues in ``<build>/jupyter_execute/<page>.glue.json``
(one output per name, as the kernel displayed it). This script gathers them into one
JSON document ``{page: {name: {mime type: value}}}``:

- text outputs (``text/plain``, ``text/markdown``, ``text/html``, ...) verbatim, so a
  number is compared through its repr, bit for bit;
- binary outputs (``image/png``, ...) as ``"sha256:<hex>"`` of the decoded bytes.

Usage::

    python tools/glue_values.py dump [--build _build] [-o glue.json]
    python tools/glue_values.py compare BEFORE.json AFTER.json

``compare`` prints every page or name present in only one dump and every value that
differs, and exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

BINARY_PREFIXES = ("image/", "application/pdf")


def _value(data: dict) -> dict:
    out = {}
    for mime, payload in sorted(data.items()):
        if mime.startswith(BINARY_PREFIXES) and not mime.endswith("+xml"):
            raw = base64.b64decode("".join(payload) if isinstance(payload, list) else payload)
            out[mime] = "sha256:" + hashlib.sha256(raw).hexdigest()
        else:
            out[mime] = "".join(payload) if isinstance(payload, list) else payload
    return out


def collect(build: Path) -> dict:
    """``{page: {name: {mime: value}}}`` for every ``*.glue.json`` under ``build``."""
    root = build / "jupyter_execute"
    if not root.is_dir():
        raise FileNotFoundError(f"no executed notebooks under {root}: build the book first")
    pages = {}
    for f in sorted(root.rglob("*.glue.json")):
        page = f.relative_to(root).as_posix()[: -len(".glue.json")]
        glued = json.loads(f.read_text())
        pages[page] = {name: _value(out.get("data", {})) for name, out in sorted(glued.items())}
    return pages


def compare(before: dict, after: dict) -> list[str]:
    """One line per difference between two dumps (empty when identical)."""
    lines = []
    for page in sorted(set(before) | set(after)):
        if page not in after:
            lines.append(f"{page}: page only in before")
            continue
        if page not in before:
            lines.append(f"{page}: page only in after")
            continue
        b, a = before[page], after[page]
        for name in sorted(set(b) | set(a)):
            if name not in a:
                lines.append(f"{page}:{name}: only in before")
            elif name not in b:
                lines.append(f"{page}:{name}: only in after")
            elif a[name] != b[name]:
                for mime in sorted(set(a[name]) | set(b[name])):
                    vb, va = b[name].get(mime), a[name].get(mime)
                    if vb != va:
                        lines.append(f"{page}:{name} [{mime}]: {str(vb)[:120]!r} -> {str(va)[:120]!r}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="write the glued values of a built site as JSON")
    d.add_argument("--build", type=Path, default=Path("_build"), help="the build folder (default: _build)")
    d.add_argument("-o", "--output", type=Path, default=None, help="output file (default: stdout)")
    c = sub.add_parser("compare", help="list the differences between two dumps")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "dump":
        pages = collect(args.build)
        text = json.dumps(pages, indent=1, sort_keys=True) + "\n"
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text)
        n = sum(len(v) for v in pages.values())
        print(f"[glue_values] {n} glued values from {len(pages)} pages", file=sys.stderr)
        return 0
    before = json.loads(args.before.read_text())
    after = json.loads(args.after.read_text())
    lines = compare(before, after)
    n = sum(len(v) for v in before.values())
    for line in lines:
        print(line)
    print(f"[glue_values] {n} values before, {sum(len(v) for v in after.values())} after, "
          f"{len(lines)} differences", file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
