"""The GPU experiment path, run at tiny scale on the CPU (command line and function)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from lec4lib.experiments.alexnet_large_batch import (ExperimentConfig, load_results, main,
                                                     peak_tflops, run_experiment, write_result)
from lec4lib.images import write_image_folder

TINY = ["--device", "cpu", "--batch-size", "2", "--steps", "2", "--train-images", "2",
        "--eval-images", "2", "--num-classes", "10"]


@pytest.mark.slow
def test_command_line_run_writes_result_with_provenance(tmp_path, root):
    cmd = [sys.executable, "-m", "lec4lib.experiments.alexnet_large_batch", *TINY,
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
    path = write_result(rec, tmp_path / "res", "folder_run")
    assert json.loads(path.read_text())["config"]["data"] == str(folder)


@pytest.mark.parametrize("kw,match", [
    (dict(batch_size=0), "batch_size"), (dict(steps=0), "steps"), (dict(lr_sgd=0.0), "lr_sgd"),
    (dict(lr_lars=float("inf")), "lr_lars"), (dict(momentum=1.0), "momentum"),
    (dict(weight_decay=-1.0), "weight_decay"), (dict(trust_coefficient=0.0), "trust_coefficient"),
    (dict(precision="fp8"), "precision"), (dict(precision="bf16"), "precision"),
    (dict(device="tpu"), "device"), (dict(data="/no/such/folder"), "data"),
    (dict(num_classes=1), "num_classes"), (dict(seed=-1), "seed"),
    (dict(warmup_steps=-2), "warmup_steps"), (dict(peak_tflops=0.0), "peak_tflops"),
    (dict(exclude_bias=1), "exclude_bias"),
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
        write_result({}, tmp_path, "../escape")
