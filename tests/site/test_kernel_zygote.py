"""The build's kernels are forks of a zygote (``tools/kernel_zygote.py``): they must be the
kernels a plain ``python -m ipykernel_launcher`` would be, only started sooner.

The direct tests start kernels with ``jupyter_client`` as myst-nb's cache client does (the
kernel spec ``python3`` found first on ``JUPYTER_PATH``), once through the zygote and once
plainly, and compare what a cell sees: the environment, ``sys.path``, ``sys.argv[0]``, the
working directory, NumPy's repr, torch's threads, matplotlib's backend and whether a glued
figure has a PNG. Then what a kernel manager does to a kernel: interrupt it (``SIGINT``
reaches the fork through the stub), kill the stub (the fork dies with it), and a kernel
that exits (the manager sees it dead). The build tests check that a dying kernel and a
cell timeout fail ``tools/build_book.py`` naming the page, and that a zygote that cannot
start only makes the build slower.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

import build_book   # tools/build_book.py (tests/conftest.py puts tools/ on sys.path)
from tests.site.test_build import build, make_book, show, tiny_library

FACTS = """\
import json, os, random, sys
preloaded = sorted(m for m in ("torch", "scipy", "sklearn", "matplotlib") if m in sys.modules)
import numpy, sklearn, torch, matplotlib
# a chapter's first torch optimizer imports torch._dynamo (which sets TORCHINDUCTOR_CACHE_DIR)
torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
import matplotlib.pyplot as plt
from myst_nb import glue
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
glue("zygote_fig", fig, display=False)
plt.close(fig)
print(json.dumps({
    "preloaded": preloaded, "env": dict(os.environ), "path": sys.path,
    "argv0": sys.argv[0], "cwd": os.getcwd(), "executable": sys.executable,
    "np_repr": repr(numpy.float64(1.5)), "printoptions": str(numpy.get_printoptions()),
    "torch_threads": torch.get_num_threads(), "backend": matplotlib.get_backend(),
    "rfc3987_blocked": sys.modules.get("rfc3987_syntax", 0) is None,
    "random": random.random(), "np_random": numpy.random.random(),
    "torch_seed": torch.initial_seed(), "pid": os.getpid(), "ppid": os.getppid(),
}))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    return build_book.kernel_environment(tmp_path / "_build")


def _start(env: dict[str, str], cwd: Path, monkeypatch):
    """A kernel ``python3`` started the way nbclient starts one, with ``env``."""
    from jupyter_client import KernelManager

    # the kernel spec is looked up in this process, on its JUPYTER_PATH
    if "JUPYTER_PATH" in env:
        monkeypatch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
    else:
        monkeypatch.delenv("JUPYTER_PATH", raising=False)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return km, kc


def _run(kc, code: str, timeout: float = 120) -> tuple[dict, list[dict]]:
    outputs: list[dict] = []

    def hook(msg):
        if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
            outputs.append({"type": msg["msg_type"], **msg["content"]})

    reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    return reply["content"], outputs


def _stdout(outputs: list[dict]) -> str:
    return "".join(o["text"] for o in outputs if o["type"] == "stream" and o["name"] == "stdout")


def _stop(km, kc) -> None:
    kc.stop_channels()
    if km.has_kernel:
        km.shutdown_kernel(now=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def zygote(tmp_path):
    env = _env(tmp_path)
    with build_book.Kernels(env) as kernels:
        zenv = kernels.environment()
        assert zenv is not env and "lec4-zygote-" in zenv["JUPYTER_PATH"], \
            "the zygote did not start"
        yield env, zenv


def _facts(env, cwd, monkeypatch) -> tuple[dict, list[dict]]:
    km, kc = _start(env, cwd, monkeypatch)
    try:
        content, outputs = _run(kc, FACTS)
        assert content["status"] == "ok", outputs
        return json.loads(_stdout(outputs)), outputs
    finally:
        _stop(km, kc)


@pytest.mark.slow
def test_a_forked_kernel_sees_what_a_plain_one_sees(zygote, tmp_path, monkeypatch):
    env, zenv = zygote
    work = tmp_path / "notebooks"
    work.mkdir()
    plain, plain_out = _facts(env, work, monkeypatch)
    forked, forked_out = _facts(zenv, work, monkeypatch)
    forked2, _ = _facts(zenv, work, monkeypatch)

    # it really was a fork of the zygote, which had imported the heavy modules
    assert plain["preloaded"] == []
    assert forked["preloaded"] == ["matplotlib", "scipy", "sklearn", "torch"]
    # the environment a kernel gets, except the manager's pid (its own per manager)
    drop = {"JPY_PARENT_PID"}
    assert {k: v for k, v in forked["env"].items() if k not in drop} == \
        {k: v for k, v in plain["env"].items() if k not in drop}
    for key in ("path", "argv0", "cwd", "executable", "np_repr", "printoptions",
                "torch_threads", "backend", "rfc3987_blocked"):
        assert forked[key] == plain[key], key
    assert forked["cwd"] == str(work)
    assert forked["torch_threads"] == 1
    # a glued figure keeps its PNG (a preloaded pyplot would have made it text only)
    for outputs in (plain_out, forked_out):
        figs = [o for o in outputs if o["type"] == "display_data"
                and o.get("metadata", {}).get("scrapbook", {}).get("name") == "zygote_fig"]
        assert figs, outputs
        prefix = figs[0]["metadata"]["scrapbook"]["mime_prefix"]
        assert prefix + "image/png" in figs[0]["data"], figs[0]["data"].keys()
    # the unseeded random state is each kernel's own, as in a new interpreter
    assert forked["random"] != forked2["random"]
    assert forked["np_random"] != forked2["np_random"]
    assert forked["torch_seed"] != forked2["torch_seed"]
    assert forked["pid"] != forked2["pid"]


@pytest.mark.slow
def test_interrupt_reaches_the_fork_and_a_killed_stub_takes_the_fork_with_it(
        zygote, tmp_path, monkeypatch):
    _, zenv = zygote
    km, kc = _start(zenv, tmp_path, monkeypatch)
    try:
        _, out = _run(kc, "import os; print(os.getpid(), os.getppid())")
        kernel, parent = map(int, _stdout(out).split())
        stub = km.provisioner.process.pid
        assert kernel != stub and parent != stub      # the manager's process is the stub

        msg_id = kc.execute("import time; time.sleep(120)")
        time.sleep(1.0)
        t0 = time.perf_counter()
        km.interrupt_kernel()
        while True:
            msg = kc.get_shell_msg(timeout=30)
            if msg["parent_header"].get("msg_id") == msg_id:
                break
        assert msg["content"]["status"] == "error"
        assert msg["content"]["ename"] == "KeyboardInterrupt"
        assert time.perf_counter() - t0 < 10
        # still the same kernel, and it computes
        _, out = _run(kc, "print(os.getpid(), 6 * 7)")
        assert _stdout(out).split() == [str(kernel), "42"]

        os.kill(stub, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(kernel) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(kernel), "the kernel outlived its stub"
    finally:
        _stop(km, kc)


@pytest.mark.slow
def test_a_kernel_that_exits_is_dead_to_its_manager(zygote, tmp_path, monkeypatch):
    _, zenv = zygote
    km, kc = _start(zenv, tmp_path, monkeypatch)
    try:
        kc.execute("import os; os._exit(3)")
        deadline = time.monotonic() + 10
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not km.is_alive()
        assert km.provisioner.process.returncode == 3    # the stub exits with its status
    finally:
        _stop(km, kc)


def test_a_zygote_that_cannot_start_leaves_the_plain_kernels(tmp_path, capfd):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "torch.py").write_text("raise RuntimeError('this torch is broken')\n")
    env = dict(_env(tmp_path), PYTHONPATH=str(broken))
    with build_book.Kernels(env) as kernels:
        assert kernels.environment() is env
    out, err = capfd.readouterr()
    err = out + err
    assert "this torch is broken" in err
    assert "WARNING" in err and "start without it" in err


def test_no_preload_never_starts_a_zygote(tmp_path):
    env = _env(tmp_path)
    kernels = build_book.Kernels(env, preload=False)
    kernels.start()
    assert kernels.environment() is env
    assert kernels._zygote is None
    kernels.close()


def _page(code: str) -> str:
    return f"# A page\n\n```{{code-cell}} ipython3\n{code}\n```\n"


@pytest.mark.slow
def test_a_kernel_that_dies_fails_the_build_naming_its_page(tmp_path):
    lib = tiny_library(tmp_path)
    book = tmp_path / "book"
    make_book(book, _page("x = 1"), {"dies": _page("import os\nos._exit(1)")})
    res = build(book, lib, "--jobs", "2", quiet=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0, show(res)
    assert "kernel zygote ready" in out, show(res)
    assert "DeadKernelError" in out and "dies" in out, show(res)


@pytest.mark.slow
def test_a_cell_timeout_interrupts_the_forked_kernel_and_fails_the_build(tmp_path):
    import yaml

    lib = tiny_library(tmp_path)
    book = tmp_path / "book"
    make_book(book, _page("x = 1"), {"sleeps": _page("import time\ntime.sleep(300)")})
    cfg = yaml.safe_load((book / "_config.yml").read_text())
    cfg["execute"]["timeout"] = 3
    (book / "_config.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    t0 = time.perf_counter()
    res = build(book, lib, "--jobs", "2", quiet=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0, show(res)
    assert "CellTimeoutError" in out and "sleeps" in out, show(res)
    assert time.perf_counter() - t0 < 200, show(res)


@pytest.mark.slow
def test_no_preload_builds_the_same_page(tmp_path):
    lib = tiny_library(tmp_path)
    book = tmp_path / "book"
    make_book(book, _page("import sys\nprint('torch' in sys.modules)"))
    res = build(book, lib, "--no-preload", quiet=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, show(res)
    assert "kernel zygote" not in out, show(res)
    html = (book / "_build" / "html" / "page.html").read_text()
    assert "False" in html
