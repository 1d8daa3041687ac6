"""Read a student's code (never run it) for what a person should look at.

A student can tamper with their own kernel to fool the tests that run in it; the sandbox
cannot stop that, and the guard catches only what it knows. :func:`scan` parses the
student's code cells (after IPython's own transformations, so ``%magic`` and ``!shell``
lines are seen as the calls they become) and returns one flag per kind of finding, each
naming the first place it was seen. The flags go into the grades CSV and the run's
"needs a look" summary; they change no score.
"""

from __future__ import annotations

import ast
import re

RISKY_MODULES = ("ctypes", "signal", "sqlite3", "subprocess", "socket", "multiprocessing")
GUARDED_MODULES = ("numpy", "sys", "builtins", "IPython")
OS_PROCESS = re.compile(r"^(system|popen|fork|forkpty|kill|killpg|exec\w*|spawn\w*|posix_spawn\w*)$")
PATHLIKE = re.compile(r"^(/|~|\.\./)\S*$|/\.\./")


def _transform(source: str) -> str:
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 -- a cell IPython cannot transform is parsed as is
        return source


class _Finder(ast.NodeVisitor):
    def __init__(self):
        self.flags: dict[str, str] = {}
        self.alias = {"np": "numpy", "numpy": "numpy", "sys": "sys", "builtins": "builtins",
                      "__builtins__": "builtins", "IPython": "IPython", "os": "os"}

    def flag(self, kind: str, detail: str) -> None:
        self.flags.setdefault(kind, detail)

    # -- names -----------------------------------------------------------------------------
    def root(self, node) -> str | None:
        """The module an expression like ``np.linalg.norm`` starts from, if known."""
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        if isinstance(node, ast.Name):
            return self.alias.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "get_ipython":
            return "IPython"
        return None

    def _import(self, module: str, line: int) -> None:
        top = module.split(".")[0]
        if top in RISKY_MODULES:
            self.flag(f"imports {top}", f"line {line}")

    def visit_Import(self, node):
        for a in node.names:
            self._import(a.name, node.lineno)
            self.alias[a.asname or a.name.split(".")[0]] = a.name.split(".")[0]
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if node.module:
            self._import(node.module, node.lineno)
            for a in node.names:
                if node.module.split(".")[0] in GUARDED_MODULES + ("os",):
                    self.alias[a.asname or a.name] = node.module.split(".")[0]
                if a.name in RISKY_MODULES:
                    self._import(a.name, node.lineno)
        self.generic_visit(node)

    # -- assignments -------------------------------------------------------------------------
    def _target(self, target, line: int) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._target(t, line)
            return
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            mod = self.root(target)
            if mod in GUARDED_MODULES:
                self.flag(f"assigns to {mod} attributes", f"line {line}: {ast.unparse(target)}")
        if isinstance(target, ast.Name) and target.id.startswith("_lec4"):
            self.flag("touches the grader's guard", f"line {line}: {target.id}")

    def visit_Assign(self, node):
        for t in node.targets:
            self._target(t, node.lineno)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._target(node.target, node.lineno)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._target(node.target, node.lineno)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for t in node.targets:
            self._target(t, node.lineno)
        self.generic_visit(node)

    # -- calls and names ----------------------------------------------------------------------
    def visit_Call(self, node):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if name in ("setattr", "delattr") and node.args and self.root(node.args[0]) in GUARDED_MODULES:
            self.flag(f"assigns to {self.root(node.args[0])} attributes",
                      f"line {node.lineno}: {ast.unparse(node)[:80]}")
        if name in ("__import__", "import_module") and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            self._import(node.args[0].value, node.lineno)
        if isinstance(f, ast.Attribute) and self.root(f) == "os" and OS_PROCESS.match(f.attr):
            self.flag("os.system/exec/fork", f"line {node.lineno}: os.{f.attr}")
        if isinstance(f, ast.Name) and self.alias.get(f.id) == "os" and OS_PROCESS.match(f.id):
            self.flag("os.system/exec/fork", f"line {node.lineno}: {f.id}")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in ("setprofile", "settrace"):
            self.flag("setprofile/settrace", f"line {node.lineno}: {ast.unparse(node)}")
        if self.root(node) == "IPython" and isinstance(node.value, ast.Call):
            self.flag("get_ipython() hooks", f"line {node.lineno}: {ast.unparse(node)[:80]}")
        if node.attr.startswith("_lec4") or node.attr in ("__closure__", "__code__", "__globals__"):
            self.flag("touches the grader's guard", f"line {node.lineno}: {node.attr}")
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in ("setprofile", "settrace") and self.alias.get(node.id) == "sys":
            self.flag("setprofile/settrace", f"line {node.lineno}: {node.id}")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and len(node.value) > 1 and "\n" not in node.value \
                and PATHLIKE.search(node.value):
            self.flag("paths outside the working directory", f"line {node.lineno}: {node.value[:60]!r}")
        if isinstance(node.value, str) and "_lec4" in node.value:
            self.flag("touches the grader's guard", f"line {node.lineno}: {node.value[:40]!r}")


def scan(sources) -> list[str]:
    """Flags for a list of code-cell sources, e.g. ``["imports sqlite3 (cell 3, line 1)"]``.

    >>> scan(["import numpy as np\\nnp.isclose = lambda *a, **k: True"])
    ['assigns to numpy attributes (cell 1, line 2: np.isclose)']
    >>> scan(["def f(x):\\n    return 2 * x"])
    []
    """
    flags: dict[str, str] = {}
    finder = _Finder()  # aliases carry over from cell to cell, as in a kernel
    for k, source in enumerate(sources, 1):
        code = _transform(source)
        if re.search(r"get_ipython\(\)\.system\(|get_ipython\(\)\.getoutput\(", code):
            flags.setdefault("shell commands", f"cell {k}")
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        finder.flags = {}
        try:
            finder.visit(tree)
        except RecursionError:
            finder.flag("unparseable code", f"cell {k}")
        for kind, detail in finder.flags.items():
            flags.setdefault(kind, f"cell {k}, {detail}")
    return [f"{kind} ({detail})" for kind, detail in flags.items()]
