"""Sketch to asset end to end on the CPU at small sizes: a box sketch with the analytic prior gives a
mesh at the box's place and scale, close to its volume, textured in the prompt's colour; RGB
refinement; the CLI; bad sketches."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import trimesh
from PIL import Image

from conftest import ROOT
from procdream.gen3d.export.field_mesh import FieldMeshConfig
from procdream.gen3d.guidance.colors import color_from_prompt
from procdream.gen3d.nerf.hashgrid import HashGridConfig
from procdream.gen3d.nerf.model import LatentNeRFConfig
from procdream.gen3d.nerf.occupancy import OccupancyConfig
from procdream.gen3d.nerf.render import RenderConfig
from procdream.gen3d.nerf.run import sketch_to_asset, surface_level
from procdream.gen3d.nerf.sketch import SketchConfig, SketchError
from procdream.gen3d.nerf.train import TrainConfig
from procdream.gen3d.nerf.winding import TriangleBVH


def small(steps: int, **kw) -> TrainConfig:
    """Test sizes: 32x32 renders, 32 samples per ray, an 8-level 2^15 hash grid."""
    return TrainConfig(steps=steps, render_size=32, preview_every=50,
                       model=LatentNeRFConfig(grid=HashGridConfig(n_levels=8, log2_table_size=15, finest_resolution=256)),
                       render=RenderConfig(n_samples=32), occupancy=OccupancyConfig(resolution=32),
                       sketch=SketchConfig(grid_resolution=64), **kw)


EXPORT = FieldMeshConfig(resolution=64, texture_size=256, target_faces=2000, level=surface_level(0.2))
# A box in centimetres, away from the origin: the result must land there at that scale.
BOX = trimesh.creation.box(extents=(200.0, 100.0, 150.0))
BOX.apply_translation((300.0, 100.0, -200.0))


@pytest.fixture(scope="module")
def box_asset(tmp_path_factory):
    out = tmp_path_factory.mktemp("sketch")
    previews = []
    summary = sketch_to_asset(BOX.vertices, BOX.faces, "a crimson crate", out, guidance="analytic", device="cpu",
                              cfg=small(300), export=EXPORT, up_axis="y", on_preview=previews.append)
    return out, summary, previews


@pytest.mark.slow
def test_box_sketch_gives_a_box_shaped_red_mesh_in_place(box_asset):
    out, summary, previews = box_asset
    mesh = trimesh.load(out / "mesh.glb", force="mesh", process=False)
    lo, hi = BOX.bounds
    np.testing.assert_allclose(mesh.bounds.mean(axis=0), BOX.bounds.mean(axis=0), atol=0.05 * 200)
    np.testing.assert_allclose(mesh.bounds[1] - mesh.bounds[0], hi - lo, rtol=0.2)
    rng = np.random.default_rng(0)
    pts = rng.uniform(lo - 40, hi + 40, size=(20000, 3))
    in_box = np.all((pts > lo) & (pts < hi), axis=1)
    in_mesh = np.abs(TriangleBVH(mesh.vertices, mesh.faces).winding_number(pts)) > 0.5
    iou = (in_box & in_mesh).sum() / (in_box | in_mesh).sum()
    assert iou > 0.7, iou
    assert summary["manifold"] and mesh.visual.uv is not None
    texture = np.asarray(Image.open(out / "texture.png").convert("RGB")).reshape(-1, 3) / 255.0
    np.testing.assert_allclose(texture.mean(axis=0), color_from_prompt("crimson")[1], atol=0.05)
    assert len(previews) == 6 and previews[0].shape == (256, 256, 3)
    result = json.loads((out / "result.json").read_text())
    assert result["test_prior"] and result["steps"] == 300


def test_rgb_refinement_trains_the_linear_head(tmp_path):
    from procdream.gen3d.guidance.base import GuidanceConfig
    from procdream.gen3d.guidance.latent_rgb import latent_rgb_matrix
    from procdream.gen3d.nerf.sketch import load_sketch
    from procdream.gen3d.nerf.train import SketchTrainer
    from procdream.gen3d.paint.run import get_guidance

    field, _ = load_sketch(BOX.vertices, BOX.faces, SketchConfig(grid_resolution=32))
    g = get_guidance("analytic", None, "cpu", GuidanceConfig())
    trainer = SketchTrainer(field, g, "teal", cfg=small(3, refine_steps=4))
    trainer.run()
    assert trainer.stage == "rgb" and trainer.step_count == 7
    moved = (trainer.rgb_head.weight.detach().T - latent_rgb_matrix()).abs().max()
    assert moved > 0  # the head trained in the RGB stage
    rgb = trainer.color_fn(np.zeros((5, 3), np.float32))
    assert rgb.shape == (5, 3) and np.all((rgb >= 0) & (rgb <= 1))


def test_bad_sketches_are_named(tmp_path):
    plane = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], [[0, 1, 2], [1, 3, 2]], process=False)
    with pytest.raises(SketchError, match="no volume"):
        sketch_to_asset(plane.vertices, plane.faces, "red", tmp_path, guidance="analytic", device="cpu",
                        cfg=small(1), export=EXPORT, up_axis="y")
    with pytest.raises(SketchError, match="decimate"):
        cfg = small(1)
        cfg.sketch = SketchConfig(grid_resolution=64, max_faces=10)
        sketch_to_asset(BOX.vertices, BOX.faces, "red", tmp_path, guidance="analytic", device="cpu", cfg=cfg,
                        export=EXPORT, up_axis="y")
    with pytest.raises(SketchError, match="extent|size"):
        sketch_to_asset(np.zeros((8, 3)), BOX.faces, "red", tmp_path, guidance="analytic", device="cpu",
                        cfg=small(1), export=EXPORT, up_axis="y")
    assert not (tmp_path / "mesh.glb").exists()


def test_cli_sketch_writes_an_asset_and_rejects_an_open_sketch(tmp_path):
    BOX.export(tmp_path / "box.obj")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "procdream.gen3d", "sketch", str(tmp_path / "box.obj"), "--prompt", "gold",
           "--guidance", "analytic", "--steps", "2", "--texture-size", "256", "--mesh-resolution", "32",
           "--target-faces", "500", "--out", str(out), "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {"mesh.glb", "texture.png", "result.json"} <= {p.name for p in out.iterdir()}
    plane = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], [[0, 1, 2], [1, 3, 2]], process=False)
    plane.export(tmp_path / "plane.obj")
    proc = subprocess.run(cmd[:4] + [str(tmp_path / "plane.obj")] + cmd[5:], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 2 and "no volume" in proc.stderr and "Traceback" not in proc.stderr
