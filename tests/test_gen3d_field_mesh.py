"""Density + colour fields -> textured mesh (the NeRF export), on an analytic sphere."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from procdream.gen3d.export.field_mesh import ExtractionError, FieldMeshConfig, extract
from procdream.gen3d.export.gltf import write_glb

RADIUS = 0.5


def density(p):
    return 10.0 / (1.0 + np.exp(-(RADIUS - np.linalg.norm(p, axis=1)) * 60.0))


def color(p):
    # Red on the +x half, blue on the -x half: the bake must put each colour on its side.
    return np.where(p[:, :1] > 0, [[1.0, 0.0, 0.0]], [[0.0, 0.0, 1.0]])


def test_sphere_exports_as_a_closed_textured_mesh_in_the_callers_frame(tmp_path):
    cfg = FieldMeshConfig(resolution=64, texture_size=256, target_faces=2000, level=5.0)
    m = extract(density, color, cfg, to_world=lambda x: x * 4.0 + np.array([10.0, 0.0, -3.0]))
    local = (m.positions - [10.0, 0.0, -3.0]) / 4.0
    r = np.linalg.norm(local, axis=1)
    np.testing.assert_allclose(r, RADIUS, atol=2 * 2.0 / 63)  # within two grid steps of the level set
    assert m.manifold and abs(len(m.faces) - 2000) <= 200 and m.faces_before_simplify > 2000
    # Sample the texture at each vertex's UV: colours follow the side of the sphere.
    px = np.clip((m.uvs * [256, 256]).astype(int), 0, 255)
    texel = m.texture[255 - px[:, 1], px[:, 0]].astype(float) / 255
    side = local[:, 0]
    clear = np.abs(side) > 0.05
    assert np.mean((texel[clear, 0] > texel[clear, 2]) == (side[clear] > 0)) > 0.97
    path = write_glb(tmp_path / "mesh.glb", m.positions, m.faces, m.uvs, m.texture)
    loaded = trimesh.load(path, force="mesh", process=False)
    assert loaded.visual.uv is not None and len(loaded.faces) == len(m.faces)
    np.testing.assert_allclose(loaded.bounds.mean(axis=0), [10.0, 0.0, -3.0], atol=0.1)


def test_a_field_with_no_surface_is_a_clear_error():
    with pytest.raises(ExtractionError, match="never crosses"):
        extract(lambda p: np.zeros(len(p)), color, FieldMeshConfig(resolution=16, texture_size=256))
