"""Keep every MyST notebook of the book paired with a committed, output-free .ipynb.

The MyST Markdown file (``chapters/NN-topic.md``) is the source; the ``.ipynb`` beside
it is generated from it so that the Binder and Colab buttons open a real notebook. The
generated notebook gets one extra first cell that installs lec4lib from the repository
when it runs on Colab (where only the notebook is present); the repository URL and branch
are read from ``_config.yml`` (the one place they are set).

Usage::

    python tools/notebooks.py sync     # (re)write every .ipynb from its .md
    python tools/notebooks.py check    # exit 1 and list the pairs that are out of sync
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

# jupytext and nbformat are imported where they are used: importing jupytext takes 1.5-2 s
# (it brings jupyter_server), and tools/build_book.py, which only needs toc_documents, imports
# this module before it starts its kernel zygote

ROOT = Path(__file__).resolve().parents[1]
COLAB_TAG = "colab-install"


def is_myst_notebook(md: Path) -> bool:
    """A Markdown file with a jupytext ``format_name: myst`` header: the build executes it."""
    text = md.read_text("utf-8") if md.exists() else ""
    return text.startswith("---") and "format_name: myst" in text.split("\n---", 1)[0]


def notebook_sources(root: Path = ROOT) -> list[Path]:
    """Every MyST notebook of the book (Markdown files with a jupytext ``myst`` header)."""
    return [md for md in sorted((root / "chapters").glob("*.md")) if is_myst_notebook(md)]


def toc_documents(root: Path = ROOT) -> list[str]:
    """Every document named in ``_toc.yml`` (root, parts, chapters, sections) in reading
    order, without suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text("utf-8"))
    docs = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                docs.append(node["file"])
            for key, value in node.items():
                if key != "file":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [d.removesuffix(".md").removesuffix(".ipynb") for d in docs]


def repository(root: Path = ROOT) -> tuple[str, str]:
    """The repository URL and branch set in ``_config.yml``."""
    cfg = yaml.safe_load((root / "_config.yml").read_text("utf-8"))
    repo = cfg["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "master")


def colab_cell(root: Path = ROOT) -> nbformat.NotebookNode:
    import nbformat

    url, branch = repository(root)
    source = (
        "# On Colab only the notebook is present: install lec4lib from the repository.\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    %pip install -q \"lec4lib @ git+{url}@{branch}\"\n"
        # %pip reports a failed install but does not raise: stop here, not at the next cell
        "    import lec4lib  # stops here if the install failed (pip's message is above)\n"
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [COLAB_TAG, "remove-cell"]
    cell.pop("id", None)
    return cell


def render(md: Path, root: Path = ROOT) -> str:
    """The .ipynb text generated from one MyST notebook (no outputs, stable cell ids)."""
    import jupytext
    import nbformat

    nb = jupytext.read(md)
    nb.metadata.pop("jupytext", None)
    nb.cells.insert(0, colab_cell(root))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nbformat.writes(nb) + "\n"


def out_of_sync(root: Path = ROOT) -> list[str]:
    """Pairs whose committed .ipynb differs from what ``render`` makes, plus orphans."""
    bad = []
    sources = notebook_sources(root)
    for md in sources:
        ipynb = md.with_suffix(".ipynb")
        if not ipynb.exists():
            bad.append(f"{ipynb.relative_to(root)}: missing")
        elif ipynb.read_text("utf-8") != render(md, root):
            bad.append(f"{ipynb.relative_to(root)}: differs from {md.name}")
    for ipynb in sorted((root / "chapters").glob("*.ipynb")):
        if ipynb.with_suffix(".md") not in sources:
            bad.append(f"{ipynb.relative_to(root)}: no MyST source beside it")
    return bad


def sync(root: Path = ROOT) -> list[Path]:
    written = []
    for md in notebook_sources(root):
        ipynb = md.with_suffix(".ipynb")
        text = render(md, root)
        if not ipynb.exists() or ipynb.read_text("utf-8") != text:
            ipynb.write_text(text, "utf-8")
            written.append(ipynb)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["sync", "check"])
    args = p.parse_args(argv)
    if args.command == "sync":
        for path in sync():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    bad = out_of_sync()
    for line in bad:
        print(line, file=sys.stderr)
    if bad:
        print("run `make sync` to regenerate the .ipynb copies", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
