"""Launch the chapters as Colab and Binder do: a fresh environment outside the repository.

**Colab** opens one ``.ipynb`` alone, in a runtime that already has torch, IPython and
matplotlib; the notebook's first cell (``tools/notebooks.py::colab_cell``) sees
``google.colab`` and ``%pip install``\\ s lec4lib from the repository. The test does the
same: a fresh virtual environment in a temp dir, with torch (and ipykernel) preinstalled
as on Colab; a fresh ``git clone`` of the committed ``HEAD`` (so *commit before running
it*); every chapter's ``.ipynb`` copied alone into an empty folder and executed there
with nbclient by a kernel of that environment, whose IPython startup file registers a
fake ``google.colab`` module, so that the install cell itself runs, with its repository
URL swapped for the clone's ``git+file://`` URL and nothing else changed. It checks that
every chapter runs, that lec4lib came from the clone (not from this checkout), that
nothing of the book build (MyST-NB, Sphinx) was installed, that the preinstalled torch
was left alone, and that a stored result committed in the clone reaches chapter 11.

**Binder** builds ``environment.yml`` with conda, which is not reachable here: the test
installs its ``pip:`` section, verbatim, into a fresh venv of the Python version it
pins (the conda packages besides python and pip, i.e. jupytext, with pip) and runs
chapter 01 in the clone, where Binder opens it.

Both are slow (minutes: pip installs, then the chapters). Executed notebooks are kept in
``test-artifacts/launch/`` and the times are printed (``pytest -s``) and written to
``test-artifacts/launch/times.txt``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import nbformat
import notebooks
import pytest
import yaml
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "launch"
KERNEL = "lec4-launch-test"
#: What Colab has before the install cell runs (torch is the one that must stay as it is).
#: A recent pip too: the venv's own (ensurepip, 23.2 here) rejects ``name @ git+file:///...``
#: ("Invalid URL": its URL check wants a host), which the cell's https URL does not need.
COLAB_PREINSTALLED = ["pip>=24", "torch==2.13.0", "ipykernel", "matplotlib-inline"]
#: Packages of the book build that a chapter must not need on Colab.
BOOK_ONLY = ["myst-nb", "sphinx", "jupyter-book"]
FAKE_RESULT = "launch_test_fake_gpu_run"
NEUTRAL = Path("/")

FAKE_COLAB = """\
# Written by tests/site/test_launch.py: make this kernel look like a Colab runtime.
import sys, types
try:
    import google
except ImportError:
    google = types.ModuleType("google")
    google.__path__ = []
    sys.modules["google"] = google
google.colab = sys.modules["google.colab"] = types.ModuleType("google.colab")
"""

PROBE = """\
import importlib.util, json, sys
import lec4lib
from lec4lib.studies.ch11_lars_lamb import source_revision
print("LEC4-PROBE " + json.dumps({
    "lec4lib": lec4lib.__file__, "executable": sys.executable,
    "google.colab": "google.colab" in sys.modules,
    "myst_nb": importlib.util.find_spec("myst_nb") is not None,
    "revision": source_revision()}))
"""

TORCH_STATE = """\
import hashlib, importlib.metadata as m, json, os, torch
d = m.distribution("torch")
record = next(f for f in d.files if f.name == "RECORD" and f.parent.name.endswith(".dist-info"))
record = record.locate()
init = os.stat(torch.__file__)
st = os.stat(record)
print(json.dumps({"version": torch.__version__, "file": torch.__file__,
                  "record_sha256": hashlib.sha256(open(record, "rb").read()).hexdigest(),
                  "record_stat": [st.st_ino, st.st_mtime_ns],
                  "init_stat": [init.st_ino, init.st_mtime_ns]}))
"""

_times: list[str] = []


def _report(line: str) -> None:
    print(line, flush=True)
    _times.append(line)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "times.txt").write_text("\n".join(_times) + "\n")


def run(cmd, cwd=None, **kw) -> subprocess.CompletedProcess:
    """Run ``cmd``; by default in a neutral folder, never in this checkout, where ``python``
    would see ``lec4lib.egg-info`` on ``sys.path`` (its first entry is the working folder)."""
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                         cwd=NEUTRAL if cwd is None else cwd, **kw)
    assert res.returncode == 0, (f"{' '.join(map(str, cmd))} exited {res.returncode}\n"
                                 f"--- stdout\n{res.stdout[-4000:]}\n--- stderr\n{res.stderr[-4000:]}")
    return res


def fresh_clone(dest: Path) -> tuple[Path, str]:
    """A clone of this repository's committed HEAD, on the branch the install cell names."""
    head = run(["git", "-C", ROOT, "rev-parse", "HEAD"]).stdout.strip()
    run(["git", "clone", "-q", "--no-hardlinks", ROOT, dest])
    _, branch = notebooks.repository(dest)
    run(["git", "-C", dest, "checkout", "-q", "-B", branch, head])
    return dest, branch


def make_venv(python: str, dest: Path) -> Path:
    run([python, "-m", "venv", dest])
    return dest / "bin" / "python"


def pip(py: Path, *args, **kw) -> subprocess.CompletedProcess:
    return run([py, "-m", "pip", "--disable-pip-version-check", *args], **kw)


def kernel_specs(py: Path, dest: Path, ipython_dir: Path | None = None) -> Path:
    """A kernel-spec folder whose one kernel is ``py`` (and nothing from this checkout)."""
    spec = dest / KERNEL
    spec.mkdir(parents=True)
    venv_bin = str(py.parent)
    env = {"PYTHONPATH": "", "VIRTUAL_ENV": str(py.parent.parent),
           "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin"}
    if ipython_dir is not None:
        env["IPYTHONDIR"] = str(ipython_dir)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "launch test", "language": "python", "env": env}))
    return dest


class _Client(NotebookClient):
    """nbclient with the test's kernel spec folder (the notebook names ``python3``)."""

    def __init__(self, nb, spec_dir: Path, **kw):
        self._spec_dir = spec_dir
        super().__init__(nb, **kw)

    def create_kernel_manager(self):
        self.km = AsyncKernelManager(
            kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(self._spec_dir)]))
        return self.km


def execute(nb, cwd: Path, spec_dir: Path) -> tuple[float, str | None]:
    """Run ``nb`` in ``cwd``; return the seconds taken and the error (None if it ran)."""
    t0 = time.perf_counter()
    try:
        _Client(nb, spec_dir, timeout=600, resources={"metadata": {"path": str(cwd)}}).execute()
        err = None
    except CellExecutionError as exc:
        err = str(exc)[-3000:]
    return time.perf_counter() - t0, err


def probe(nb) -> dict:
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    line = next(ln for ln in text.splitlines() if ln.startswith("LEC4-PROBE "))
    return json.loads(line.removeprefix("LEC4-PROBE "))


def outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts += [str(v) for v in out.get("data", {}).values()]
    return "\n".join(parts)


def installed(py: Path, dist: str) -> bool:
    code = (f"import importlib.metadata as m\ntry: m.distribution({dist!r})\n"
            "except m.PackageNotFoundError: raise SystemExit(1)")
    return subprocess.run([str(py), "-c", code], cwd=NEUTRAL).returncode == 0


def commit_fake_gpu_result(clone: Path) -> None:
    """A stored GPU record, committed in the clone only: does it reach chapter 11?"""
    run_rec = {"loss": [6.9, 6.8], "eval_accuracy": 0.001, "images_per_second": 1000.0, "mfu": 0.25}
    record = {"experiment": "alexnet_large_batch",
              "config": {"batch_size": 4096, "steps": 2},
              "provenance": {"device_type": "cuda", "device_name": "FAKE GPU (tests/site/test_launch.py)",
                             "torch_version": "0", "git_commit": None, "seed": 0,
                             "date_utc": "2000-01-01T00:00:00+00:00", "wall_time_s": 1.0},
              "runs": {"sgd": run_rec, "lars": run_rec}}
    folder = clone / "lec4lib" / "data" / "results" / FAKE_RESULT
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(record))
    run(["git", "-C", clone, "add", folder / "result.json"])
    run(["git", "-C", clone, "-c", "user.name=launch test", "-c", "user.email=test@example.invalid",
         "commit", "-q", "-m", "launch test: a fake stored GPU result"])


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_every_chapter_runs_on_colab_from_the_install_cell(tmp_path):
    t_start = time.perf_counter()
    clone, branch = fresh_clone(tmp_path / "clone")
    commit_fake_gpu_result(clone)
    clone_head = run(["git", "-C", clone, "rev-parse", "HEAD"]).stdout.strip()
    url, _ = notebooks.repository(clone)

    py = make_venv(sys.executable, tmp_path / "colab-venv")
    pip(py, "install", "-q", *COLAB_PREINSTALLED)
    assert not installed(py, "lec4lib")
    torch_before = json.loads(run([py, "-c", TORCH_STATE]).stdout)
    t_env = time.perf_counter() - t_start

    ipython_dir = tmp_path / "ipython"
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True)
    (ipython_dir / "profile_default" / "startup" / "00-fake-colab.py").write_text(FAKE_COLAB)
    specs = kernel_specs(py, tmp_path / "kernels", ipython_dir)

    sources = notebooks.notebook_sources(clone)
    assert len(sources) >= 13
    failures, times = {}, {}
    (ARTIFACTS / "colab").mkdir(parents=True, exist_ok=True)
    for md in sources:
        ipynb = md.with_suffix(".ipynb")
        folder = tmp_path / "colab" / md.stem
        folder.mkdir(parents=True)
        shutil.copy(ipynb, folder / ipynb.name)
        assert [p.name for p in folder.iterdir()] == [ipynb.name]   # the notebook, alone
        nb = nbformat.read(folder / ipynb.name, as_version=4)
        cell = nb.cells[0]
        assert notebooks.COLAB_TAG in cell.metadata["tags"]
        cell_url = f"git+{url}@{branch}"
        assert cell.source.count(cell_url) == 1, cell.source
        cell.source = cell.source.replace(cell_url, f"git+file://{clone}@{branch}")
        nb.cells.append(nbformat.v4.new_code_cell(PROBE))
        times[md.stem], err = execute(nb, folder, specs)
        nbformat.write(nb, ARTIFACTS / "colab" / ipynb.name)
        if err is not None:
            failures[md.stem] = err
            continue
        seen = probe(nb)
        site = str(py.parent.parent / "lib")
        assert seen["google.colab"] and seen["executable"] == str(py), seen
        assert seen["lec4lib"].startswith(site), f"{md.stem} imported lec4lib from {seen['lec4lib']}"
        assert not seen["myst_nb"], "MyST-NB got installed: the Colab cell installs too much"
        assert seen["revision"] == [clone_head, False], seen
        if "glue_figure(" in md.read_text("utf-8"):   # no {glue:figure} on Colab: shown in place
            assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])), \
                f"{md.stem}: no figure shown"
        if md.stem.startswith("11-"):
            text = outputs_text(nb)
            assert "Stored GPU result" in text and f"lec4lib/data/results/{FAKE_RESULT}/result.json" in text
    t_total = time.perf_counter() - t_start
    _report(f"colab: {len(sources)} chapters, {t_total:.0f} s in all ({t_env:.0f} s for the venv and "
            "preinstalled torch); " + ", ".join(f"{k.split('-')[0]} {v:.0f} s" for k, v in times.items()))
    assert not failures, "chapters that failed on Colab:\n\n" + "\n\n".join(
        f"== {name}\n{err}" for name, err in failures.items())

    # the install cell installed lec4lib from the clone, and nothing of the book build
    direct = json.loads(run([py, "-c", "import importlib.metadata as m; "
                             "print(m.distribution('lec4lib').read_text('direct_url.json'))"]).stdout)
    assert direct["url"] == f"file://{clone}" and direct["vcs_info"]["commit_id"] == clone_head
    assert [d for d in BOOK_ONLY if installed(py, d)] == []
    # ... and left the preinstalled torch as it was (same version, same files, not reinstalled)
    assert json.loads(run([py, "-c", TORCH_STATE]).stdout) == torch_before


def _environment_yml(root: Path) -> tuple[list[str], list[str]]:
    env = yaml.safe_load((root / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_section = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip_section) == 1, "environment.yml: expected one pip: section"
    return conda, pip_section[0]["pip"]


def _extra_index_urls(lines: list[str]) -> list[str]:
    return [ln.split(None, 1)[1].strip() for ln in lines
            if ln.startswith(("--extra-index-url", "--index-url")) and len(ln.split()) == 2]


def _resolves(url: str) -> bool:
    try:
        socket.getaddrinfo(urllib.parse.urlparse(url).hostname, 443)
    except OSError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_binder_pip_section_installs_in_a_fresh_venv_and_a_chapter_runs(tmp_path):
    t_start = time.perf_counter()
    clone, _ = fresh_clone(tmp_path / "clone")
    conda, pip_lines = _environment_yml(clone)
    (python_pin,) = [d for d in conda if d.startswith("python=")]
    version = python_pin.removeprefix("python=")
    python = shutil.which(f"python{version}")
    if python is None:
        msg = f"environment.yml pins Python {version}: no python{version} on PATH"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{msg} (CI=true: the Binder test may not skip)")
        pytest.skip(msg)
    py = make_venv(python, tmp_path / "binder-venv")
    assert run([py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip() == version

    # conda's part (conda is not reachable here): the packages besides python and pip, by pip
    conda_pkgs = [d for d in conda if re.split(r"[=<>!~\s]", d)[0] not in ("python", "pip")]
    if conda_pkgs:
        pip(py, "install", "-q", *conda_pkgs)
    # the pip: section verbatim, run from the repository root as repo2docker does. An index
    # whose host does not resolve (download.pytorch.org here) costs pip 5 retries, ~9 s, for
    # every package it looks up there (~100 with jupyter-book); then it is asked once per
    # package (PIP_RETRIES=0): the same outcome, and torch==...+cpu comes from find-links
    (clone / ".binder-pip-requirements.txt").write_text("\n".join(pip_lines) + "\n")
    unresolved = [u for u in _extra_index_urls(pip_lines) if not _resolves(u)]
    env = dict(os.environ, **({"PIP_RETRIES": "0"} if unresolved else {}))
    pip(py, "install", "-q", "-r", ".binder-pip-requirements.txt", cwd=clone, timeout=1500, env=env)
    t_env = time.perf_counter() - t_start
    torch_pin = next(d for d in pip_lines if d.startswith("torch=="))
    assert run([py, "-c", "import torch; print(torch.__version__)"]).stdout.strip() == torch_pin[len("torch=="):]
    for module in ("jupytext", "myst_nb", "lec4lib"):
        run([py, "-c", f"import {module}"])

    specs = kernel_specs(py, tmp_path / "kernels")
    chapter = clone / "chapters" / "01-stochastic-gradient.ipynb"
    nb = nbformat.read(chapter, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    seconds, err = execute(nb, chapter.parent, specs)   # Binder opens it in the repository
    (ARTIFACTS / "binder").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, ARTIFACTS / "binder" / chapter.name)
    _report(f"binder: {time.perf_counter() - t_start:.0f} s in all ({t_env:.0f} s for the venv "
            f"from environment.yml's pip: section), chapter 01 {seconds:.0f} s"
            + (f"; unreachable index: {', '.join(unresolved)}" if unresolved else ""))
    assert err is None, err
    seen = probe(nb)
    assert not seen["google.colab"] and seen["executable"] == str(py)
    assert seen["lec4lib"] == str(clone / "lec4lib" / "__init__.py")   # the editable -e .[book]
    assert seen["myst_nb"]
    # with MyST-NB there, the chapter's values were glued for the page, not shown
    glued = [o for c in nb.cells for o in c.get("outputs", [])
             if "scrapbook" in o.get("metadata", {})]
    assert {o["metadata"]["scrapbook"]["name"] for o in glued} >= {"sg_N", "sg_d"}
