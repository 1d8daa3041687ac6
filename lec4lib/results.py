"""Stored results: the outputs of runs too expensive for a book build, with their provenance.

A stored result is a file ``<name>/result.json`` in the package data folder
``lec4lib/data/results`` (:func:`stored_results`), so it reaches every install of lec4lib: the editable checkout
that builds the book and a ``pip install`` from the repository (Colab). Each file records
how it was made (:func:`provenance`): the lec4lib commit (:func:`source_revision`), the
library versions, the machine, the command and the date. A chapter shows a stored result
and computes its summary statistics at build time; its claim test recomputes the runs
with the same function and settings.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

__all__ = ["stored_results", "source_revision", "provenance", "write_result", "read_result"]


def stored_results():
    """The stored results packaged with lec4lib: the folder ``lec4lib/data/results``.

    Returns
    -------
    importlib.resources.abc.Traversable
        The folder; it does not exist while no run is stored (git keeps no empty folder).
        In an editable install it is the checkout's folder.
    """
    return resources.files("lec4lib").joinpath("data/results")


def _git(cwd, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def source_revision() -> tuple[str | None, bool | None]:
    """The git commit of the lec4lib that is running, and whether its tree was dirty.

    * lec4lib imported from a git work tree that tracks it (the editable install of a
      checkout): that tree's ``HEAD`` and whether it has uncommitted changes;
    * lec4lib installed by pip from a git URL (``pip install "lec4lib @ git+URL@main"``,
      what the Colab cell does): the commit pip recorded (PEP 610 ``direct_url.json``),
      clean by construction;
    * otherwise (e.g. a copy of the files): ``(None, None)``, "unknown".

    Nothing is assumed about where a checkout lies: git is asked about the folder the
    package was imported from, and a git repository that merely surrounds that folder
    (a virtual environment inside a checkout) does not count unless it tracks lec4lib.
    """
    pkg = resources.files("lec4lib")
    if isinstance(pkg, Path) and _git(pkg, "ls-files", "--error-unmatch", "__init__.py"):
        status = _git(pkg, "status", "--porcelain", "--untracked-files=no")
        return _git(pkg, "rev-parse", "HEAD"), None if status is None else bool(status)
    try:
        direct_url = metadata.distribution("lec4lib").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct_url = None
    vcs = json.loads(direct_url).get("vcs_info", {}) if direct_url else {}
    if vcs.get("vcs") == "git" and vcs.get("commit_id"):
        return vcs["commit_id"], False
    return None, None


def cpu_model() -> str | None:
    """The processor's model name (``model name`` of ``/proc/cpuinfo``, else
    ``platform.processor()``), or None when neither says.

    Two machines with the same instruction set (``cpu_capability``) can still round
    differently (a BLAS library takes other code paths on another vendor's CPU), so a
    result is reproducible bit for bit only on the same model.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def provenance(**extra) -> dict:
    """Where a result comes from: commit, versions, machine, command and date (UTC).

    ``extra`` items (e.g. the device, the seed) are added as they are.

    Examples
    --------
    >>> p = provenance(seed=3)
    >>> p["seed"], {"git_commit", "torch_version", "cpu_capability", "cpu_model", "date_utc"} <= set(p)
    (3, True)
    """
    import numpy as np
    import torch

    commit, dirty = source_revision()
    out = {
        "git_commit": commit,
        "git_dirty": dirty,
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "torch_version": torch.__version__,
        "cpu": platform.processor() or platform.machine() or "unknown",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_model": cpu_model(),
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    out.update(extra)
    return out


def write_result(name: str, data: dict, folder=None) -> Path:
    """Write ``data`` (JSON-serialisable, with a ``provenance`` entry) as ``<name>/result.json``.

    Parameters
    ----------
    name : str
        The run's folder name: letters, digits, ``_`` and ``-``, starting with a letter or digit.
    data : dict
        Must hold ``"provenance"`` (see :func:`provenance`).
    folder : path, optional
        Default: :func:`stored_results` (the package's own folder; an editable install writes
        into the checkout, to be committed).
    """
    if not (isinstance(name, str) and name and name[0].isalnum()
            and all(c.isalnum() or c in "_-" for c in name)):
        raise ValueError(f"Invalid name: {name!r} (must be letters, digits, _ and -)")
    if "provenance" not in data:
        raise ValueError("Invalid data: no 'provenance' entry (make one with provenance())")
    folder = Path(str(stored_results())) if folder is None else Path(folder)
    (folder / name).mkdir(parents=True, exist_ok=True)
    path = folder / name / "result.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def read_result(name: str, folder=None) -> dict:
    """Read the stored result ``<name>/result.json`` (from :func:`stored_results` by default).

    Raises
    ------
    FileNotFoundError
        Naming the file and the command that makes it is the caller's job; this says
        which file is missing.
    """
    base = stored_results() if folder is None else Path(folder)
    f = base.joinpath(name, "result.json")
    if not f.is_file():
        raise FileNotFoundError(f"no stored result {name}/result.json in {base}")
    return json.loads(f.read_text())
