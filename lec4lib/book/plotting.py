"""One plotting style for every figure of the book.

Chapters call :func:`new_figure` instead of ``plt.subplots`` so that every plot has the
same size, fonts, colours and grid.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

__all__ = ["STYLE", "COLORS", "use_style", "new_figure", "glue_figure"]

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


def use_style() -> None:
    """Apply the book's matplotlib style globally (idempotent)."""
    mpl.rcParams.update(STYLE)


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
    if nrows < 1 or ncols < 1:
        raise ValueError(f"nrows and ncols must be >= 1, got {nrows} and {ncols}")
    use_style()
    w0, h0 = STYLE["figure.figsize"]
    width = width if width is not None else w0 * (1 if ncols == 1 else 0.75 * ncols)
    height = height if height is not None else h0 * (1 if nrows == 1 else 0.8 * nrows)
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)


def glue_figure(name: str, fig) -> None:
    """Glue ``fig`` under ``name`` for ``{glue:figure}`` and close it.

    Closing matters: an open figure is also displayed at the end of the cell, so the
    page would show it twice. Without MyST-NB (a chapter run on Colab from a plain
    install of lec4lib, see :mod:`lec4lib.book.glue`) no ``{glue:figure}`` can show the
    figure, so it is displayed here, once, instead.
    """
    from .glue import glue, myst_nb_available

    glue(name, fig, display=not myst_nb_available())
    plt.close(fig)
