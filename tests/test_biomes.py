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
from procdream.render_gt.camera import pixel_rays
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


@pytest.mark.compat
def test_every_family_is_deterministic_across_processes_and_seeds():
    a, b, c = _hashes(5), _hashes(5), _hashes(6)
    assert set(a) == set(clutter.FAMILIES) == set(SOLIDS + CARDS)
    for name in a:
        assert a[name] == b[name] != c[name], name


@pytest.mark.compat
def test_every_family_has_its_own_category():
    categories = [cat for _, _, cat in clutter.FAMILIES.values()]
    assert len(set(categories)) == len(categories)
    assert all(cat in CATEGORIES for cat in categories)
    assert set(clutter.DEFAULTS) == set(clutter.FAMILIES)


@pytest.mark.compat
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


@pytest.mark.compat
def test_out_of_range_params_name_the_field():
    with pytest.raises(ParamError, match=r"CactusParams.ribs = 99 is outside its range"):
        replace_checked(clutter.CactusParams(), ribs=99)
    with pytest.raises(ParamError, match=r"PebbleParams.size_m = 5.0 is outside its range"):
        replace_checked(clutter.PebbleParams(), size_m=5.0)


@pytest.mark.compat
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


@pytest.mark.compat
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


@pytest.mark.compat
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


@pytest.mark.slow
@pytest.mark.parametrize(("scene_type", "seed"), [("coast", 1), ("lake", 0)])
def test_water_depth_is_the_water_surface_and_water_has_its_class(bpy, tmp_path, scene_type, seed):
    import json

    from procdream.procgen.scenes import compose
    from procdream.render_gt.config import RenderConfig
    from procdream.render_gt.render import render_sequence

    bpy.ops.wm.read_factory_settings(use_empty=True)
    # No trees or ground cover: they would hide the water this test measures.
    r = compose(scene_type, seed, ["trees.density = 0", "ground_cover.enabled = False"], n_frames=1)
    level = r.plan.water["level_m"]
    render_sequence(bpy.context.scene, [1], tmp_path, RenderConfig(96, 72, 1, preview=False))
    frame = tmp_path / "frame_0001"
    depth, semantic = np.load(frame / "depth.npy"), np.load(frame / "semantic.npy")
    water = semantic == CATEGORIES["water"]
    assert water.mean() > 0.02, f"the {scene_type} frame should show its water"
    cam = json.loads((frame / "camera.json").read_text())
    K, pose = np.array(cam["K"]), np.array(cam["world_from_camera"])
    h, w = depth.shape
    dz = (pixel_rays(K, w, h) @ pose[:3, :3].T)[..., 2]
    # Planar depth of the plane z = level along each pixel's ray (camera-z of the ray is 1).
    expected = (level - pose[2, 3]) / dz
    # Each water pixel's 3D point lies on the surface: within 5 mm in height (Cycles intersects in
    # float32 against a world-sized slab, which at grazing angles moves the depth by up to 0.06%);
    # the sea floor is metres below.
    height_error = np.abs(depth[water] - expected[water]) * np.abs(dz[water])
    assert height_error.max() < 5e-3  # measured 2.3 mm at 290 m on an 8 km triangle
    assert np.median(np.abs(depth[water] / expected[water] - 1)) < 1e-4
    info = json.loads((tmp_path / "scene.json").read_text())
    assert [o["category"] for o in info["objects"] if o["name"] == "water"] == ["water"]


@pytest.mark.compat
def test_scatter_never_reaches_the_far_field_even_without_view_masks(bpy):
    # A terrain built on its own has the near/far attribute but no view masks: cover must stay on
    # the near grid (a missing mask opening the far field meant 10^8 instances and an OOM).
    from procdream.procgen.generators import terrain

    ter, _ = terrain.build(replace_checked(terrain.TerrainParams(), height_m=0.0, resolution=16, extent_m=20.0))
    layer = replace_checked(ground_cover.CoverLayer(), density_per_m2=5.0, mask_threshold=0.0)
    host = ground_cover.scatter_host("pebble_test", "pebble", layer,
                                     [clutter.build_pebble(clutter.PebbleParams(), collection=False)], ter)
    dg = bpy.context.evaluated_depsgraph_get()
    pts = np.array([i.matrix_world.translation[:] for i in dg.object_instances
                    if i.is_instance and i.parent and i.parent.original == host])
    assert 0.5 * 5.0 * 400 < len(pts) < 1.5 * 5.0 * 400  # 20 m x 20 m at 5 /m^2
    assert np.abs(pts[:, :2]).max() <= 10.0 + 1e-4


@pytest.mark.compat
def test_snow_cover_is_a_closed_shell_on_the_up_faces_only(bpy):
    import bmesh

    from procdream.procgen.generators import snow_cover

    # A level 2 m x 2 m grid: every vertex normal is +z, so the shell is exactly
    # thickness + embed thick over the whole area (drift off).
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=8, y_subdivisions=8, size=2.0)
    plane = bpy.context.object
    p = replace_checked(snow_cover.SnowCoverParams(), thickness_m=0.05, drift=0.0, embed_m=0.01)
    shell = snow_cover.build(p, plane)
    bm = bmesh.new()
    bm.from_mesh(shell.data)
    assert all(e.is_manifold for e in bm.edges)
    assert min(f.calc_area() for f in bm.faces) > 1e-10
    assert bm.calc_volume(signed=True) == pytest.approx(4.0 * 0.06, rel=1e-4)
    bm.free()
    assert shell["procdream_category"] == "snow" and shell.parent == plane
    # Tilted 70 degrees, the faces' up component is cos 70 = 0.34 < min_up: no snow settles.
    plane.rotation_euler[0] = np.radians(70.0)
    bpy.context.view_layer.update()
    assert snow_cover.build(p, plane) is None


@pytest.mark.compat
def test_snow_on_rocks_is_manifold_and_deterministic(bpy):
    import bmesh

    from procdream.procgen.generators import rocks, snow_cover
    from procdream.procgen.params import geometry_hash

    hashes = []
    for seed in (0, 0, 1):
        bpy.ops.wm.read_factory_settings(use_empty=True)  # same names each time: the hash includes them
        rock = rocks.build(rocks.sample_boulder_params(np.random.default_rng(seed)))
        shell = snow_cover.build(snow_cover.sample_params(np.random.default_rng(seed)), rock)
        bm = bmesh.new()
        bm.from_mesh(shell.data)
        assert all(e.is_manifold for e in bm.edges) and bm.calc_volume(signed=True) > 0
        bm.free()
        hashes.append(geometry_hash([shell]))
    assert hashes[0] == hashes[1] != hashes[2]


@pytest.mark.compat
def test_leaf_prototypes_put_v_along_the_midrib_and_mesh_leaves_inside_the_outline(bpy):
    from procdream.procgen.generators.leaf_instances import LeafOutline, card_prototype, leaf_mesh_prototype

    def uv_and_co(obj):
        loops = np.array([lp.vertex_index for lp in obj.data.loops])
        uv = np.array([d.uv[:] for d in obj.data.uv_layers[0].data])
        co = np.array([v.co[:] for v in obj.data.vertices])[loops]
        return uv, co

    # The leaf materials draw V from stem to tip and U across (materials/leaf_card.py).
    uv, co = uv_and_co(card_prototype("card", 0.4, 0.2))
    assert np.allclose(uv[:, 1], co[:, 0] / 0.4) and np.allclose(uv[:, 0], 0.5 + co[:, 1] / 0.2)
    outline = LeafOutline(width=0.4, base_taper=1.0, tip_taper=1.2, edge_softness=0.02)
    leaf = leaf_mesh_prototype("leaf", 0.4, 0.2, outline)
    assert min(p.area for p in leaf.data.polygons) > 1e-8
    uv, co = uv_and_co(leaf)
    assert np.allclose(uv[:, 1], co[:, 0] / 0.4)
    v = uv[:, 1]
    a, b = outline.base_taper, outline.tip_taper
    half = outline.width / ((a / (a + b)) ** a * (b / (a + b)) ** b) * v ** a * (1 - v) ** b
    # Inside the material's opaque part: the silhouette is geometry, alpha is 1 on all of it.
    across = np.abs(uv[:, 0] - 0.5)
    assert np.all(across <= half + 1e-6)
    wide = half > 2.5 * outline.edge_softness  # where the blade is wider than its soft edge
    assert np.all(across[wide] <= half[wide] - outline.edge_softness + 1e-6)
    assert np.abs(uv[:, 0] - 0.5).max() > 0.3  # and it is a blade, not a sliver


def test_a_stand_has_one_to_three_species_growing_in_patches():
    from procdream.procgen.generators import trees

    for seed in range(6):
        stand = trees.sample_stand(np.random.default_rng(seed), ("conifer", "broadleaf", "dead", "conifer"), 90.0)
        assert 1 <= len(stand.species) <= 3 and set(stand.species) <= {"conifer", "broadleaf", "dead"}
        xy = np.random.default_rng(99).uniform(-45, 45, size=(400, 2))
        here = [stand.species_at(x, y) for x, y in xy]
        there = [stand.species_at(x + 1.0, y) for x, y in xy]
        assert np.mean([a == b for a, b in zip(here, there, strict=True)]) > 0.85  # patches, not salt and pepper
    with pytest.raises(ParamError, match="tree species"):
        trees.sample_stand(np.random.default_rng(0), ("palm",), 90.0)


@pytest.mark.compat
@pytest.mark.parametrize(("binding", "message"), [
    ("rocks.in_view_fraction = 1.5", "rocks.in_view_fraction = 1.5 must be a probability in [0, 1]"),
    ("trees.in_view_distance_m = 2.0", "trees.in_view_distance_m = 2.0 must be in [5, 500] m"),
    ("trees.mesh_leaf_distance_m = -1.0", "trees.mesh_leaf_distance_m = -1.0 must be in [0, 500] m"),
    ("rocks.count = 5000", "rocks.count = 5000 must be an integer in [0, 2000]"),
    ("trees.density = 99.0", "trees.density = 99.0 must be in [0, 20]"),
])
def test_bad_placement_settings_fail_before_building(bpy, binding, message):
    from procdream.procgen.scenes import SceneConfigError, plan

    with pytest.raises(SceneConfigError, match=re.escape(message)):
        plan("mountain", 0, [binding])


@pytest.mark.compat
def test_a_lake_is_a_basin_below_the_water_inside_its_wobbly_shore():
    from procdream.procgen.generators import terrain

    # water_level 0: the surface is the lowest point of the un-dug terrain, so only the lake is wet.
    p = replace_checked(terrain.sample_params(np.random.default_rng(4)), water_level=0.0, lake_depth_m=3.0, erosion_iterations=0,
                        resolution=64, extent_m=80.0)
    w = terrain.WorldHeight(p)
    a = np.radians(p.lake_angle_deg)
    cx, cy = p.lake_distance_m * np.cos(a), p.lake_distance_m * np.sin(a)
    ang = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    level = w.water_level_m
    # Deepest at the centre, dry beyond the widest shore, wet inside the narrowest.
    assert w.analytic(np.array([cx]), np.array([cy]))[0] == pytest.approx(level - p.lake_depth_m)
    inner, outer = p.lake_radius_m * (1 - p.lake_wobble), p.lake_radius_m * (1 + p.lake_wobble)
    ring = lambda r: w.analytic(cx + r * np.cos(ang), cy + r * np.sin(ang))  # noqa: E731
    assert (ring(0.98 * inner) < level).all() and (ring(1.02 * outer) >= level).all()
    # The shore wobbles: the wet radius differs by direction by more than a tenth of the radius.
    radii = np.linspace(0.5 * inner, 1.05 * outer, 400)
    wet = np.array([[w.analytic(np.array([cx + r * np.cos(t)]), np.array([cy + r * np.sin(t)]))[0] < level
                     for r in radii] for t in ang[::10]])
    shore = radii[wet.sum(axis=1) - 1]
    assert np.ptp(shore) > 0.1 * p.lake_radius_m
    # The near grid and the far field's function agree on the lake (one analytic basin).
    x, y = np.meshgrid(w.coords, w.coords)
    np.testing.assert_allclose(w.grid, w.analytic(x, y), atol=1e-9)
    # Without lake_depth_m the terrain is untouched.
    dry = terrain.WorldHeight(replace_checked(p, lake_depth_m=0.0))
    assert (dry.grid >= level - 1e-9).all() and np.abs(dry.grid - w.grid).max() > 2.0


@pytest.mark.compat
def test_terrain_is_diced_at_render_time_and_bad_dicing_is_named(bpy):
    from procdream.procgen.scenes import SceneConfigError, compose

    bpy.ops.wm.read_factory_settings(use_empty=True)
    r = compose("desert", 0, ["trees.density = 0", "ground_cover.enabled = False", "terrain.dicing_pixels = 2.0",
                              "terrain.max_subdivisions = 5"])
    ter = next(o for o in r.objects if o.name == "terrain")
    mod = ter.modifiers[-1]  # Cycles dices only the last modifier adaptively
    assert mod.type == "SUBSURF" and mod.subdivision_type == "SIMPLE"
    scene = bpy.context.scene
    assert scene.cycles.max_subdivisions == 5
    if hasattr(mod, "use_adaptive_subdivision"):  # Blender 5.0
        assert mod.use_adaptive_subdivision and mod.adaptive_space == "PIXEL" and mod.adaptive_pixel_size == 2.0
    else:  # 4.x: the object's Cycles settings, experimental feature set
        assert ter.cycles.use_adaptive_subdivision and ter.cycles.dicing_rate == 2.0
        assert scene.cycles.feature_set == "EXPERIMENTAL"
    # The terrain material moves the geometry, not only the shading normal.
    assert ter.data.materials[0].displacement_method in {"BOTH", "DISPLACEMENT"}
    # A ground with nothing to displace (grass) is not diced.
    bpy.ops.wm.read_factory_settings(use_empty=True)
    grass = next(o for o in compose("meadow", 0, ["trees.density = 0", "ground_cover.enabled = False"]).objects
                 if o.name == "terrain")
    assert not [m for m in grass.modifiers if m.type == "SUBSURF"]
    n_objects = len(bpy.data.objects)
    for binding, message in [("terrain.dicing_pixels = 0.1", "terrain.dicing_pixels = 0.1 must be 0 (off)"),
                             ("terrain.max_subdivisions = 12", "terrain.max_subdivisions = 12 must be")]:
        with pytest.raises(SceneConfigError, match=re.escape(message)):
            compose("meadow", 0, [binding])
    assert len(bpy.data.objects) == n_objects
