"""The GPU experiment path, run at tiny scale on the CPU (command line and function)."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import tomllib
from importlib import resources

import pytest
import torch

from lec4lib import results
from lec4lib.studies import ch11_lars_lamb as exp
from lec4lib.results import write_result
from lec4lib.studies.ch11_lars_lamb import (ExperimentConfig, load_results, main, peak_tflops,
                                            run_experiment)
from lec4lib.nets.images import write_image_folder
from tests.conftest import ROOT

TINY = ["--device", "cpu", "--batch-size", "2", "--steps", "2", "--train-images", "2",
        "--eval-images", "2", "--num-classes", "10"]


@pytest.mark.slow
def test_command_line_run_writes_result_with_provenance(tmp_path, root):
    cmd = [sys.executable, "-m", "lec4lib.studies.ch11_lars_lamb", *TINY,
           "--results-dir", str(tmp_path), "--name", "tiny"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # progress while it runs
    assert "[sgd] step 1/2" in proc.stderr and "[lars] step 2/2" in proc.stderr
    rec = json.loads((tmp_path / "tiny" / "result.json").read_text())
    prov = rec["provenance"]
    assert prov["device_type"] == "cpu" and prov["device_name"].startswith("CPU")
    assert prov["torch_version"] == torch.__version__
    # the commit checked out during the run: a real commit of this repository's history
    # (not compared with HEAD, which may move while the test runs)
    assert len(prov["git_commit"]) == 40
    ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", prov["git_commit"], "HEAD"],
                              cwd=root, capture_output=True, text=True)
    assert ancestor.returncode == 0, ancestor.stderr
    assert isinstance(prov["git_dirty"], bool)
    assert prov["seed"] == 0 and prov["wall_time_s"] > 0 and prov["date_utc"].startswith("20")
    assert rec["config"]["batch_size"] == 2 and rec["peak_tflops"] is None
    assert len(rec["table_before"]) == 16 and rec["table_before"][0]["name"] == "fc8.0"
    for label in ("sgd", "lars"):
        run = rec["runs"][label]
        assert len(run["loss"]) == 2 and all(v > 0 for v in run["loss"])
        assert run["images_per_second"] > 0 and run["mfu"] is None
        assert len(run["table_after"]) == 16
        # training moved the weights: the after-table differs from the before-table
        assert run["table_after"][1]["weight_norm"] != rec["table_before"][1]["weight_norm"]
    found = load_results(tmp_path)
    assert [r["path"] for r in found] == [str(tmp_path / "tiny" / "result.json")]
    assert load_results(tmp_path, device_type="cuda") == []


@pytest.mark.slow
def test_run_on_an_image_folder_with_peak_gives_mfu(tmp_path):
    folder = write_image_folder(tmp_path / "imgs", num_classes=2, per_class=2, image_size=240)
    cfg = ExperimentConfig(batch_size=2, steps=2, train_images=2, eval_images=2, num_classes=2,
                           data=str(folder), peak_tflops=1.0, log_every=5, exclude_bias=True)
    rec = run_experiment(cfg)
    run = rec["runs"]["lars"]
    assert run["mfu"] == pytest.approx(rec["flops_per_image"] * run["images_per_second"] / 1e12)
    path = write_result("folder_run", rec, tmp_path / "res")
    assert json.loads(path.read_text())["config"]["data"] == str(folder)


@pytest.mark.parametrize("kw,match", [
    (dict(batch_size=0), "batch_size"), (dict(steps=0), "steps"), (dict(lr_sgd=0.0), "lr_sgd"),
    (dict(lr_lars=float("inf")), "lr_lars"), (dict(momentum=1.0), "momentum"),
    (dict(weight_decay=-1.0), "weight_decay"), (dict(trust_coefficient=0.0), "trust_coefficient"),
    (dict(precision="fp8"), "precision"), (dict(precision="bf16"), "precision"),
    (dict(device="tpu"), "device"), (dict(data="/no/such/folder"), "data"),
    (dict(num_classes=1), "num_classes"), (dict(seed=-1), "seed"),
    (dict(warmup_steps=-2), "warmup_steps"), (dict(peak_tflops=0.0), "peak_tflops"),
    (dict(exclude_bias=1), "exclude_bias"), (dict(lr_in_buffer="paper"), "lr_in_buffer"),
    (dict(init="caffe"), "init"),
])
def test_config_rejects_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(**kw).validate()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only message")
def test_cuda_without_gpu_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        main(["--device", "cuda", "--steps", "1"])
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_peak_table_and_result_names(tmp_path):
    assert peak_tflops("NVIDIA A100-SXM4-80GB", "tf32") == 156.0
    assert peak_tflops("Tesla T4", "fp32") is None
    with pytest.raises(ValueError, match="name"):
        write_result("../escape", {"provenance": {}}, tmp_path)


# --- stored results are package data; provenance without a checkout ----------------------

def _record(device_type="cuda", date="2026-01-01T00:00:00+00:00"):
    return {"experiment": "alexnet_large_batch",
            "provenance": {"device_type": device_type, "date_utc": date}}


def test_load_results_reads_the_packaged_store_by_default(tmp_path, monkeypatch):
    monkeypatch.setattr(exp, "stored_results", lambda: tmp_path / "store")
    assert load_results() == []   # no run stored: the folder does not exist
    for name, rec in {"old": _record(date="2025-01-01T00:00:00+00:00"), "new": _record(),
                      "cpu": _record("cpu"), "other": {"experiment": "something else", "provenance": {}}}.items():
        write_result(name, rec, tmp_path / "store")
    (tmp_path / "store" / "stray-file.txt").write_text("not a run")
    found = load_results(device_type="cuda")
    # packaged runs are named by their path in the package (the same in the repository)
    assert [r["path"] for r in found] == ["lec4lib/data/results/new/result.json",
                                          "lec4lib/data/results/old/result.json"]
    assert len(load_results()) == 3


def test_the_packaged_store_is_lec4lib_data_results():
    store = exp.stored_results()
    assert store == resources.files("lec4lib").joinpath("data/results")
    assert exp.STORED_RESULTS == "lec4lib/data/results"


@pytest.mark.slow
def test_command_line_writes_to_the_packaged_store_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(exp, "stored_results", lambda: tmp_path / "store")
    assert main([*TINY, "--name", "default_dir"]) == 0
    assert (tmp_path / "store" / "default_dir" / "result.json").is_file()
    assert "commit lec4lib/data/results/default_dir/" in capsys.readouterr().err


def test_package_data_includes_stored_results():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["lec4lib"]
    assert any(fnmatch.fnmatch("data/results/alexnet_b4096/result.json", g) for g in globs)
    assert any(fnmatch.fnmatch("data/slide_map.yml", g) for g in globs)


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                   cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def fake_install(monkeypatch):
    """Point source_revision at a given package folder and install metadata."""
    def install(pkg, direct_url=None):
        monkeypatch.setattr(results.resources, "files", lambda name: pkg)

        class Dist:
            def read_text(self, filename):
                return None if direct_url is None else json.dumps(direct_url)

        monkeypatch.setattr(results.metadata, "distribution", lambda name: Dist())
    return install


def test_source_revision_of_a_checkout_that_tracks_lec4lib(tmp_path, fake_install):
    pkg = tmp_path / "repo" / "lec4lib"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    _git(tmp_path / "repo", "init", "-q")
    _git(tmp_path / "repo", "add", "lec4lib/__init__.py")
    _git(tmp_path / "repo", "commit", "-q", "-m", "x")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=pkg, capture_output=True,
                          text=True, check=True).stdout.strip()
    fake_install(pkg)
    assert results.source_revision() == (head, False)
    (pkg / "__init__.py").write_text("changed = 1\n")
    assert results.source_revision() == (head, True)


def test_source_revision_ignores_a_repository_that_only_surrounds_the_package(tmp_path,
                                                                              fake_install):
    # a virtual environment inside some checkout: git finds that checkout, which does not
    # track this lec4lib, so its commit says nothing about the code that ran
    repo = tmp_path / "repo"
    pkg = repo / "venv" / "site-packages" / "lec4lib"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (repo / "README").write_text("x")
    _git(repo, "init", "-q")
    _git(repo, "add", "README")
    _git(repo, "commit", "-q", "-m", "x")
    fake_install(pkg)
    assert results.source_revision() == (None, None)
    commit = "0123456789abcdef0123456789abcdef01234567"
    fake_install(pkg, {"url": "https://example.invalid/lec4",
                       "vcs_info": {"vcs": "git", "commit_id": commit}})
    assert results.source_revision() == (commit, False)   # pip's record of a git install
    fake_install(pkg, {"url": "file:///somewhere", "dir_info": {}})
    assert results.source_revision() == (None, None)


def test_a_run_is_reproducible_and_leaves_the_global_generator_alone():
    """Dropout is seeded by the run (it drew from the unseeded global generator, so two runs
    of the book's CPU cell gave different losses); the caller's generator state survives."""
    cfg = dict(device="cpu", batch_size=2, steps=2, train_images=2, eval_images=2, seed=0, log_every=1)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = exp.run_experiment(ExperimentConfig(**cfg))
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(456)
    second = exp.run_experiment(ExperimentConfig(**cfg))
    for label in ("sgd", "lars"):
        assert first["runs"][label]["loss"] == second["runs"][label]["loss"]


def test_tf32_flags_are_restored_after_the_block():
    cuda = torch.device("cuda")
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        with exp._matmul_precision(cuda, "tf32"):
            assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        with exp._matmul_precision(cuda, "fp32"):
            assert not torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


class _Stop(Exception):
    pass


def test_lars_runs_in_the_papers_form_by_default_and_the_cli_can_switch(monkeypatch):
    """You et al. 2017, Algorithm 1 puts the rate in the buffer: the experiment's default."""
    assert ExperimentConfig().lr_in_buffer is True and ExperimentConfig().init == "slide"
    seen = []

    def fake_run(cfg):
        seen.append((cfg.lr_in_buffer, cfg.init))
        raise _Stop

    monkeypatch.setattr(exp, "run_experiment", fake_run)
    for argv in ([], ["--lars-rate-outside-buffer", "--init", "bvlc"]):
        with pytest.raises(_Stop):
            main(["--device", "cpu", "--results-dir", "/nonexistent-unused", *argv])
    assert seen == [(True, "slide"), (False, "bvlc")]


@pytest.mark.parametrize("lr_in_buffer", [True, False])
def test_the_lars_of_the_experiment_gets_the_form_and_the_init(monkeypatch, lr_in_buffer):
    made = []

    def recording_lars(groups, **kw):
        made.append(kw)
        raise _Stop

    monkeypatch.setattr(exp, "LARS", recording_lars)
    inits = []
    real_alexnet = exp.AlexNet

    def recording_alexnet(*args, **kw):
        inits.append(kw.get("init"))
        return real_alexnet(*args, **kw)

    monkeypatch.setattr(exp, "AlexNet", recording_alexnet)
    cfg = ExperimentConfig(batch_size=1, steps=1, train_images=1, eval_images=1, num_classes=2,
                           lr_in_buffer=lr_in_buffer, init="bvlc")
    with pytest.raises(_Stop):
        run_experiment(cfg)
    assert made[0]["lr_in_buffer"] is lr_in_buffer and inits == ["bvlc"]
