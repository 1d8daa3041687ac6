# Inlined by coursetools.authoring into every hidden-test block (replacing the line
# "# LEC4 GUARD"). It is plain code with no blank lines so that otter's doctest
# conversion keeps each definition in one example. It defines two helpers:
#   _lec4_guard()                  fails when numpy, the comparison helpers or IPython's
#                                  input/AST transformers were tampered with;
#   _lec4_call(fn, *args, **kw)    calls fn and fails when the call reaches code in
#                                  lec4lib, torch.optim or timm.optim (delegation).
def _lec4_guard():
    import math as _m, sys as _s, numpy as _n
    for _name in ("allclose", "isclose", "array_equal", "asarray", "array", "exp", "log", "sqrt", "abs", "sum", "mean", "dot", "maximum", "logaddexp", "all", "any", "zeros", "zeros_like"):
        if not str(getattr(getattr(_n, _name), "__module__", None) or "numpy").startswith("numpy"):
            raise RuntimeError("grading guard: numpy." + _name + " was replaced")
    if not str(getattr(_n.linalg.norm, "__module__", "")).startswith("numpy") or not str(getattr(_n.testing.assert_allclose, "__module__", "")).startswith("numpy"):
        raise RuntimeError("grading guard: numpy.linalg/numpy.testing was replaced")
    if _n.allclose(0.0, 1.0) or _n.isclose(0.0, 1.0) or _n.array_equal([0.0], [1.0]) or not _n.allclose(1.0, 1.0) or _m.isclose(0.0, 1.0):
        raise RuntimeError("grading guard: comparison functions were tampered with")
    if abs(-2.0) != 2.0 or float(_n.exp(0.0)) != 1.0 or len([0, 0]) != 2 or not isinstance(1.5, float):
        raise RuntimeError("grading guard: builtins were tampered with")
    try:
        _n.testing.assert_allclose(0.0, 1.0)
    except AssertionError:
        pass
    else:
        raise RuntimeError("grading guard: numpy.testing was tampered with")
    _ip = _s.modules.get("IPython")
    _shell = _ip.get_ipython() if _ip is not None and hasattr(_ip, "get_ipython") else None
    if _shell is not None:
        _hooks = list(getattr(_shell, "input_transformers_cleanup", [])) + list(getattr(_shell, "input_transformers_post", [])) + list(getattr(_shell, "ast_transformers", []))
        for _h in _hooks:
            _mod = str(getattr(_h, "__module__", None) or getattr(type(_h), "__module__", ""))
            if not _mod.startswith(("IPython", "ipykernel")):
                raise RuntimeError("grading guard: an input or AST transformer was installed")
    return None
def _lec4_call(fn, *args, **kwargs):
    import os as _o, sys as _s
    import importlib.util as _u
    _roots = []
    for _top, _sub in (("lec4lib", ""), ("torch", "optim"), ("timm", "optim")):
        try:
            _spec = _u.find_spec(_top)
        except (ImportError, ValueError):
            _spec = None
        if _spec is not None and _spec.origin:
            _roots.append(_o.path.join(_o.path.dirname(_o.path.abspath(_spec.origin)), _sub, ""))
    _hits = []
    def _profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(tuple(_roots)):
            _hits.append(frame.f_code.co_filename)
    _old = _s.getprofile()
    _s.setprofile(_profile if _roots else None)
    try:
        _result = fn(*args, **kwargs)
    finally:
        _s.setprofile(_old)
    if _hits:
        raise RuntimeError("grading guard: the graded function delegates to " + _hits[0])
    return _result
