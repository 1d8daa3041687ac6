"""One plotting style for every figure of the book.

Chapters call :func:`new_figure` instead of ``plt.subplots`` so that every plot has the
same size, fonts, colours (each paired with its own dash) and grid, and :func:`glue_figure` when the figure is done.

The style is matplotlib's process-wide ``rcParams`` (line widths, fonts and legends are
read from them while the figure is drawn, not only when it is created), so it is applied
for as long as a book figure is open and no longer: the first :func:`new_figure` saves
the caller's ``rcParams`` and applies :data:`STYLE`, and the :func:`glue_figure` that closes
the last open book figure restores them. :func:`book_style` is the same as a context
manager, for code that draws with plain ``plt``.
"""

from __future__ import annotations

import contextlib
import re

import matplotlib as mpl
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
from matplotlib.text import Text

from ..validation import check_int

__all__ = ["STYLE", "COLORS", "LINESTYLES", "MAX_CURVES", "book_style", "new_figure", "figure_problems",
           "glue_figure"]

#: Colour cycle: Okabe & Ito's colour-blind-safe palette (Okabe and Ito, "Color Universal
#: Design", 2008), without its yellow (#F0E442), which is too light on white.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

#: Dash patterns, one per colour of :data:`COLORS` (same order), so that no two lines of the
#: cycle differ by colour alone: a reader who cannot tell the colours apart, or a grey
#: print, still can by the dash. Matplotlib's named styles first, so that a chapter's
#: explicit ``"--"`` is the same pattern as the cycle's (and :func:`figure_problems` sees a
#: clash); then patterns (offset, (on, off, ...)) in line widths.
LINESTYLES = [
    "-",                                  # solid
    "--",                                 # dashed
    ":",                                  # dotted
    "-.",                                 # dash-dot
    (0, (10, 3)),                         # long dash
    (0, (6, 2, 1.5, 2, 1.5, 2)),          # dash-dot-dot
    (0, (6, 2, 6, 2, 1.5, 2)),            # dash-dash-dot
]

#: Most curves (lines of more than two points) one panel may hold: more are unreadable;
#: use small multiples (more panels, stacked) instead.
MAX_CURVES = 4

STYLE = {
    # 5.6 in at 160 dpi is 896 px: shown at the text column's width (about 690 px on a
    # laptop) an 11 pt label is about 19 px tall, and still about 9 px on a phone.
    "figure.figsize": (5.6, 3.5),
    "figure.dpi": 160,
    "savefig.dpi": 160,
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=COLORS, linestyle=LINESTYLES),
    "legend.frameon": False,
    "lines.linewidth": 1.6,
}


#: figures made by new_figure and not yet glued; the caller's rcParams while any is open
_open_figures: set[int] = set()
_saved_rc: dict | None = None


def _enter_style() -> None:
    global _saved_rc
    if _saved_rc is None:
        _saved_rc = mpl.rcParams.copy()
        mpl.rcParams.update(STYLE)


def _leave_style() -> None:
    global _saved_rc
    if _saved_rc is not None and not _open_figures:
        saved, _saved_rc = _saved_rc, None
        with contextlib.suppress(Exception):   # a backend switch restores what it can
            mpl.rcParams.update(saved)


@contextlib.contextmanager
def book_style():
    """Draw in the book's style inside the block; the previous ``rcParams`` come back after.

    Examples
    --------
    >>> before = mpl.rcParams["lines.linewidth"]
    >>> with book_style():
    ...     mpl.rcParams["lines.linewidth"] == STYLE["lines.linewidth"]
    True
    >>> mpl.rcParams["lines.linewidth"] == before
    True
    """
    with mpl.rc_context(STYLE):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float | None = None,
               height: float | None = None, **kwargs):
    """Create a figure in the book's style.

    Parameters
    ----------
    nrows, ncols : int
        Grid of axes, as in :func:`matplotlib.pyplot.subplots`. Panels are stacked: ``ncols``
        must be 1, because side-by-side panels shrink to unreadable on a phone (the page
        shows one image, scaled to the column).
    width, height : float, optional
        Figure size in inches; defaults scale the style's size with the grid.
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots`.

    Returns
    -------
    fig, ax
        As :func:`matplotlib.pyplot.subplots` returns them.
    """
    nrows, ncols = check_int("nrows", nrows), check_int("ncols", ncols, 1, 1)
    w0, h0 = STYLE["figure.figsize"]
    width = width if width is not None else w0
    height = height if height is not None else h0 * (1 if nrows == 1 else 0.8 * nrows)
    kwargs.setdefault("layout", "constrained")
    _enter_style()
    try:
        fig, ax = plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)
    except BaseException:
        _leave_style()
        raise
    _open_figures.add(id(fig))
    return fig, ax


_MATH = re.compile(r"(?<!\\)\$.*?(?<!\\)\$")


def _look(line) -> tuple:
    """(dash pattern or None when no line is drawn, (marker, fill style, hollow) or None):
    what a reader without colour tells a curve by."""
    dashes = None
    if line.get_linestyle() not in ("None", " ", ""):
        # the dash pattern itself, in line widths: get_linestyle() says "--" for every
        # custom pattern, so it cannot tell (5, 2) from (1, 1.5)
        offset, seq = line._unscaled_dash_pattern
        dashes = (float(offset), tuple(float(x) for x in seq) if seq else None)
    marker = line.get_marker()
    mark = None
    if marker not in ("None", "none", " ", "", None):
        hollow = str(line.get_markerfacecolor()).lower() == "none"   # open vs filled
        mark = (str(marker), line.get_fillstyle(), hollow)
    return dashes, mark


def _describe(look: tuple) -> str:
    dashes, mark = look
    line = "no line" if dashes is None else ("solid" if dashes[1] is None else f"dashes {dashes[1]}")
    return line + ("" if mark is None else f", marker {mark[0]!r}")


def figure_problems(fig) -> list[str]:
    """What makes ``fig`` hard to read, one line each (empty when nothing does).

    * text (titles, axis labels, legend entries, annotations, tick labels) with a raw
      ``^`` or ``_`` outside ``$...$``: ``beta^k`` must be mathtext, ``$\\beta^k$``;
    * a panel with more than :data:`MAX_CURVES` curves (lines of more than two points;
      two-point lines such as ``axhline`` are references, not curves);
    * a panel with two curves of different colours that share their dash pattern and
      their marker: only the colour tells them apart (give each its own ``linestyle`` or
      ``marker``; the style's colour cycle pairs each colour with its own dash).
    """
    found = []
    for text in fig.findobj(Text):
        raw = _MATH.sub("", text.get_text())
        if text.get_visible() and ("^" in raw or "_" in raw):
            found.append(f"text {text.get_text()!r} has a raw ^ or _ (write it as mathtext, $...$)")
    for i, ax in enumerate(fig.axes):
        curves = [ln for ln in ax.get_lines() if ln.get_visible() and len(ln.get_xdata()) > 2]
        if len(curves) > MAX_CURVES:
            found.append(f"panel {i} has {len(curves)} curves (at most {MAX_CURVES}: split it "
                         "into stacked panels)")
        by_look: dict[tuple, list] = {}
        for ln in curves:
            by_look.setdefault(_look(ln), []).append(ln)
        for look, lines in by_look.items():
            colours = {mcolors.to_hex(ln.get_color()) for ln in lines}
            if look != (None, None) and len(colours) > 1:
                names = [ln.get_label() for ln in lines]
                found.append(f"panel {i}: curves {names} differ by colour alone ({_describe(look)} "
                             "each): give each its own linestyle or marker")
    return found


def glue_figure(name: str, fig) -> None:
    """Glue ``fig`` under ``name`` for ``{glue:figure}`` and close it.

    Closing matters: an open figure is also displayed at the end of the cell, so the
    page would show it twice. Without MyST-NB (a chapter run on Colab from a plain
    install of lec4lib, see :mod:`lec4lib.book.glue`) no ``{glue:figure}`` can show the
    figure, so it is displayed here, once, instead. When no other book figure is open,
    the caller's ``rcParams`` are restored (see the module's note on the style).

    Raises
    ------
    ValueError
        When :func:`figure_problems` finds anything (the figure is closed all the same), so
        a hard-to-read figure fails the book build.
    """
    from .glue import glue, myst_nb_available

    try:
        problems = figure_problems(fig)
        if problems:
            raise ValueError(f"figure {name!r} is hard to read: " + "; ".join(problems))
        glue(name, fig, display=not myst_nb_available())
    finally:
        plt.close(fig)
        _open_figures.discard(id(fig))
        _leave_style()
