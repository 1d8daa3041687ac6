"""lec4lib.book.glue: MyST-NB's glue in the book, plain display where MyST-NB is missing."""

from __future__ import annotations

import re
import sys
import types

import IPython.display
import matplotlib.pyplot as plt
import myst_nb.ext.glue
import pytest

from lec4lib.book import glue as book
from lec4lib.book.plotting import glue_figure, new_figure
from tests.conftest import ROOT


@pytest.fixture
def shown(monkeypatch):
    """Everything lec4lib's fallback passes to IPython's display."""
    calls = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: calls.append((a, k)))
    return calls


@pytest.fixture
def glued(monkeypatch):
    """Every bundle MyST-NB's glue displays (with its metadata)."""
    calls = []
    monkeypatch.setattr(myst_nb.ext.glue, "ipy_display",
                        lambda bundle, raw, metadata: calls.append((bundle, metadata)))
    return calls


@pytest.fixture
def no_myst_nb(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)   # `import myst_nb` now fails


def test_with_myst_nb_glue_stores_the_value_for_the_page(glued, shown):
    assert book.myst_nb_available()
    book.glue("hidden", 0.25, display=False)
    book.glue("visible", 3, display=True)
    (hidden, meta_h), (visible, meta_v) = glued
    # display=False: only the glue-prefixed mime types, which a front end does not show
    assert list(hidden) == ["application/papermill.record/text/plain"]
    assert hidden["application/papermill.record/text/plain"] == "0.25"
    assert meta_h["scrapbook"]["name"] == "hidden"
    assert visible["text/plain"] == "3" and meta_v["scrapbook"]["name"] == "visible"
    assert shown == []   # nothing went around MyST-NB


def test_without_myst_nb_display_true_shows_the_value_and_false_shows_nothing(no_myst_nb, shown):
    assert not book.myst_nb_available()
    book.glue("hidden", 0.25, display=False)
    assert shown == []
    book.glue("visible", 0.5, display=True)
    assert shown == [((0.5,), {})]


def test_without_myst_nb_and_ipython_display_true_prints(no_myst_nb, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    book.glue("visible", 0.5)
    book.glue("hidden", 0.75, display=False)
    assert capsys.readouterr().out == "0.5\n"


def test_glue_figure_with_myst_nb_glues_hidden_and_closes(glued, shown):
    fig, ax = new_figure()
    ax.plot([0, 1], [1, 0])
    glue_figure("fig_a", fig)
    assert not plt.fignum_exists(fig.number)
    ((bundle, meta),) = glued
    assert meta["scrapbook"]["name"] == "fig_a"
    # hidden: every mime type prefixed (outside a kernel only text/plain is formatted)
    assert bundle and all(k.startswith("application/papermill.record/") for k in bundle)
    assert shown == []


def test_glue_figure_without_myst_nb_shows_the_figure_once_and_closes(no_myst_nb, shown):
    fig, ax = new_figure()
    ax.plot([0, 1], [1, 0])
    glue_figure("fig_b", fig)
    assert shown == [((fig,), {})]
    assert not plt.fignum_exists(fig.number)


def test_a_broken_myst_nb_is_an_error_not_a_fallback(monkeypatch):
    broken = types.ModuleType("myst_nb")

    def missing_dependency(attr):
        raise ModuleNotFoundError("No module named 'sphinx'", name="sphinx")

    broken.__getattr__ = missing_dependency
    monkeypatch.setitem(sys.modules, "myst_nb", broken)
    with pytest.raises(ModuleNotFoundError, match="sphinx"):
        book.glue("x", 1, display=False)


def test_name_must_be_a_non_empty_string():
    with pytest.raises(ValueError, match="name"):
        book.glue("", 1)
    with pytest.raises(ValueError, match="name"):
        book.glue(None, 1)


def test_every_chapter_glues_through_lec4lib():
    chapters = sorted((ROOT / "chapters").glob("*.md"))
    users = [md for md in chapters if re.search(r"\bglue(_values)?\(", md.read_text("utf-8"))]
    assert len(users) >= 10
    for md in chapters:
        text = md.read_text("utf-8")
        assert "import myst_nb" not in text and "from myst_nb" not in text, md.name
    for md in users:
        assert re.search(r"^from lec4lib\.book\.glue import (glue|glue_values|glue, glue_values)$",
                         md.read_text("utf-8"), re.M), md.name


def test_glue_values_glues_each_item_hidden_in_order(glued, shown):
    book.glue_values({"first": 1.5, "second": "two"})
    assert [m["scrapbook"]["name"] for _, m in glued] == ["first", "second"]
    assert [list(b) for b, _ in glued] == [["application/papermill.record/text/plain"]] * 2
    assert glued[0][0]["application/papermill.record/text/plain"] == "1.5"
    assert shown == []


def test_glue_values_without_myst_nb_shows_nothing(no_myst_nb, shown):
    book.glue_values({"a": 1, "b": 2})
    assert shown == []


@pytest.mark.parametrize("bad", [[("a", 1)], "ab", None])
def test_glue_values_rejects_what_is_not_a_mapping(bad):
    with pytest.raises(ValueError, match="mapping"):
        book.glue_values(bad)


def test_the_book_style_holds_while_a_figure_is_open_and_is_restored_after(glued, monkeypatch):
    import matplotlib as mpl

    from lec4lib.book import plotting
    monkeypatch.setitem(mpl.rcParams, "lines.linewidth", 0.7)
    monkeypatch.setitem(mpl.rcParams, "legend.frameon", True)
    before = mpl.rcParams.copy()
    fig, ax = new_figure()
    fig2, ax2 = new_figure(2, 1)
    line, = ax.plot([0, 1], [0, 1])            # drawn after new_figure returned: still styled
    assert line.get_linewidth() == plotting.STYLE["lines.linewidth"] != 0.7
    assert mpl.rcParams["legend.frameon"] is False
    glue_figure("first", fig)
    # another book figure is still open: the style stays until it is glued too
    assert mpl.rcParams["lines.linewidth"] == plotting.STYLE["lines.linewidth"]
    glue_figure("second", fig2)
    assert dict(mpl.rcParams) == dict(before)
    assert mpl.rcParams["lines.linewidth"] == 0.7


def test_book_style_context_restores_even_on_error():
    import matplotlib as mpl

    from lec4lib.book.plotting import STYLE, book_style
    before = mpl.rcParams["font.size"]
    with pytest.raises(RuntimeError):
        with book_style():
            assert mpl.rcParams["axes.grid"] is STYLE["axes.grid"]
            raise RuntimeError
    assert mpl.rcParams["font.size"] == before


def test_figures_are_stacked_and_drawn_at_a_readable_resolution():
    from lec4lib.book.plotting import COLORS, STYLE

    with pytest.raises(ValueError, match="Invalid ncols: 2"):
        new_figure(1, 2)
    assert STYLE["savefig.dpi"] >= 150 and STYLE["figure.dpi"] >= 150
    assert "#F0E442" not in COLORS          # Okabe–Ito's yellow is too light on white


def test_hard_to_read_figures_fail_before_they_are_glued(monkeypatch):
    from lec4lib.book import plotting

    glued = []
    monkeypatch.setattr("lec4lib.book.glue.glue", lambda name, value, display=True: glued.append(name))
    fig, ax = new_figure()
    ax.set_xlabel("beta^k")
    ax.set_ylabel("$w_{EMA}$")              # mathtext: fine
    with pytest.raises(ValueError, match=r"'beta\^k' has a raw \^"):
        glue_figure("raw", fig)
    fig, ax = new_figure()
    ax.plot([0, 1, 2], [0, 1, 2], label="w_EMA")
    ax.legend()
    with pytest.raises(ValueError, match="'w_EMA' has a raw"):
        glue_figure("legend", fig)
    fig, ax = new_figure()
    for k in range(plotting.MAX_CURVES + 1):
        ax.plot([0, 1, 2], [k, k + 1, k])
    ax.axhline(0.5)                          # a two-point reference line is not a curve
    with pytest.raises(ValueError, match=f"panel 0 has {plotting.MAX_CURVES + 1} curves"):
        glue_figure("crowded", fig)
    fig, ax = new_figure()
    for k in range(plotting.MAX_CURVES):
        ax.plot([0, 1, 2], [k, k + 1, k], label=f"$\\eta_{k}$")
    ax.axhline(0.5)
    ax.set_xlabel(r"step $t$ (cost \$5)")
    glue_figure("fine", fig)
    assert glued == ["fine"] and plt.get_fignums() == []


def test_the_colour_cycle_gives_each_colour_its_own_dash():
    from lec4lib.book.plotting import COLORS

    fig, ax = new_figure()
    lines = [ax.plot([0, 1, 2], [k, k + 1, k])[0] for k in range(len(COLORS))]
    colours = [ln.get_color() for ln in lines]
    dashes = [ln._unscaled_dash_pattern for ln in lines]    # (offset, on-off sequence)
    plt.close(fig)
    assert colours == COLORS
    assert dashes[0] == (0, None)                # the first curve is solid
    assert len(set(dashes)) == len(COLORS)       # and no two share a dash pattern


def test_curves_told_apart_by_colour_alone_are_a_problem():
    from lec4lib.book.plotting import figure_problems

    x = [0, 1, 2, 3]
    fig, ax = new_figure()
    ax.plot(x, [0, 1, 2, 3], "-", color="#0072B2", label="GD")
    ax.plot(x, [1, 2, 3, 4], "-", color="#D55E00", label="SGD")
    ax.plot(x, [2, 3, 4, 5], color="#009E73", linestyle=(0, (5, 2)), label="a")
    ax.plot(x, [3, 4, 5, 6], color="#CC79A7", linestyle=(0, (1, 1.5)), label="b")
    found = figure_problems(fig)
    plt.close(fig)
    assert len(found) == 1 and "['GD', 'SGD'] differ by colour alone (solid each)" in found[0], found

    fig, (top, bottom) = new_figure(2, 1)
    top.plot(x, [0, 1, 2, 3], "o", color="#0072B2", label="exact")
    top.plot(x, [1, 2, 3, 4], "o", color="#D55E00", label="simulated")
    bottom.plot(x, [0, 1, 2, 3], "--", color="#0072B2")
    bottom.plot(x, [1, 2, 3, 4], "--", color="#D55E00")
    found = figure_problems(fig)
    plt.close(fig)
    assert [f.split(":")[0] for f in found] == ["panel 0", "panel 1"], found
    assert "no line, marker 'o'" in found[0]

    fig, ax = new_figure()
    ax.plot(x, [0, 1, 2, 3], color="#0072B2", label="a")   # the cycle's second dash is "--"
    ax.plot(x, [1, 2, 3, 4], color="#D55E00", label="b")
    ax.plot(x, [2, 3, 4, 5], "--", color="#009E73", label="c")
    found = figure_problems(fig)
    plt.close(fig)
    assert len(found) == 1 and "['b', 'c'] differ by colour alone" in found[0], found

    fig, ax = new_figure()
    ax.plot(x, [0, 1, 2, 3], "-o", color="#0072B2")        # same dash, different markers
    ax.plot(x, [1, 2, 3, 4], "-s", color="#D55E00")
    ax.plot(x, [5, 6, 7, 8], "o", color="#009E73")          # filled and hollow markers
    ax.plot(x, [6, 7, 8, 9], "o", color="#CC79A7", mfc="none")
    ax.plot(x, [2, 3, 4, 5], "-", color="0.6", alpha=0.5)  # one series drawn as two lines
    ax.plot(x, [3, 4, 5, 6], "-", color="0.6", alpha=0.5)
    ax.axhline(1, color="k")                                # two-point references
    ax.axvline(1, color="r")
    assert [f for f in figure_problems(fig) if "differ by colour" in f] == []
    plt.close(fig)


def test_a_boolean_is_never_glued_into_prose():
    import numpy as np

    for value in (True, np.bool_(False)):
        with pytest.raises(ValueError, match="boolean reads as"):
            book.glue("flag", value, display=False)
    with pytest.raises(ValueError, match="boolean reads as"):
        book.glue_values({"ok": 1, "flag": np.float64(2.0) > 1})
