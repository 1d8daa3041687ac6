"""tools/mutation_check.py's mechanics, on a tiny fake package (fast; the real run is on demand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mutation_check as mc

SOURCE = "def add(a, b):\n    return a + b\n\n\ndef twice(a):\n    return 2 * a\n"
TEST = ("from fakepkg.mod import add, twice\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_twice_of_zero():\n    assert twice(0) == 0\n")


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "fakepkg").mkdir(parents=True)
    (root / "fakepkg" / "__init__.py").write_text("")
    (root / "fakepkg" / "mod.py").write_text(SOURCE)
    (root / "tests").mkdir()
    (root / "tests" / "test_fake.py").write_text(TEST)
    return root


def _run(repo, mutations):
    lines = []
    results = mc.run_all(mutations, repo=repo, package="fakepkg", timeout=120, out=lines.append)
    return results, "\n".join(lines)


def test_kills_survivors_and_the_working_tree_is_never_touched(repo):
    before = (repo / "fakepkg" / "mod.py").read_bytes()
    mtime = (repo / "fakepkg" / "mod.py").stat().st_mtime_ns
    muts = [mc.Mutation("add_sign", "mod.py", "return a + b", "return a - b", ("tests/test_fake.py",)),
            # a mutation no test can see (twice is only tested at 0): it must survive
            mc.Mutation("twice_factor", "mod.py", "return 2 * a", "return 3 * a", ("tests/test_fake.py",))]
    results, text = _run(repo, muts)
    assert results == {"add_sign": "killed", "twice_factor": "survived"}
    assert "kill rate: 1/2 = 50%" in text and "survivors: twice_factor (survived)" in text
    # the sandbox's copy, not the repository's file, was imported and mutated
    assert "import fakepkg -> " in text and str(repo) not in text.split("import fakepkg -> ")[1].split("\n")[0]
    assert (repo / "fakepkg" / "mod.py").read_bytes() == before
    assert (repo / "fakepkg" / "mod.py").stat().st_mtime_ns == mtime


def test_the_sandbox_copy_is_restored_even_on_keyboard_interrupt(repo, tmp_path, monkeypatch):
    sandbox = mc.make_sandbox(repo, "fakepkg", tmp_path / "sandbox")
    target = sandbox / "fakepkg" / "mod.py"
    seen = []

    def interrupted(*args, **kwargs):
        seen.append(target.read_text())          # the mutant is in place while pytest runs
        raise KeyboardInterrupt

    monkeypatch.setattr(mc.subprocess, "run", interrupted)
    m = mc.Mutation("add_sign", "mod.py", "return a + b", "return a - b", ("tests/test_fake.py",))
    with pytest.raises(KeyboardInterrupt):
        mc.run_mutation(sandbox, "fakepkg", m)
    assert "return a - b" in seen[0]
    assert target.read_text() == SOURCE


@pytest.mark.parametrize("original,match", [("return a * b", "found 0 times"),
                                            ("    return ", "found 2 times")])
def test_refuses_a_mutation_whose_text_is_not_found_exactly_once(repo, original, match):
    m = mc.Mutation("bad", "mod.py", original, "pass", ("tests/test_fake.py",))
    with pytest.raises(mc.MutationError, match=match):
        _run(repo, [m])


def test_a_failing_baseline_stops_the_run(repo):
    (repo / "tests" / "test_fake.py").write_text(TEST + "\n\ndef test_broken():\n    assert False\n")
    m = mc.Mutation("add_sign", "mod.py", "return a + b", "return a - b", ("tests/test_fake.py",))
    with pytest.raises(RuntimeError, match="unmutated tests fail"):
        _run(repo, [m])


def test_the_real_mutation_list_names_existing_files_and_tests():
    # whether each original line is still in lec4lib is checked by the tool itself before it
    # runs anything (a refactor of lec4lib need not fail the suite; it fails the next check)
    root = Path(mc.__file__).resolve().parents[1]
    assert len(mc.MUTATIONS) >= 30
    assert len({m.name for m in mc.MUTATIONS}) == len(mc.MUTATIONS)
    for m in mc.MUTATIONS:
        assert (root / "lec4lib" / m.path).is_file(), m.name
        for t in mc._paths(m.tests):
            assert (root / t).is_file(), (m.name, t)


def test_list_option_prints_every_mutation():
    out = subprocess.run([sys.executable, mc.__file__, "--list"], capture_output=True, text=True, check=True)
    assert len(out.stdout.strip().splitlines()) == len(mc.MUTATIONS)


def test_a_test_selection_that_collects_nothing_is_not_a_kill(repo, tmp_path):
    sandbox = mc.make_sandbox(repo, "fakepkg", tmp_path / "sandbox")
    m = mc.Mutation("add_sign", "mod.py", "return a + b", "return a - b",
                    ("tests/test_fake.py", "-k", "no_such_test"))
    assert mc.run_mutation(sandbox, "fakepkg", m)[0] == "no tests"
    assert mc._paths(m.tests) == ["tests/test_fake.py"]
