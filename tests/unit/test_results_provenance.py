"""lec4lib.results.provenance names the CPU model: the instruction set alone does not make
two machines round alike (tests/claims/test_10a_large_batch_generalization.py)."""

import re
from pathlib import Path

import pytest

from lec4lib.results import cpu_model, provenance


def test_cpu_model_is_the_model_name_of_proc_cpuinfo():
    info = Path("/proc/cpuinfo")
    if not info.exists():
        pytest.skip("no /proc/cpuinfo on this system")
    names = re.findall(r"^model name\s*:\s*(.+?)\s*$", info.read_text(errors="replace"), re.M)
    if not names:
        pytest.skip("/proc/cpuinfo names no model here")
    assert cpu_model() == names[0]
    assert provenance()["cpu_model"] == names[0]


def test_without_proc_cpuinfo_the_platform_processor_or_none(monkeypatch):
    import builtins
    import platform

    real_open = builtins.open

    def no_cpuinfo(path, *args, **kwargs):
        if str(path) == "/proc/cpuinfo":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_cpuinfo)
    monkeypatch.setattr(platform, "processor", lambda: "")
    assert cpu_model() is None
    monkeypatch.setattr(platform, "processor", lambda: "ExampleCPU 9000")
    assert cpu_model() == "ExampleCPU 9000"
