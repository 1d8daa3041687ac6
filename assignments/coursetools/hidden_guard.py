# Inlined by coursetools.authoring into every hidden-test block (replacing the line
# "# LEC4 GUARD"). It is plain code with no blank lines so that otter's doctest
# conversion keeps each definition in one example. It defines two helpers:
#   _lec4_guard()                  fails when numpy, the comparison helpers, builtins, sys's
#                                  profiling hooks or IPython's exception display and
#                                  input/AST transformers were tampered with;
#   _lec4_call(fn, *args, **kw)    calls fn and fails when the call reaches code in
#                                  lec4lib, torch.optim or timm.optim (delegation), or when
#                                  it changes the profiler that watches it.
# When the grader's prelude ran (coursetools/guard_prelude.py, before any student code),
# both compare identities with the pristine references it recorded; module names and probe
# values alone can be faked. Without it (a student's own run) they fall back to probes.
def _lec4_guard():
    import math as _m, sys as _s, numpy as _n
    _p = _s.modules.get("_lec4_pristine")
    if _p is not None:
        import builtins as _b
        if _n is not _p.numpy_module:
            raise RuntimeError("grading guard: the numpy module was replaced")
        for _name, _ref in _p.numpy.items():
            if getattr(_n, _name, None) is not _ref:
                raise RuntimeError("grading guard: numpy." + _name + " was replaced")
        if _n.linalg.norm is not _p.numpy_linalg_norm or _n.testing.assert_allclose is not _p.numpy_assert_allclose or _m.isclose is not _p.math_isclose:
            raise RuntimeError("grading guard: numpy.linalg/numpy.testing/math was replaced")
        for _name, _ref in _p.builtins.items():
            if getattr(_b, _name, None) is not _ref:
                raise RuntimeError("grading guard: builtins were tampered with (" + _name + ")")
        for _name, _ref in _p.sys.items():
            if getattr(_s, _name, None) is not _ref:
                raise RuntimeError("grading guard: sys." + _name + " was replaced")
        if _s.gettrace() is not _p.trace or _s.getprofile() is not _p.profile:
            raise RuntimeError("grading guard: a trace or profile function was installed")
        _shell = _p.shell
        if _shell is not None:
            for _name, _ref in _p.shell_class.items():
                if getattr(type(_shell), _name, None) is not _ref or vars(_shell).get(_name) is not _p.shell_instance[_name]:
                    raise RuntimeError("grading guard: IPython's " + _name + " was replaced")
            if _shell.custom_exceptions != _p.custom_exceptions:
                raise RuntimeError("grading guard: a custom exception handler was installed")
            if {_k: list(_v) for _k, _v in _shell.events.callbacks.items()} != _p.events:
                raise RuntimeError("grading guard: an IPython event callback was registered")
            for _name, _ref in _p.shell_lists.items():
                if list(getattr(_shell, _name, [])) != _ref:
                    raise RuntimeError("grading guard: an input or AST transformer was installed")
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
    _p = _s.modules.get("_lec4_pristine")
    _set, _get = (_p.sys["setprofile"], _p.sys["getprofile"]) if _p is not None else (_s.setprofile, _s.getprofile)
    _roots = []
    for _top, _sub in (("lec4lib", ""), ("torch", "optim"), ("timm", "optim")):
        try:
            _spec = _u.find_spec(_top)
        except (ImportError, ValueError):
            _spec = None
        if _spec is not None and _spec.origin:
            _roots.append(_o.path.join(_o.path.dirname(_o.path.abspath(_spec.origin)), _sub, ""))
    _hits, _active = [], [True]
    _hooks = (_set, _get, _s.settrace, _s.gettrace)
    def _profile(frame, event, arg):
        if not _active[0]:
            return
        if event == "call" and frame.f_code.co_filename.startswith(tuple(_roots)):
            _hits.append(frame.f_code.co_filename)
        elif event == "c_call" and any(arg is _h for _h in _hooks):
            _hits.append("sys." + getattr(arg, "__name__", "setprofile") + " (the check itself)")
    _old = _get()
    _set(_profile)
    try:
        _result = fn(*args, **kwargs)
    finally:
        _active[0] = False
        _still = _get() is _profile
        _set(_old)
    if _hits:
        raise RuntimeError("grading guard: the graded function delegates to " + _hits[0])
    if not _still:
        raise RuntimeError("grading guard: the graded function removed the delegation check")
    return _result
