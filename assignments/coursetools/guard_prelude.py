# lec4 grader prelude: trusted code, run before any student code (coursetools.skeleton).
# It records pristine references to what the hidden tests rely on, in a module
# `_lec4_pristine` that the guard (coursetools/hidden_guard.py) compares identities against.
def _lec4_record_pristine():
    import builtins, math, sys, types
    import numpy, numpy.linalg, numpy.testing
    ref = types.ModuleType("_lec4_pristine")
    ref.numpy_module = numpy
    ref.numpy = {k: getattr(numpy, k) for k in ("allclose", "isclose", "array_equal", "asarray", "array", "exp", "log", "sqrt", "abs", "sum", "mean", "dot", "maximum", "logaddexp", "all", "any", "zeros", "zeros_like", "ones", "linspace", "sign", "einsum", "matmul", "where")}
    ref.numpy_linalg_norm = numpy.linalg.norm
    ref.numpy_assert_allclose = numpy.testing.assert_allclose
    ref.math_isclose = math.isclose
    ref.builtins = {k: getattr(builtins, k) for k in ("abs", "len", "isinstance", "float", "int", "range", "min", "max", "sum", "all", "any", "zip", "print", "repr", "type", "callable", "hasattr", "getattr", "__import__", "AssertionError")}
    ref.sys = {k: getattr(sys, k) for k in ("setprofile", "getprofile", "settrace", "gettrace")}
    ref.profile, ref.trace = sys.getprofile(), sys.gettrace()
    shell = None
    try:
        shell = get_ipython()  # noqa: F821 (defined in an IPython kernel)
    except NameError:
        pass
    ref.shell = shell
    if shell is not None:
        names = ("showtraceback", "showsyntaxerror", "set_custom_exc", "run_cell", "run_code", "run_ast_nodes", "run_cell_async", "CustomTB", "_showtraceback")
        ref.shell_class = {k: getattr(type(shell), k, None) for k in names}
        ref.shell_instance = {k: vars(shell).get(k) for k in names}
        ref.shell_lists = {k: list(getattr(shell, k, [])) for k in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")}
        ref.custom_exceptions = shell.custom_exceptions
        ref.events = {k: list(v) for k, v in shell.events.callbacks.items()}
    sys.modules["_lec4_pristine"] = ref
_lec4_record_pristine()
del _lec4_record_pristine
