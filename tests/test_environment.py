"""gen3d.environment reports packages, device and model, with a fix for each problem."""

from __future__ import annotations

import json

import pytest

from conftest import run_python
from procdream.gen3d import environment


def test_model_kinds(tmp_path):
    assert environment.describe_model(None)["kind"] == "none"
    folder = tmp_path / "sd"
    folder.mkdir()
    bad = environment.describe_model(str(folder))
    assert not bad["ok"] and "model_index.json" in bad["problem"]
    (folder / "model_index.json").write_text("{}")
    assert environment.describe_model(str(folder)) == {
        "path": str(folder), "kind": "diffusers-folder", "ok": True, "problem": None}
    single = tmp_path / "model.safetensors"
    single.write_bytes(b"")
    assert environment.describe_model(str(single))["kind"] == "single-file"
    txt = tmp_path / "model.txt"
    txt.write_text("x")
    assert "not a .safetensors or .ckpt" in environment.describe_model(str(txt))["problem"]
    assert "does not exist" in environment.describe_model(str(tmp_path / "nope"))["problem"]


def test_device_resolution():
    import torch

    with pytest.raises(ValueError, match="device must be one of"):
        environment.resolve_device("tpu")
    assert environment.resolve_device("cpu") == ("cpu", None)
    device, problem = environment.resolve_device("cuda")
    if torch.cuda.is_available():
        assert (device, problem) == ("cuda", None)
    else:
        assert device == "cpu" and "no CUDA GPU" in problem


def test_cli_reports_missing_model_with_a_fix(tmp_path):
    proc = run_python(["-m", "procdream.gen3d.environment", "--device", "cpu",
                       "--model", str(tmp_path / "missing")])
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["device"] == "cpu"
    assert all(report["packages"][name] for name in environment.REQUIRED)
    assert any("does not exist" in p for p in report["problems"])
    assert any("diffusers folder" in f for f in report["fixes"])


def test_cli_rejects_unknown_device():
    proc = run_python(["-m", "procdream.gen3d.environment", "--device", "tpu"])
    assert proc.returncode == 2 and "invalid choice: 'tpu'" in proc.stderr
