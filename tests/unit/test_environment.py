"""environment.yml (Binder) and pyproject.toml agree on the package set."""

import re
import tomllib

import yaml

from tests.conftest import ROOT


def _name(spec: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(data["dependencies"])
    for extra in data["optional-dependencies"].values():
        specs += extra
    return {_name(s): s for s in specs}


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep["pip"]
        else:
            conda.append(dep)
    return conda, pip


def test_environment_installs_lec4lib_with_the_book_extra():
    _, pip = _environment()
    assert "-e .[book]" in pip


def test_every_package_named_in_environment_yml_is_a_pyproject_dependency():
    declared = _pyproject()
    conda, pip = _environment()
    named = [d for d in conda if _name(d) not in {"python", "pip"}]
    named += [d for d in pip if not d.startswith("-")]
    assert named, "environment.yml names no package"
    for dep in named:
        assert _name(dep) in declared, f"{dep} is in environment.yml but not in pyproject.toml"


def test_binder_pins_python_and_a_cpu_torch_matching_constraints():
    conda, pip = _environment()
    assert any(re.fullmatch(r"python=3\.\d+", d) for d in conda)
    assert any(_name(d) == "jupytext" for d in conda + pip)
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M).group(1)
    torch = [d for d in pip if _name(d) == "torch"]
    assert torch == [f"torch=={pinned}+cpu"]
    assert any("download.pytorch.org/whl/cpu" in d for d in pip)


def test_pyproject_keeps_torch_a_range_and_jupyter_book_below_2():
    declared = _pyproject()
    assert "==" not in declared["torch"] and "<" in declared["torch"]
    assert "<2" in declared["jupyter-book"].replace(" ", "")
