"""The docstring examples of every lec4lib module run and give what they show."""

import doctest
import importlib
import pkgutil

import pytest

import lec4lib

MODULES = sorted(m.name for m in pkgutil.walk_packages(lec4lib.__path__, "lec4lib."))


def test_every_subpackage_is_found():
    assert {"lec4lib.optim", "lec4lib.problems", "lec4lib.theory", "lec4lib.nets",
            "lec4lib.studies", "lec4lib.book"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
