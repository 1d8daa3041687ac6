"""One plotting style for every figure of the book.

Chapters call :func:`new_figure` instead of ``plt.subplots`` so that every plot has the
same size, fonts, colours and grid, and :func:`glue_figure` when the figure is done.

The style is matplotlib's process-wide ``rcParams`` (line widths, fonts and legends are
read from them while the figure is drawn, not only when it is created), so it is applied
for as long as a book figure is open and no longer: the first :func:`new_figure` saves
the caller's ``rcParams`` and applies :data:`STYLE`, and the :func:`glue_figure` that closes
the last open book figure restores them. :func:`book_style` is the same as a context
manager, for code that draws with plain ``plt``.
"""

from __future__ import annotations

import contextlib

import matplotlib as mpl
import matplotlib.pyplot as plt

from ..validation import check_int

__all__ = ["STYLE", "COLORS", "book_style", "new_figure", "glue_figure"]

#: Colour cycle (colour-blind friendly, Okabe–Ito).
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
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
        Grid of axes, as in :func:`matplotlib.pyplot.subplots`.
    width, height : float, optional
        Figure size in inches; defaults scale the style's size with the grid.
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots`.

    Returns
    -------
    fig, ax
        As :func:`matplotlib.pyplot.subplots` returns them.
    """
    nrows, ncols = check_int("nrows", nrows), check_int("ncols", ncols)
    w0, h0 = STYLE["figure.figsize"]
    width = width if width is not None else w0 * (1 if ncols == 1 else 0.75 * ncols)
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


def glue_figure(name: str, fig) -> None:
    """Glue ``fig`` under ``name`` for ``{glue:figure}`` and close it.

    Closing matters: an open figure is also displayed at the end of the cell, so the
    page would show it twice. Without MyST-NB (a chapter run on Colab from a plain
    install of lec4lib, see :mod:`lec4lib.book.glue`) no ``{glue:figure}`` can show the
    figure, so it is displayed here, once, instead. When no other book figure is open,
    the caller's ``rcParams`` are restored (see the module's note on the style).
    """
    from .glue import glue, myst_nb_available

    try:
        glue(name, fig, display=not myst_nb_available())
    finally:
        plt.close(fig)
        _open_figures.discard(id(fig))
        _leave_style()
