"""The placeholder demo renders a real Cycles image of the asked size."""

from __future__ import annotations

import numpy as np

from conftest import ROOT, run_python


def test_demo_render_writes_a_png(tmp_path, bpy):
    proc = run_python([str(ROOT / "scripts/demo_render.py"), "--out", str(tmp_path),
                       "--resolution", "64", "48", "--samples", "4"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "render.png"
    assert out.is_file() and not list(tmp_path.glob(".*tmp*"))
    img = bpy.data.images.load(str(out))
    assert tuple(img.size) == (64, 48)
    px = np.array(img.pixels[:]).reshape(48, 64, 4)
    # Sky at the top, a lit red sphere in the middle: the image is not flat.
    assert px[..., :3].std() > 0.05
    centre = px[20:28, 28:36, :3].mean(axis=(0, 1))
    assert centre[0] > centre[2], centre


def test_demo_rejects_bad_resolution(tmp_path):
    proc = run_python([str(ROOT / "scripts/demo_render.py"), "--out", str(tmp_path),
                       "--resolution", "0", "48"])
    assert proc.returncode == 2 and "--resolution and --samples must be positive" in proc.stderr
    assert not (tmp_path / "render.png").exists()
