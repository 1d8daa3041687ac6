"""Every MyST chapter has a committed, output-free .ipynb copy that matches it."""

import json

import notebooks
import pytest
import yaml

from tests.conftest import ROOT


def test_every_chapter_notebook_is_paired_and_in_sync():
    assert notebooks.notebook_sources(), "no MyST notebooks found in chapters/"
    assert notebooks.out_of_sync() == []


def test_check_detects_an_edited_source(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    src = (ROOT / "chapters" / "00-intro.md").read_text()
    md = tmp_path / "chapters" / "00-intro.md"
    md.write_text(src)
    notebooks.sync(tmp_path)
    assert notebooks.out_of_sync(tmp_path) == []
    md.write_text(src.replace("A first computation", "A first computation, edited"))
    assert notebooks.out_of_sync(tmp_path) == ["chapters/00-intro.ipynb: differs from 00-intro.md"]
    (tmp_path / "chapters" / "orphan.ipynb").write_text("{}")
    assert "chapters/orphan.ipynb: no MyST source beside it" in notebooks.out_of_sync(tmp_path)


@pytest.mark.parametrize("md", notebooks.notebook_sources(), ids=lambda p: p.name)
def test_ipynb_has_no_outputs_and_starts_with_colab_install(md):
    nb = json.loads(md.with_suffix(".ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    first = nb["cells"][0]
    assert notebooks.COLAB_TAG in first["metadata"]["tags"]
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert "google.colab" in "".join(first["source"])
    assert f"git+{url}" in "".join(first["source"])


def test_ipynb_copies_are_excluded_from_the_sphinx_build():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "**.ipynb" in cfg["exclude_patterns"]
