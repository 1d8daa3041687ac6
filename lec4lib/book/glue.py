"""Book plumbing: the one way a chapter glues a value into its page.

In the book build, :func:`glue` is MyST-NB's ``glue``: the value is stored in the cell's
output and the page shows it where the prose says ``{glue:text}`name``` or
``{glue:figure}`name```. A chapter opened on Colab runs from a plain ``pip install`` of
lec4lib, without MyST-NB (it would pull Sphinx for nothing: Colab does not render glue
roles). There :func:`glue` degrades to plain display: ``display=True`` shows the value,
``display=False`` shows nothing. :func:`lec4lib.book.plotting.glue_figure` then shows the
figure in place, since no ``{glue:figure}`` will.

Only a *missing* MyST-NB degrades; a MyST-NB that is installed but fails to import
raises, so a broken book environment cannot pass for a Colab one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["glue", "glue_values", "myst_nb_available"]


def _myst_nb_glue():
    """MyST-NB's ``glue``, or None when MyST-NB is not installed."""
    try:
        from myst_nb import glue as myst_glue
    except ModuleNotFoundError as err:
        if err.name != "myst_nb":   # MyST-NB is there but one of its imports is missing
            raise
        return None
    return myst_glue


def myst_nb_available() -> bool:
    """Whether MyST-NB imports here, i.e. whether :func:`glue` stores values for the book."""
    return _myst_nb_glue() is not None


def glue(name: str, value, display: bool = True) -> None:
    """Glue ``value`` under ``name`` for the page's ``{glue:...}`` roles and directives.

    Parameters
    ----------
    name : str
        The key the page refers to.
    value : object
        Anything IPython can display (a number, a string, a figure, a Markdown object),
        except a boolean (``ValueError``): "(all below: True)" is no sentence.
    display : bool
        Also show the value in the cell's output. Without MyST-NB this is all that
        happens: the value is shown when True and nothing is shown when False.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"glue {name!r}: a boolean reads as 'True' or 'False' in a sentence; "
                         "state the fact in words and assert it in the cell")
    myst_glue = _myst_nb_glue()
    if myst_glue is not None:
        myst_glue(name, value, display=display)
        return
    if display:
        try:
            from IPython.display import display as ipython_display
        except ModuleNotFoundError:   # a plain Python process, no IPython
            print(value)
        else:
            ipython_display(value)


def glue_values(values) -> None:
    """Glue every ``name: value`` of a mapping, none of them displayed.

    A chapter computes in a visible cell and glues in the hidden cell after it (tagged
    ``remove-cell``), in one call: ``glue_values({"name": value, ...})``. Same as
    ``glue(name, value, display=False)`` for each item, in order.

    Examples
    --------
    >>> glue_values({"answer": 42})      # without MyST-NB nothing is shown
    >>> glue_values([("answer", 42)])
    Traceback (most recent call last):
    ...
    ValueError: glue_values takes a mapping name -> value, got list
    """
    if not hasattr(values, "items"):
        raise ValueError(f"glue_values takes a mapping name -> value, got {type(values).__name__}")
    for name, value in values.items():
        glue(name, value, display=False)
