"""Biome assets (issue 14): the clutter families, their scatter where cameras look, and bad input."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from procdream.procgen.generators import clutter, ground_cover, visibility
from procdream.procgen.params import ParamError, replace_checked
from procdream.render_gt.labels import CATEGORIES

SOLIDS = ("pebble", "twig", "log", "cactus", "mushroom")
CARDS = ("leaf_litter", "dead_grass", "bush", "fern")

HASHES = """
import bpy, numpy as np
from procdream.procgen.generators import clutter
from procdream.procgen.params import geometry_hash
bpy.ops.wm.read_factory_settings(use_empty=True)
for name, (sample, build, _) in sorted(clutter.FAMILIES.items()):
    print(name, geometry_hash([build(sample(np.random.default_rng({seed})))]))
"""


def _hashes(seed: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", HASHES.format(seed=seed)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(line.split() for line in proc.stdout.splitlines() if line.split()[0] in clutter.FAMILIES)


def test_every_family_is_deterministic_across_processes_and_seeds():
    a, b, c = _hashes(5), _hashes(5), _hashes(6)
    assert set(a) == set(clutter.FAMILIES) == set(SOLIDS + CARDS)
    for name in a:
        assert a[name] == b[name] != c[name], name


def test_every_family_has_its_own_category():
    categories = [cat for _, _, cat in clutter.FAMILIES.values()]
    assert len(set(categories)) == len(categories)
    assert all(cat in CATEGORIES for cat in categories)
    assert set(clutter.DEFAULTS) == set(clutter.FAMILIES)


@pytest.mark.parametrize("name", SOLIDS + CARDS)
def test_meshes_are_valid_and_stand_on_the_ground(bpy, name):
    import bmesh

    sample, build, category = clutter.FAMILIES[name]
    for seed in range(3):
        obj = build(sample(np.random.default_rng(seed)))
        assert obj["procdream_category"] == category
        bm = bmesh.new()
        bm.from_mesh(obj.data)
        assert min(f.calc_area() for f in bm.faces) > 1e-10  # no degenerate faces
        co = np.array([v.co[:] for v in bm.verts])
        if name in SOLIDS:
            # Closed 2-manifold shells, outward normals (positive volume).
            assert all(e.is_manifold for e in bm.edges), name
            assert bm.calc_volume(signed=True) > 0
        else:
            assert obj.data.uv_layers, "cards need UVs for the leaf/straw material"
        # Resting on the ground: the lowest point is at (or just above / sunk below) z = 0.
        assert -0.6 * max(np.ptp(co, axis=0)) < co[:, 2].min() < 0.05
        bm.free()


def test_out_of_range_params_name_the_field():
    with pytest.raises(ParamError, match=r"CactusParams.ribs = 99 is outside its range"):
        replace_checked(clutter.CactusParams(), ribs=99)
    with pytest.raises(ParamError, match=r"PebbleParams.size_m = 5.0 is outside its range"):
        replace_checked(clutter.PebbleParams(), size_m=5.0)


def test_visibility_mask_is_the_frustum_within_range():
    pos = np.array([[0.0, 0.0, 2.0]])
    look = np.array([[10.0, 0.0, 2.0]])  # looking along +x
    pts = np.array([[10, 0, 0], [10, 30, 0], [-5, 0, 0], [30, 0, 0], [15, 6, 0]], float)
    seen = visibility.seen(pts, pos, look, focal_mm=36.0, max_distance_m=20.0, margin_m=0.0)
    # 36 mm lens on 36 mm: half-angle atan(0.5) = 26.6 deg; (15, 6) is at 21.8 deg.
    assert seen.tolist() == [True, False, False, False, True]
    # A margin admits points just outside the frustum, and points just behind the camera.
    grown = visibility.seen(np.array([[-1.0, 0, 2]]), pos, look, 36.0, 20.0, margin_m=2.0)
    assert grown.tolist() == [True]


def test_scatter_is_created_only_where_a_frame_can_see(bpy):
    from procdream.procgen.generators import cameras
    from procdream.procgen.scenes import compose

    r = compose("desert", 0, ["trees.density = 0", "rocks.enabled = False"], n_frames=3)
    positions, targets = cameras.trajectory(r.plan.camera, 3, r.sampler)
    dg = bpy.context.evaluated_depsgraph_get()
    cell = r.plan.terrain.extent_m / (r.plan.terrain.resolution - 1)
    checked = 0
    for family in ("pebble", "cactus", "dead_grass"):
        host = f"{family}_scatter"
        pts = np.array([inst.matrix_world.translation[:] for inst in dg.object_instances
                        if inst.is_instance and inst.parent and inst.parent.original.name == host])
        assert len(pts) > 0, family
        layer = r.plan.clutter[family]["layer"]
        reach = ground_cover.MASK_DISTANCE_M[layer.mask]
        # Instances sit on faces whose centre was seen: allow one cell (and the 2 m frustum margin).
        ok = visibility.seen(pts, positions, targets, r.plan.camera.focal_mm, reach + cell, margin_m=2.0 + cell)
        assert ok.all(), f"{family}: {int((~ok).sum())} of {len(pts)} instances outside every view"
        checked += len(pts)
    # Without view masks the same densities over the whole near terrain would make many more.
    area = r.plan.terrain.extent_m ** 2
    full = sum(r.plan.clutter[f]["layer"].density_per_m2 for f in ("pebble", "cactus", "dead_grass")) * area
    assert checked < 0.5 * full


@pytest.mark.parametrize(("binding", "message"), [
    ("clutter.densities = {'pebbel': 1.0}", "clutter: unknown asset family 'pebbel'; known: bush, cactus"),
    ("clutter.densities = {'pebble': 900.0}", "clutter.densities['pebble'] = 900.0 must be in [0, 400]"),
    ("clutter.materials = {'pebble': 'lava'}", "unknown material 'lava'; known:"),
    ("clutter.variants = 0", "clutter.variants = 0 must be an integer in [1, 32]"),
])
def test_bad_clutter_settings_fail_before_building(bpy, binding, message):
    from procdream.procgen.scenes import SceneConfigError, compose

    n_objects = len(bpy.data.objects)
    params = [binding] if "densities" in binding else ["clutter.densities = {'pebble': 1.0}", binding]
    with pytest.raises(SceneConfigError, match=re.escape(message)):
        compose("meadow", 0, params)
    assert len(bpy.data.objects) == n_objects
