"""A sandbox per graded notebook, built with bubblewrap (no Docker daemon needed).

Everything that runs a student's code for grading goes through :class:`Sandbox`:

* **filesystem** — the sandbox sees a read-only ``/usr`` (and the ``/bin``, ``/lib*``
  links), a few files of ``/etc`` (the dynamic loader's cache, ``passwd``), the Python
  installation (``sys.base_prefix`` and ``sys.prefix``, read-only) and a fresh, size-capped
  tmpfs as its working directory (``/home/student``) and ``/tmp``. Data files the
  assignment ships are bound read-only into the working directory. Nothing else: not the
  course directory, not the grader's home, not the host's ``/tmp``. A path that contains
  the course directory (or lies inside it) is never bound, whatever the Python
  installation's layout;
* **network** — its own network namespace (only a loopback of its own). The grader talks
  to the kernel over IPC sockets in a directory bound into the sandbox
  (:meth:`Sandbox.kernel_manager`);
* **processes** — its own PID namespace, torn down with the sandbox's first process: a
  process the student starts (even with a new session) does not outlive the grading. The
  number of processes (threads count) is capped with a ``pids`` cgroup where the grader
  may create one, and with ``RLIMIT_NPROC`` (which the kernel does not enforce for root);
* **memory** — ``RLIMIT_AS`` per process (default 2 GiB): beyond it an allocation fails
  inside the kernel with ``MemoryError``. Where a ``memory`` cgroup can be created, the
  sandbox's processes together get the same cap.

``check()`` tells whether sandboxes can be made on this machine (bubblewrap installed,
user namespaces available); the grading command refuses to run without one unless told
``--no-sandbox``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

WORKDIR = "/home/student"
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing, or cannot create namespaces on this machine."""


def parse_size(value, name: str = "size") -> int:
    """Bytes from an int or a string such as ``"2GiB"``, ``"256M"``, ``"512k"``.

    >>> parse_size("2GiB"), parse_size("256M"), parse_size(1024)
    (2147483648, 268435456, 1024)
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a size such as '2GiB', got {value!r}")
    if isinstance(value, int):
        n = value
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(value))
        if not m:
            raise ValueError(f"{name} must be a size such as '2GiB' or '512MiB', got {value!r}")
        n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if n < 16 * 1024**2:
        raise ValueError(f"{name} must be at least 16 MiB, got {value!r}")
    return n


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def check() -> None:
    """Raise :class:`SandboxUnavailable`, with what to install, when no sandbox can be made."""
    exe = bwrap_path()
    if exe is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: install it (Debian/Ubuntu: apt-get install "
            "bubblewrap) or pass --no-sandbox to grade without isolation (not recommended)")
    if shutil.which("prlimit") is None:
        raise SandboxUnavailable("prlimit (util-linux) is not installed: install util-linux, "
                                 "or pass --no-sandbox to grade without isolation")
    argv = [exe, "--unshare-all", "--die-with-parent", *_system_binds(), "--proc", "/proc",
            "--dev", "/dev", "true"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bubblewrap could not be run ({exc}); pass --no-sandbox to "
                                 "grade without isolation") from None
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise SandboxUnavailable(
            f"bubblewrap cannot create namespaces here ({why}): enable unprivileged user "
            "namespaces (sysctl kernel.unprivileged_userns_clone=1) or pass --no-sandbox")


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # only what the loader, locale and user lookups need: never /etc as a whole
    for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
              "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/hosts",
              "/etc/host.conf", "/etc/gai.conf",
              "/etc/fonts", "/etc/ssl/certs", "/etc/mime.types"):
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    return args


# What ``python -m ipykernel_launcher`` does, without the debugger: ipykernel imports debugpy
# (and pydevd) when it can, a sixth of a grading kernel's start-up, and a graded notebook
# is never debugged (the kernel spec says so, too).
KERNEL_LAUNCHER = ("import sys\n"
                   "if sys.path and sys.path[0] == '':\n"
                   "    del sys.path[0]\n"
                   "sys.modules['debugpy'] = None\n"
                   "from ipykernel import kernelapp\n"
                   "kernelapp.launch_new_instance()\n")


def python_executable() -> str:
    """This interpreter's path as the sandbox can run it: absolute and without ``..``
    (``../.venv/bin/python grade.py`` gives a ``sys.executable`` that goes through a folder the
    sandbox does not show). Symbolic links are kept: a virtual environment's ``python`` is one,
    and resolving it would leave the environment."""
    return os.path.normpath(os.path.abspath(sys.executable))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def editable_roots() -> list[str]:
    """Source folders of packages installed in editable mode (``pip install -e``): their
    code lives outside the environment, so the sandbox needs them bound too."""
    import ast
    import site

    found = []
    for sp in site.getsitepackages():
        for finder in Path(sp).glob("__editable__*finder.py"):
            m = re.search(r"^MAPPING\s*(?::[^=]*)?=\s*(\{.*?\})\s*$", finder.read_text(errors="replace"), re.M | re.S)
            if m:
                try:
                    found += [v for v in ast.literal_eval(m.group(1)).values() if isinstance(v, str)]
                except (ValueError, SyntaxError):
                    pass
        for pth in Path(sp).glob("*.pth"):
            for line in pth.read_text(errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith(("#", "import ")) and os.path.isdir(line):
                    found.append(line)
    return [os.path.realpath(p) for p in found if os.path.isdir(p)]


def python_roots(forbidden=()) -> list[str]:
    """The directories the interpreter and its packages live in (editable installs
    included), minus any that would expose a forbidden directory (e.g. the course) or a
    directory under ``/usr``."""
    roots = []
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix),
              os.path.dirname(os.path.realpath(sys.executable)), *editable_roots()}:
        path = Path(p)
        if path == Path("/") or _inside(path, Path("/usr")):
            continue
        if any(_inside(Path(f), path) or _inside(path, Path(f)) for f in forbidden):
            continue  # never bind the course directory, or anything holding it
        roots.append(str(path))
    # the outermost ones suffice
    roots.sort(key=len)
    kept: list[str] = []
    for r in roots:
        if not any(_inside(Path(r), Path(k)) for k in kept):
            kept.append(r)
    return kept


def _cgroup_dirs(limits: dict[str, dict[str, str]]) -> list[Path]:
    """Create one cgroup per controller (v1) or one unified cgroup (v2) below the
    grader's own, with the limits written; [] where the grader may not."""
    made: list[Path] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    name = f"lec4-sandbox-{uuid.uuid4().hex[:12]}"
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers.startswith("name="):
            continue
        if controllers:
            ctrls = [c for c in controllers.split(",") if c in limits]
            bases = [Path("/sys/fs/cgroup") / c / path.lstrip("/") for c in ctrls]
        else:  # cgroup v2: wherever the unified hierarchy is mounted
            ctrls = ["unified"]
            bases = [m / path.lstrip("/") for m in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
                     if (m / "cgroup.controllers").exists()][:1]
        for ctrl, base in zip(ctrls, bases):
            target = base / name
            try:
                target.mkdir()
            except OSError:
                continue
            # a real cgroup has its interface files as soon as it exists; a plain directory
            # (a tmpfs where no hierarchy is mounted) has none, and is no limit
            keys = limits[ctrl]
            if not (target / "cgroup.procs").exists() or not all((target / k).exists() for k in keys):
                _remove_cgroup(target)
                continue
            try:
                for key, value in keys.items():
                    (target / key).write_text(value)
            except OSError:
                _remove_cgroup(target)
                continue
            made.append(target)
    return made


def _remove_cgroup(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


@dataclass
class Sandbox:
    """One sandbox: a staging directory on the host and the command line that enters it.

    Parameters
    ----------
    memory : int or str
        Address-space cap per process (and, where a memory cgroup can be made, for the
        whole sandbox); default 2 GiB.
    disk : int or str
        Size of the writable working directory (a tmpfs), default 256 MiB; ``/tmp`` gets
        the same.
    max_processes : int
        Processes and threads the sandbox may have at once (default 128).
    files : list of paths
        Files bound read-only into the working directory (data the assignment ships).
    outputs : list of paths
        Host directories bound writable into the working directory under their own name
        (where a grader that runs inside, like ``otter run``, writes its results).
    forbidden : list of paths
        Directories that must stay invisible, even if the Python installation lies in or
        above them (the course directory).
    """

    memory: int | str = "2GiB"
    disk: int | str = "256MiB"
    max_processes: int = 128
    files: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    forbidden: list = field(default_factory=list)

    def __post_init__(self):
        self.memory = parse_size(self.memory, "memory")
        self.disk = parse_size(self.disk, "disk")
        if isinstance(self.max_processes, bool) or not isinstance(self.max_processes, int) \
                or self.max_processes < 16:
            raise ValueError(f"max_processes must be an integer >= 16, got {self.max_processes!r}")
        self.staging = Path(tempfile.mkdtemp(prefix="lec4-sbx-"))
        self.ipc = self.staging / "ipc"
        self.ipc.mkdir(mode=0o700)
        self.cgroups = _cgroup_dirs({
            "pids": {"pids.max": str(self.max_processes)},
            "memory": {"memory.limit_in_bytes": str(self.memory)},
            "unified": {"pids.max": str(self.max_processes), "memory.max": str(self.memory)},
        })

    # -- the command line ---------------------------------------------------------------
    def wrap(self, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        """``argv`` as run inside this sandbox (working directory ``/home/student``)."""
        exe = bwrap_path()
        if exe is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
        forbidden = [Path(f).resolve() for f in self.forbidden]
        box = [exe, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               *_system_binds()]
        roots = python_roots(forbidden)
        prefix = Path(os.path.realpath(sys.prefix))
        if not any(_inside(prefix, Path(r)) for r in roots):
            raise SandboxUnavailable(
                f"the Python environment ({prefix}) and the course directory lie one inside the other, "
                "so the sandbox cannot show the one without the other: keep the course directory "
                "outside the environment")
        # the sandbox's own /tmp first: a bind below /tmp made before it would be hidden
        # (the Python environment, the IPC folder may well live under the host's /tmp)
        box += ["--proc", "/proc", "--dev", "/dev",
                "--size", str(self.disk), "--tmpfs", "/tmp",
                "--size", str(self.disk), "--tmpfs", WORKDIR]
        for root in roots:
            box += ["--ro-bind", root, root]
        box += ["--bind", str(self.ipc), str(self.ipc)]
        for f in self.files:
            f = Path(f)
            box += ["--ro-bind", str(f), f"{WORKDIR}/{f.name}"]
        for d in self.outputs:
            box += ["--bind", str(d), f"{WORKDIR}/{Path(d).name}"]
        box += ["--chdir", WORKDIR, "--clearenv"]
        for key, value in self._env(env).items():
            box += ["--setenv", key, value]
        limits = ["prlimit", f"--as={self.memory}", f"--nproc={self.max_processes}",
                  "--core=0", "--"]
        cmd = limits + box + ["--"] + list(argv)
        if self.cgroups:
            procs = [str(c / "cgroup.procs") for c in self.cgroups]
            # join every cgroup, then become the sandbox (its children inherit them)
            script = 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 97; shift; done; shift; exec "$@"'
            cmd = ["/bin/sh", "-c", script, "sh", *procs, "--"] + cmd
        return cmd

    def _env(self, extra) -> dict[str, str]:
        env = {"HOME": WORKDIR, "PATH": f"{Path(python_executable()).parent}:/usr/bin:/bin",
               "LANG": "C.UTF-8", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/.matplotlib",
               "IPYTHONDIR": "/tmp/.ipython",
               "PYTHONDONTWRITEBYTECODE": "1"}
        for key, value in os.environ.items():
            # numeric-library settings that keep results right on this CPU, and nbgrader's
            # execution marker; nothing else of the grader's environment
            if key.startswith(("OPENBLAS_", "OMP_", "MKL_", "NBGRADER_")):
                env[key] = value
        env.update(extra or {})
        return env

    # -- a Jupyter kernel inside ---------------------------------------------------------
    def kernelspec_dir(self) -> Path:
        """A kernel-spec directory whose ``lec4-sandbox`` kernel runs ipykernel in here."""
        specs = self.staging / "kernels"
        spec = specs / "lec4-sandbox"
        spec.mkdir(parents=True, exist_ok=True)
        # JPY_PARENT_PID is not passed in (in a PID namespace the kernel's parent is pid 1,
        # and ipykernel's parent poller would exit at once); without it ipykernel prints a
        # banner for every kernel unless its log level is CRITICAL
        argv = self.wrap([python_executable(), "-c", KERNEL_LAUNCHER, "-f", "{connection_file}",
                          "--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=CRITICAL"])
        (spec / "kernel.json").write_text(json.dumps({
            "argv": argv, "display_name": "Python 3 (lec4 sandbox)", "language": "python",
            # interrupts as messages: a signal to the process group would stop at bwrap's
            # --new-session
            "interrupt_mode": "message", "metadata": {"debugger": False}}))
        return specs

    def kernel_manager_kwargs(self) -> dict:
        from jupyter_client.kernelspec import KernelSpecManager

        return dict(kernel_name="lec4-sandbox",
                    kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(self.kernelspec_dir())]),
                    transport="ipc", ip=str(self.ipc / "kernel"),
                    connection_file=str(self.ipc / "kernel.json"))

    # -- clean-up -----------------------------------------------------------------------------
    def kill_all(self) -> None:
        """Kill every process left in the sandbox and wait until none is left (until its
        cgroups are empty; without cgroups, give the kernel 0.1 s to deliver the
        die-with-parent signals). A kernel restarted in the same sandbox binds the same IPC
        sockets, so the old one must be gone first."""
        if not self.cgroups:
            time.sleep(0.1)
        for cg in self.cgroups:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (cg / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
                time.sleep(0.02)

    def close(self) -> None:
        """Kill whatever is left in the sandbox's cgroups and remove its traces."""
        if self.cgroups:  # (without them there is nothing to kill or wait for here)
            self.kill_all()
        for cg in self.cgroups:
            _remove_cgroup(cg)
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
