"""Start the book build's Python kernels by forking one process that has imported the
heavy libraries already (a "zygote"), instead of importing them again in every kernel.

A chapter's kernel spends 4-6 s of CPU before its first computation: starting IPython and
ipykernel, then importing torch, scipy, scikit-learn and matplotlib, then MyST-NB's glue
(nbformat, jsonschema), and ``torch._dynamo`` when it builds its first torch optimizer
(``torch.optim`` imports it lazily). With 16 notebooks that is a third of the cold build's execution.
The zygote imports ``PRELOAD`` once; each kernel is a ``fork()`` of it, which shares those
modules copy-on-write and starts in milliseconds.

How a kernel is started (``tools/build_book.py`` does all of this for its worker pool):

* :class:`Zygote` starts ``python kernel_zygote.py serve SOCKET`` with the build's
  environment; :meth:`Zygote.wait` returns once it listens on the Unix socket ``SOCKET``
  (in a private temp folder).
* :func:`write_kernelspec` writes a ``python3`` kernel spec into a folder that goes first
  on ``JUPYTER_PATH``. Its ``argv`` is ``python kernel_zygote.py connect SOCKET
  {connection_file}``: the process the kernel manager launches is a small *stub*.
* The stub sends the zygote its working directory, its environment (what the kernel
  manager gave the kernel) and its standard streams (file descriptors, ``SCM_RIGHTS``).
  The zygote forks; the child takes the stub's directory, environment and streams, and
  runs ipykernel exactly as ``python -m ipykernel_launcher -f FILE`` would.
* The stub stands in for the kernel towards the kernel manager: it forwards the signals
  it gets (``SIGINT`` interrupts the kernel) to the child, and exits with the child's
  exit status when the zygote reports it (a kernel killed by a signal: the stub kills
  itself with the same signal). When the stub dies (the manager may ``SIGKILL`` it) the
  zygote kills the child.

What a forked kernel shares with its siblings is only what was imported before the fork.
Its random state is a new interpreter's: ``random`` reseeds itself from the OS in a forked
child, the child reseeds NumPy's legacy global generator from the OS (as importing NumPy
does), and it reseeds torch's default generator from the OS (torch seeds it so at import).
The zygote refuses to fork while any thread runs (it checks ``threading.active_count()``),
since a forked child has no copy of other threads and could inherit a lock they held.

Run ``python tools/kernel_zygote.py --help`` for the two subcommands; they are internal to
the build.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

#: imported by the zygote before it serves: every third-party module that the chapters'
#: kernels spend seconds importing. A module missing here only makes kernels slower.
PRELOAD = (
    "ipykernel.kernelapp",       # IPython, ipykernel, zmq, traitlets
    "ipykernel.ipkernel",
    "numpy",
    "scipy.linalg", "scipy.optimize", "scipy.stats",
    "sklearn.datasets", "sklearn.model_selection", "sklearn.linear_model",
    "torch",
    # torch.optim's optimizers are wrapped in torch._disable_dynamo, which imports
    # torch._dynamo (and sympy, torch._inductor) the first time an optimizer is built:
    # 1.1-1.3 s in each chapter that builds one
    "torch._dynamo",
    # not matplotlib-inline's backend: imported before IPython runs, it skips registering
    # the PNG display of figures, and every figure would be text only (the zygote test
    # checks); nor pyplot, so that a kernel's first pyplot use picks the backend itself
    "matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg",
    "myst_nb.ext.glue",          # MyST-NB's glue: nbformat and jsonschema
    "nbformat",
    "jsonschema",
)

#: signals a stub forwards to its kernel (what a kernel manager sends a kernel)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
             signal.SIGUSR1, signal.SIGUSR2)
HERE = Path(__file__).resolve()


def _log(line: str) -> None:
    print(f"[kernel_zygote] {line}", file=sys.stderr, flush=True)


# -- the parent's side --------------------------------------------------------------------

def write_kernelspec(folder: Path, socket_path: Path, name: str = "python3") -> Path:
    """Write a kernel spec ``name`` under ``folder/kernels`` whose kernels come from the
    zygote at ``socket_path``; put ``folder`` first on ``JUPYTER_PATH`` to use it."""
    spec = folder / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(HERE), "connect", str(socket_path), "-f",
                 "{connection_file}"],
        "display_name": "Python 3 (ipykernel, forked from the build's zygote)",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }, indent=1) + "\n")
    return spec


class Zygote:
    """A zygote for kernels: :meth:`start` it, :meth:`wait` until it serves, :meth:`stop` it.

    ``env`` is the environment the kernels would get (the zygote imports under it, so
    ``OMP_NUM_THREADS`` and the like take effect as in a kernel). Raises ``RuntimeError``
    when the zygote exits before it listens (its stderr is the caller's).
    """

    def __init__(self, socket_path: Path, env: dict[str, str], timeout: float = 120.0):
        self.socket_path = Path(socket_path)
        self.env = env
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.seconds = 0.0

    def start(self) -> "Zygote":
        """Start the zygote (it imports ``PRELOAD`` meanwhile); :meth:`wait` for it."""
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.socket_path.parent, 0o700)
        self.socket_path.unlink(missing_ok=True)
        self._t0 = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-Xfrozen_modules=off", str(HERE), "serve", str(self.socket_path)],
            env=self.env, stdin=subprocess.DEVNULL)
        return self

    def wait(self) -> "Zygote":
        """Return once the zygote accepts stubs (``seconds``: since :meth:`start`)."""
        t0 = self._t0
        while not self.socket_path.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the kernel zygote exited with {self.process.returncode} "
                                   "before it served (its error is above)")
            if time.perf_counter() - t0 > self.timeout:
                self.process.kill()
                raise RuntimeError(f"the kernel zygote did not serve within {self.timeout:.0f} s")
            time.sleep(0.02)
        self.seconds = time.perf_counter() - t0
        return self

    def stop(self) -> None:
        """Stop the zygote; the kernels it forked that still run are killed."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.socket_path.unlink(missing_ok=True)


# -- the zygote ---------------------------------------------------------------------------

#: what importing ``PRELOAD`` wrote into ``os.environ`` (debugpy sets
#: ``PYDEVD_USE_FRAME_EVAL``): a kernel that imported them itself would have it too
_IMPORT_ENVIRON: dict[str, str] = {}
_OWN_JUPYTER_PATH = os.environ.get("JUPYTER_PATH")


def _preload() -> None:
    before = dict(os.environ)
    # as the build's IPython startup file does in every kernel (see build_book.py)
    sys.modules.setdefault("rfc3987_syntax", None)
    # ipykernel sets this before anything imports matplotlib; matplotlib reads it at import
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    import importlib
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as exc:   # a lighter environment: that kernel imports it itself
            _log(f"not preloaded: {name} ({exc})")
    _IMPORT_ENVIRON.update({k: v for k, v in os.environ.items() if before.get(k) != v})


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds = b"", []
    while not data.endswith(b"\n"):
        chunk, new_fds, _, _ = socket.recv_fds(conn, 1 << 20, 8)
        fds += new_fds
        if not chunk:
            raise ConnectionError("the stub closed the connection before its request ended")
        data += chunk
    return json.loads(data), fds


def _child(request: dict, fds: list[int], keep_closed: list[int]) -> None:
    """In the forked child: become the kernel the stub asked for. Never returns."""
    code = 1
    try:
        for fd in keep_closed:
            try:
                os.close(fd)
            except OSError:
                pass
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for key, value in _IMPORT_ENVIRON.items():
            os.environ.setdefault(key, value)
        # the stub's JUPYTER_PATH leads to the zygote's kernel spec; a kernel started the
        # usual way has the build's own (the zygote's)
        os.environ.pop("JUPYTER_PATH", None)
        if _OWN_JUPYTER_PATH is not None:
            os.environ["JUPYTER_PATH"] = _OWN_JUPYTER_PATH
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:     # seeded from the OS at import: once, in the zygote
            numpy_random.seed()
        torch = sys.modules.get("torch")
        if torch is not None:            # likewise (torch.initial_seed() differs per process)
            torch.seed()
        # what ``python -m ipykernel_launcher ARGS`` sees: the launcher's argv, and no
        # script folder first on sys.path (IPython puts '' there, as for any kernel)
        import ipykernel_launcher
        args = list(request["args"])
        # read from the environment when ipykernel is imported, i.e. in the zygote, which
        # has no kernel manager: the stub's environment names it
        if os.environ.get("JPY_PARENT_PID"):
            args.append(f"--IPKernelApp.parent_handle={int(os.environ['JPY_PARENT_PID'])}")
        sys.argv = [ipykernel_launcher.__file__, *args]
        if sys.path and Path(sys.path[0]).resolve() == HERE.parent:
            del sys.path[0]
        from ipykernel import kernelapp
        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(socket_path: Path) -> int:
    """Preload, listen on ``socket_path``, fork a kernel for every stub; until SIGTERM or
    until the parent that started it is gone."""
    if sys.path and Path(sys.path[0]).resolve() == HERE.parent:
        del sys.path[0]       # this script's folder: a kernel would not have it
    _preload()
    import threading
    if threading.active_count() != 1:
        _log(f"refusing to fork: {threading.active_count()} threads run after the imports")
        return 1
    parent = os.getppid()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = socket_path.with_name(socket_path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    listener.bind(str(tmp))
    listener.listen(64)
    os.replace(tmp, socket_path)     # the socket appears only when it accepts
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}      # kernel pid -> its stub's connection
    try:
        while not stop and os.getppid() == parent:
            for key, _ in sel.select(timeout=0.05):
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    try:
                        request, fds = _recv_request(conn)
                    except (OSError, ValueError) as exc:
                        _log(f"bad request: {exc}")
                        conn.close()
                        continue
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        _child(request, fds, [listener.fileno(), sel.fileno(),
                                              *(c.fileno() for c in children.values()),
                                              conn.fileno()])
                    for fd in fds:
                        os.close(fd)
                    children[pid] = conn
                    conn.sendall(f"pid {pid}\n".encode())
                    sel.register(conn, selectors.EVENT_READ, pid)
                else:   # a stub's connection: readable only when the stub is gone
                    if not key.fileobj.recv(1024):
                        try:
                            os.kill(key.data, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            while children:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                conn = children.pop(pid, None)
                if conn is not None:
                    sel.unregister(conn)
                    try:
                        conn.sendall(f"exit {status}\n".encode())
                    except OSError:
                        pass
                    conn.close()
    except ChildProcessError:
        pass
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        listener.close()
        socket_path.unlink(missing_ok=True)
    return 0


# -- the stub -----------------------------------------------------------------------------

def connect(socket_path: Path, args: list[str]) -> int:
    """Ask the zygote for a kernel with ``args`` (``-f CONNECTION_FILE``); wait for it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(socket_path))
    request = json.dumps({"cwd": os.getcwd(), "env": dict(os.environ), "args": args})
    socket.send_fds(sock, [request.encode() + b"\n"], [0, 1, 2])
    reader = sock.makefile("r")
    first = reader.readline().split()
    if len(first) != 2 or first[0] != "pid":
        print("[kernel_zygote] the zygote started no kernel", file=sys.stderr, flush=True)
        return 1
    pid = int(first[1])

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    line = reader.readline().split()
    if len(line) != 2 or line[0] != "exit":
        return 1             # the zygote went away: so did the kernel
    code = os.waitstatus_to_exitcode(int(line[1]))
    if code < 0:             # killed by a signal: so is its stand-in
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="preload, then fork a kernel for each stub")
    s.add_argument("socket", type=Path)
    c = sub.add_parser("connect", help="the stub a kernel manager launches")
    c.add_argument("socket", type=Path)
    c.add_argument("args", nargs=argparse.REMAINDER, help="the kernel's arguments")
    args = p.parse_args(argv)
    if args.command == "serve":
        code = serve(args.socket)
        # without the interpreter's teardown of torch, sympy & co. (1.5 s, all of it
        # freeing memory the OS frees anyway): the build waits for the zygote to stop
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return connect(args.socket, args.args)


if __name__ == "__main__":
    sys.exit(main())
