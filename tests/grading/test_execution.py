"""The grading kernel's plumbing: a ready check without idle waits, a kernel without the
debugger, feedback templates compiled once a process."""

from __future__ import annotations

import asyncio
from queue import Empty

import jinja2
import nbformat
import pytest
from nbconvert.exporters import HTMLExporter

from coursetools import execution, sandbox
from coursetools.feedback import FeedbackHTMLExporter


class _Channel:
    """A stand-in for a kernel channel: ``get_msg`` hands out queued messages, then Empty."""

    def __init__(self):
        self.queue, self.empty_waits = [], 0

    async def get_msg(self, timeout=None):
        if self.queue:
            return self.queue.pop(0)
        self.empty_waits += 1  # a real channel would have waited `timeout` seconds here
        raise Empty


class _Kernel:
    """Plays a kernel for ``PromptKernelClient.wait_for_ready``: replies to each kernel_info
    on shell, and publishes its idle status on IOPub unless IOPub is 'not connected yet'."""

    def __init__(self, client, lost_statuses: int):
        self.client, self.lost, self.requests = client, lost_statuses, []

    def kernel_info(self):
        msg_id = f"info-{len(self.requests)}"
        self.requests.append(msg_id)
        self.client.shell_channel.queue.append(
            {"msg_type": "kernel_info_reply", "parent_header": {"msg_id": msg_id},
             "content": {"status": "ok", "protocol_version": "5.3"}})
        if self.lost > 0:
            self.lost -= 1
        else:
            self.client.iopub_channel.queue += [
                {"msg_type": "stream", "parent_header": {"msg_id": "startup"}, "content": {}},
                {"msg_type": "status", "parent_header": {"msg_id": msg_id},
                 "content": {"execution_state": "idle"}}]
        return msg_id


class _FakeClient(execution.PromptKernelClient):
    shell_channel = property(lambda self: self._shell)
    iopub_channel = property(lambda self: self._iopub)


def _fake_client(lost_statuses: int):
    client = _FakeClient()
    client._shell, client._iopub = _Channel(), _Channel()
    kernel = _Kernel(client, lost_statuses)
    client.kernel_info = kernel.kernel_info
    client.is_alive = lambda: True
    return client, kernel


@pytest.mark.parametrize("lost", [0, 2])
def test_ready_once_the_idle_status_of_its_own_request_arrives(lost):
    """Ready after the request whose idle status came through; a status lost to a late IOPub
    subscription makes it ask again; nothing waits for silence on IOPub."""
    client, kernel = _fake_client(lost)
    asyncio.run(client.wait_for_ready(timeout=10))
    assert kernel.requests == [f"info-{k}" for k in range(lost + 1)]
    # one IOPub wait in vain per lost status, none once the status has come (jupyter_client's
    # own check always ends on a wait for 0.2 s of silence)
    assert client.iopub_channel.empty_waits == lost and client.shell_channel.empty_waits == 0
    assert client.iopub_channel.queue == []  # (the startup message before the status was read past)


def test_ready_check_times_out_on_a_silent_kernel():
    client, kernel = _fake_client(0)
    client.kernel_info = lambda: "never-answered"
    with pytest.raises(RuntimeError, match="didn't respond in 0.5 seconds"):
        asyncio.run(client.wait_for_ready(timeout=0.5))


def test_grading_kernel_runs_without_the_debugger():
    """The sandboxed kernel (its own launcher, not ipykernel_launcher) runs a notebook, has
    debugpy blocked, and its first cell sees only its own output."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys\nprint(sys.modules.get('debugpy', 'absent'), sys.argv[0])")])
    ep = execution.ExecuteSurvivingKernelDeath(timeout=60)
    assert ep.kernel_manager_class is execution.PromptKernelManager
    nb, _ = ep.preprocess(nb, {"metadata": {"path": "."}})
    outputs = nb.cells[0].outputs
    assert [o.get("text") for o in outputs] == ["None -c\n"]
    assert sandbox.KERNEL_LAUNCHER.count("launch_new_instance") == 1


def _count_compiles(monkeypatch):
    calls = []
    real = jinja2.Environment.compile

    def compile(self, *args, **kwargs):
        calls.append(args[1] if len(args) > 1 else kwargs.get("name"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", compile)
    return calls


def test_feedback_exporter_compiles_templates_once_and_writes_the_same_html(monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Feedback $x^2$"),
                                         nbformat.v4.new_code_cell("print(1)")])
    plain, _ = HTMLExporter().from_notebook_node(nb)
    calls = _count_compiles(monkeypatch)
    first, _ = FeedbackHTMLExporter().from_notebook_node(nb)
    compiled_first = len(calls)
    second, _ = FeedbackHTMLExporter().from_notebook_node(nb)
    assert compiled_first > 0 and len(calls) == compiled_first  # the second compiled nothing
    assert first == second == plain


def test_feedback_exporter_compiles_an_edited_template_again(tmp_path, monkeypatch):
    (tmp_path / "t.j2").write_text("one {{ nb.cells | length }}")
    calls = _count_compiles(monkeypatch)

    def render():
        exporter = FeedbackHTMLExporter(template_file=str(tmp_path / "t.j2"))
        return exporter.from_notebook_node(nbformat.v4.new_notebook())[0]

    assert render() == "one 0"
    n = len(calls)
    (tmp_path / "t.j2").write_text("two {{ nb.cells | length }}")
    assert render() == "two 0" and len(calls) > n


def test_gradebooks_share_one_engine_per_database_only_while_grading(tmp_path, monkeypatch):
    import os
    import sys
    from pathlib import Path

    import nbgrader.api
    from nbgrader.api import Gradebook

    from coursetools.pipeline import shared_gradebook_engines

    # a new gradebook runs the environment's `alembic` command
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    one, other = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    original = nbgrader.api.create_engine
    with shared_gradebook_engines():
        with Gradebook(one) as a, Gradebook(one) as b, Gradebook(other) as c:
            assert a.engine is b.engine and c.engine is not a.engine
            a.add_student("alice")
            assert [s.id for s in b.students] == ["alice"]
    assert nbgrader.api.create_engine is original
    with Gradebook(one) as a, Gradebook(one) as b:
        assert a.engine is not b.engine and [s.id for s in a.students] == ["alice"]


def test_a_killed_kernel_leaves_nothing_in_its_sandbox_before_a_restart():
    """A restart binds the same IPC sockets in the same sandbox: the kill must have emptied
    the sandbox first (the manager calls the sandbox's kill_all once the kernel's process ended)."""
    box = sandbox.Sandbox()
    try:
        km = execution.PromptKernelManager(**box.kernel_manager_kwargs())
        calls = []

        def killed():
            box.kill_all()
            calls.append([(cg / "cgroup.procs").read_text().split() for cg in box.cgroups])

        km.on_killed = killed

        async def run():
            await km.start_kernel()
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            await km.restart_kernel(now=True)
            await kc.wait_for_ready(timeout=60)
            reply = await kc.execute_interactive("x = 1", timeout=30)
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
            return reply["content"]["status"]

        assert asyncio.run(run()) == "ok"
        assert len(calls) == 2 and all(procs == [] for call in calls for procs in call)
    finally:
        box.close()
