"""The nbgrader ``Execute`` preprocessor the pipeline grades with.

Three things on top of nbgrader's:

* **a sandbox per notebook** (:mod:`coursetools.sandbox`): the kernel runs inside
  bubblewrap with no network, no view of the course, capped memory and processes; the
  grader talks to it over IPC sockets. A fresh sandbox is made for every notebook and torn
  down after it, with everything the student started in it;
* **a wall-clock limit per notebook** (``notebook_timeout``): once it is spent, the cells
  still to run are not run and fail with ``NotebookTimeLimit`` (a kernel that ignores
  interrupts cannot hold the grader for longer);
* **no idle waits around a kernel** (:class:`PromptKernelManager`): jupyter_client waits for
  0.2 s of silence on IOPub after a kernel answers, and polls a killed kernel every 0.1 s,
  on every notebook; here the kernel is ready when it has answered ``kernel_info`` and
  IOPub has carried that request's ``idle`` status, and a killed kernel is polled every
  5 ms;
* **survival of a kernel death**: the cell that killed the kernel gets an error output (it
  fails), the kernel is restarted, the non-test code cells before it are run again (to
  rebuild the student's definitions) and execution goes on, so the other cells are still
  graded. After ``max_restarts`` deaths in one notebook, or a death while replaying, the
  error propagates and the pipeline records the submission as failed.
"""

from __future__ import annotations

import copy
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.utils import ensure_async

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Any, Bool, Integer, List, Unicode, default

from . import sandbox as sandboxing

KERNEL_DIED = "KernelDied"
STUCK = "KernelStuck"
TIME_LIMIT = "NotebookTimeLimit"


def _error(ename: str, text: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=text, traceback=[f"{ename}: {text}"])


class PromptKernelClient(AsyncKernelClient):
    """A kernel client whose ``wait_for_ready`` returns as soon as the kernel is ready."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Return once the kernel has replied to ``kernel_info`` on the shell channel and
        that request's ``idle`` status has arrived on IOPub (so IOPub is connected). An
        IOPub subscription made after the kernel published misses the status: the request
        is then sent again, as jupyter_client does. Messages left on IOPub are not drained:
        a notebook client only reads the messages of its own requests."""
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            msg_id = self.kernel_info()
            reply = None
            while reply is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
                try:
                    msg = await ensure_async(self.shell_channel.get_msg(timeout=min(1.0, left)))
                except Empty:
                    if not await ensure_async(self.is_alive()):
                        raise RuntimeError("Kernel died before replying to kernel_info") from None
                    break  # ask again
                if msg["msg_type"] == "kernel_info_reply" and msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg
            if reply is None:
                continue
            try:
                while True:
                    status = await ensure_async(self.iopub_channel.get_msg(timeout=0.2))
                    if status["msg_type"] == "status" and status["parent_header"].get("msg_id") == msg_id \
                            and status["content"].get("execution_state") == "idle":
                        self._handle_kernel_info_reply(reply)
                        return
            except Empty:
                continue  # IOPub was not connected yet: ask again


class PromptKernelManager(AsyncKernelManager):
    """jupyter_client's ``AsyncKernelManager`` with :class:`PromptKernelClient` clients and a
    5 ms poll for a kernel to end once it was killed (the default polls every 0.1 s)."""

    @default("client_factory")
    def _client_factory_default(self):
        return PromptKernelClient

    on_killed = Any(None, allow_none=True,
                    help="called with no arguments once a killed kernel's process has ended "
                         "(the sandbox's kill_all: what the kernel started must be gone "
                         "before a restart binds the same sockets)")

    async def _async_wait(self, pollinterval: float = 0.005) -> None:
        await super()._async_wait(pollinterval=pollinterval)

    async def _async_kill_kernel(self, restart: bool = False) -> None:
        await super()._async_kill_kernel(restart=restart)
        if self.on_killed is not None:
            self.on_killed()


class ExecuteSurvivingKernelDeath(Execute):
    """``Execute`` (same configuration: timeout, ...) in a sandbox, with a notebook time
    limit, restarting a dead kernel."""

    max_restarts = Integer(3, help="kernel restarts allowed per notebook").tag(config=True)
    notebook_timeout = Integer(600, help="wall-clock seconds for the whole notebook").tag(config=True)
    sandbox = Bool(True, help="run each notebook's kernel in a bubblewrap sandbox").tag(config=True)
    memory = Unicode("2GiB", help="memory cap of the sandbox (per process, and in all "
                                  "where a memory cgroup can be made)").tag(config=True)
    disk = Unicode("256MiB", help="size of the sandbox's writable working directory").tag(config=True)
    max_processes = Integer(128, help="processes and threads in one sandbox").tag(config=True)
    forbidden = List(Unicode(), help="directories the sandbox must never show "
                                     "(the course directory)").tag(config=True)
    skip_files = List(Unicode(), ["timestamp.txt"],
                      help="files of the notebook's folder not bound into the sandbox").tag(config=True)

    def __init__(self, *args, **kwargs):
        # nbgrader's Execute passes its own kernel_manager_class
        kwargs.setdefault("kernel_manager_class", PromptKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        delegate = getattr(_DELEGATE, "fn", None)
        if delegate is not None:  # a worker process runs the kernel (parallel grading)
            path = str((resources or {}).get("metadata", {}).get("path") or ".")
            executed = delegate(nb, path)
            nb.cells = executed.cells
            nb.metadata = executed.metadata
            return nb, resources
        self._lec4_deadline = time.monotonic() + self.notebook_timeout
        self._lec4_box = None
        if self.sandbox:
            folder = Path((resources or {}).get("metadata", {}).get("path") or ".")
            data = [p for p in sorted(folder.iterdir()) if p.suffix != ".ipynb"
                    and p.name not in self.skip_files and not p.is_symlink()] if folder.is_dir() else []
            self._lec4_box = sandboxing.Sandbox(memory=self.memory, disk=self.disk,
                                                max_processes=self.max_processes, files=data,
                                                forbidden=list(self.forbidden))
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            if self._lec4_box is not None:
                self._lec4_box.close()
                self._lec4_box = None

    def create_kernel_manager(self):
        box = getattr(self, "_lec4_box", None)
        if box is None:
            return super().create_kernel_manager()
        self.km = self.kernel_manager_class(config=self.config, **box.kernel_manager_kwargs())
        if isinstance(self.km, PromptKernelManager):
            self.km.on_killed = box.kill_all
        self.kernel_name = "lec4-sandbox"
        return self.km

    def _remaining(self) -> float:
        return getattr(self, "_lec4_deadline", float("inf")) - time.monotonic()

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        remaining = self._remaining()
        if remaining == float("inf"):
            return timeout
        remaining = max(1, int(remaining + 0.999))
        return remaining if timeout is None else min(timeout, remaining)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and self._remaining() <= 0:
            cell.outputs = [_error(TIME_LIMIT, f"not run: the notebook's time limit "
                                               f"({self.notebook_timeout} s) was spent")]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            return self._restart(cell, index, KERNEL_DIED,
                                 "the kernel died while running this cell (it was restarted)")
        except CellTimeoutError:
            # the cell timed out and the kernel did not even go idle after the interrupt
            # (a student's code that ignores SIGINT): that kernel is lost
            return self._restart(cell, index, STUCK, "the cell did not stop when interrupted "
                                                     "after its time limit (the kernel was restarted)")

    def _restart(self, cell, index, ename: str, text: str):
        counts = self.__dict__.setdefault("_lec4_restarts", {})
        key = id(self.nb)
        if counts.get(key, 0) >= self.max_restarts:
            raise  # (the DeadKernelError or CellTimeoutError being handled)
        counts[key] = counts.get(key, 0) + 1
        self.log.warning("%s in cell %d; restarting the kernel and replaying the cells before", ename, index)
        cell.outputs.append(_error(ename, text))
        # whether the kernel announced the cell before it died is a race: record it as
        # not run, so that every run of the same notebook gives the same result
        cell.execution_count = None
        run_sync(self.km.restart_kernel)(now=True)
        # ready means IOPub is connected to the new kernel too: a shell reply alone is not
        # enough (the subscription may still be joining, and the replayed cell's IOPub
        # messages would be lost: the replay then times out waiting for its idle status)
        run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
        for j, previous in enumerate(self.nb.cells[:index]):
            if previous.cell_type == "code" and not utils.is_grade(previous):
                self.execute_cell(copy.deepcopy(previous), j, store_history=False)
        return cell, self.resources


# -- parallel grading: the kernels run in worker processes ---------------------------------------
_DELEGATE = threading.local()
_WORKER = {}


@contextmanager
def delegated(fn):
    """While active (in this thread), ``ExecuteSurvivingKernelDeath.preprocess`` hands the
    notebook to ``fn(nb, path) -> executed nb`` instead of running a kernel itself."""
    old = getattr(_DELEGATE, "fn", None)
    _DELEGATE.fn = fn
    try:
        yield
    finally:
        _DELEGATE.fn = old


def worker_init(settings: dict) -> None:
    """Initialiser of a grading worker process: the course's configuration, once, and one
    gradebook engine for its feedback (see ``pipeline.shared_gradebook_engines``)."""
    from .pipeline import course_config, shared_gradebook_engines

    import os

    os.environ["NBGRADER_EXECUTION"] = "autograde"  # as nbgrader sets it around Execute
    settings = dict(settings)
    _WORKER["root"] = Path(settings.pop("root"))
    _WORKER["config"] = course_config(_WORKER["root"], **settings)
    _WORKER["engines"] = shared_gradebook_engines()  # for the worker's life
    _WORKER["engines"].__enter__()


def worker_execute(nb_text: str, path: str) -> str:
    """Run one notebook (text) in a sandbox, as the grader would; returns the executed text.
    Runs in the worker's main thread, so the sandbox dies with the worker."""
    import nbformat

    nb = nbformat.reads(nb_text, as_version=4)
    ep = ExecuteSurvivingKernelDeath(config=_WORKER["config"])
    nb, _ = ep.preprocess(nb, {"metadata": {"path": path}})
    return nbformat.writes(nb)


def worker_feedback(assignment: str, student: str) -> bool:
    """Write one student's feedback (nbgrader's generate_feedback reads the gradebook only)."""
    if "api" not in _WORKER:
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        cfg = _WORKER["config"]
        _WORKER["api"] = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    out = _WORKER["api"].generate_feedback(assignment, student, force=True)
    if not out["success"]:
        raise RuntimeError(f"generate_feedback {assignment} {student} failed:\n{out['error']}")
    return True
