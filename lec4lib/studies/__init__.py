"""One module per chapter, ``chNN_topic``: the experiments that chapter runs, and nothing reusable.

A chapter and its claim test (``tests/claims/test_NN_topic.py``) call the same function with
the same seed. What more than one chapter needs lives in the core subpackages.
"""
