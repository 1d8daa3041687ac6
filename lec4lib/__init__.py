"""lec4lib: the reference library behind the lec4 course companion.

Every number shown in the book is computed by a function of this package, and a
test in ``tests/claims`` calls the same function and asserts the result.
"""

__version__ = "0.1.0"
