"""Load timm's ``Lars`` and ``Lamb`` (the reference implementations) without ``import timm``.

timm is a test-only dependency of lec4 (the ``test`` extra). Installing it pulls
torchvision, and the torchvision wheel on PyPI does not import beside the CPU build of
torch that lec4 pins ("operator torchvision::nms does not exist"), so ``import timm``
fails. ``timm/optim/lars.py`` and ``timm/optim/lamb.py`` need only torch: registering
bare package modules for ``timm`` and ``timm.optim`` (with ``__path__`` pointing at the
installed folders) lets Python import those two files while skipping timm's
``__init__``. Where ``import timm`` works, the same modules are returned.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

__all__ = ["load_timm_optimizers"]


def load_timm_optimizers():
    """Return timm's ``(Lars, Lamb)`` optimizer classes.

    Returns
    -------
    Lars, Lamb : type
        ``timm.optim.lars.Lars`` and ``timm.optim.lamb.Lamb``.

    Raises
    ------
    ImportError
        If timm is not installed (``pip install -c constraints.txt -e ".[test]"``).

    Examples
    --------
    >>> Lars, Lamb = load_timm_optimizers()   # doctest: +SKIP
    """
    if "timm.optim.lars" in sys.modules and "timm.optim.lamb" in sys.modules:
        return sys.modules["timm.optim.lars"].Lars, sys.modules["timm.optim.lamb"].Lamb
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("timm is not installed; it is in lec4's 'test' extra: "
                          "pip install -c constraints.txt -e '.[test]'")
    root = list(spec.submodule_search_locations)[0]
    if "timm" not in sys.modules:
        pkg = types.ModuleType("timm")
        pkg.__path__ = [root]
        sys.modules["timm"] = pkg
    if "timm.optim" not in sys.modules:
        sub = types.ModuleType("timm.optim")
        sub.__path__ = [f"{root}/optim"]
        sys.modules["timm.optim"] = sub
    lars = importlib.import_module("timm.optim.lars")
    lamb = importlib.import_module("timm.optim.lamb")
    return lars.Lars, lamb.Lamb
