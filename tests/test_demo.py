"""The demo builds a procedural scene and writes frames with ground truth and previews."""

from __future__ import annotations

import json

import numpy as np

from conftest import ROOT, run_python
from procdream.render_gt import load_frame


def test_demo_renders_a_scene_with_ground_truth(tmp_path):
    proc = run_python([str(ROOT / "scripts/demo_render.py"), "--out", str(tmp_path), "--frames", "2",
                       "--resolution", "64", "48", "--samples", "2", "--gin-param", "terrain.resolution=24"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    scene = tmp_path / "scene_000000"
    assert "previews: " in proc.stdout and (scene / "frame_0001" / "preview.png").is_file()
    info = json.loads((scene / "scene.json").read_text())
    assert info["seed"] == 0 and info["params"]["scene_type"] == "meadow"
    names = {o["name"] for o in info["objects"]}
    assert {"terrain", "grass_cover"} <= names
    f = load_frame(scene / "frame_0001")
    assert f["rgb"].shape == (48, 64, 3) and f["rgb"].std() > 3
    assert np.isfinite(f["depth"]).any() and (f["instance"] > 0).any()
    assert "flow_forward" in f and "flow_backward" not in f


def test_demo_rejects_bad_input(tmp_path):
    proc = run_python([str(ROOT / "scripts/demo_render.py"), "--out", str(tmp_path), "--resolution", "0", "48"])
    assert proc.returncode == 2 and "--resolution, --samples and --frames must be positive" in proc.stderr
    proc = run_python([str(ROOT / "scripts/demo_render.py"), "--out", str(tmp_path), "--gin-param", "trees.densty=1"])
    assert proc.returncode == 2 and "densty" in proc.stderr
    assert not list(tmp_path.iterdir())
