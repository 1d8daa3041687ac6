"""Accessibility fixes to the HTML of the theme and of MyST-NB (``sphinx.local_extensions``).

tests/site/test_accessibility.py runs axe-core on every page of the built site; what it
found that no configuration value fixes is fixed here or in ``_templates/`` (templates of
the theme and of Sphinx overridden through ``templates_path``, which is searched first):

* **Collapsed code cells are named by what they show.** MyST-NB writes the summary of a
  ``hide-input`` cell with ``aria-label="Toggle hidden content"``, a name that does not
  contain the prompt the reader sees ("Show code cell source"): WCAG 2.5.3 (axe's
  ``label-content-name-mismatch``). :func:`visit_hidden_input` writes the same HTML without
  the label, so the summary is named by its visible prompt.
* ``_templates/search-button-field.html`` and ``_templates/theme-switcher.html``: the same
  rule for the theme's search button (its label left out the visible "Ctrl+K") and colour
  mode button (its icons' titles were visible names the label did not contain).
* ``_templates/domainindex.html``: the module index's toggle images get a real alt (Sphinx
  writes ``alt="-"``).
"""

from __future__ import annotations

from html import escape


def visit_hidden_input(self, node):
    """``myst_nb.sphinx_.visit_HideCellInput`` without the summary's ``aria-label``."""
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def _override_hidden_input(app):
    # at builder-inited every extension's setup has run: this replaces MyST-NB's visitor
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput

    app.add_node(HideCodeCellNode, override=True, html=(visit_hidden_input, depart_HideCellInput))


def setup(app):
    app.connect("builder-inited", _override_hidden_input)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
