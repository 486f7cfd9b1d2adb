"""Ground truth checked against analytic answers, at 64x48."""

from __future__ import annotations

import json

import gt_scenes
import numpy as np
import pytest

from procdream.render_gt import RenderConfig, instances, labels, load_frame, render_sequence
from procdream.render_gt.camera import pixel_rays
from procdream.render_gt.render import RenderSetupError

pytestmark = pytest.mark.compat  # also on the Blender LTS releases (tests/test_versions.py)

W, H = 64, 48
CFG = RenderConfig(width=W, height=H, samples=4)


def render(scene, tmp_path, frames=(1,), cfg=CFG):
    render_sequence(scene, list(frames), tmp_path / "scene", cfg)
    return [load_frame(tmp_path / "scene" / f"frame_{f:04d}") for f in frames]


def test_plane_at_known_distance_has_constant_depth(bpy, tmp_path):
    scene = gt_scenes.empty_scene()
    gt_scenes.add_camera(scene, (0.3, -0.2, 4.0))
    gt_scenes.add_plane("ground")
    (f,) = render(scene, tmp_path)
    assert f["depth"].dtype == np.float32 and f["depth"].shape == (H, W)
    np.testing.assert_allclose(f["depth"], 4.0, rtol=1e-5)
    np.testing.assert_allclose(f["normal"].reshape(-1, 3), np.tile([0, 0, -1], (H * W, 1)), atol=1e-5)


def test_tilted_plane_matches_ray_plane_intersection(bpy, tmp_path):
    scene = gt_scenes.empty_scene()
    gt_scenes.add_camera(scene, (0.0, 0.0, 5.0), lens=35.0)
    gt_scenes.add_plane("slope", rotation_deg=(25.0, 10.0, 0.0))
    (f,) = render(scene, tmp_path)
    pose, K = f["world_from_camera"], f["K"]
    rays_world = pixel_rays(K, W, H) @ pose[:3, :3].T  # z_cam = 1 per ray
    normal = np.array(bpy.data.objects["slope"].matrix_world.to_3x3().col[2])
    centre = pose[:3, 3]
    t = -(centre @ normal) / (rays_world @ normal)  # planar depth, since each ray has z_cam = 1
    assert np.isfinite(f["depth"]).all()
    np.testing.assert_allclose(f["depth"], t, rtol=2e-5)
    # Normals: unit length, equal to the plane normal in the camera frame, facing the camera.
    n_cam = pose[:3, :3].T @ normal
    n_cam = -n_cam if n_cam[2] > 0 else n_cam
    np.testing.assert_allclose(f["normal"], np.broadcast_to(n_cam, (H, W, 3)), atol=1e-4)


def _camera_sliding_over_a_plane(depth: float, step: float):
    """A camera ``depth`` m above a plane, moving ``step`` m along its own +x per frame (frames 1-3)."""
    scene = gt_scenes.empty_scene()
    cam = gt_scenes.add_camera(scene, (0.0, 0.0, depth))
    gt_scenes.add_plane("ground")
    gt_scenes.keyframe_linear(cam, [(1, (0.0, 0.0, depth)), (3, (2 * step, 0.0, depth))])
    return scene


def test_camera_translation_gives_exact_flow_forward_and_backward(bpy, tmp_path):
    depth, step = 5.0, 0.25
    scene = _camera_sliding_over_a_plane(depth, step)
    frames = render(scene, tmp_path, frames=(1, 2, 3))
    fx = frames[0]["K"][0, 0]
    expected_u = -fx * step / depth  # the camera moves right, so the scene moves left
    assert "flow_backward" not in frames[0] and "flow_forward" not in frames[2]
    for f in frames[:2]:
        np.testing.assert_allclose(f["flow_forward"][..., 0], expected_u, rtol=1e-4)
        np.testing.assert_allclose(f["flow_forward"][..., 1], 0.0, atol=1e-4)
    for f in frames[1:]:
        np.testing.assert_allclose(f["flow_backward"][..., 0], -expected_u, rtol=1e-4)
        np.testing.assert_allclose(f["flow_backward"][..., 1], 0.0, atol=1e-4)
    # The camera really moved by `step` along its own x axis between frames.
    np.testing.assert_allclose(frames[1]["world_from_camera"][:3, 3] - frames[0]["world_from_camera"][:3, 3],
                               [step, 0, 0], atol=1e-6)


def test_render_frame_alone_gives_the_same_exact_flow(bpy, tmp_path):
    from procdream.render_gt import render_frame
    from procdream.render_gt.render import prepare

    depth, step = 5.0, 0.25
    scene = _camera_sliding_over_a_plane(depth, step)
    prepare(scene, CFG)
    table = instances.assign_instances(scene)
    render_frame(scene, 2, tmp_path / "one", CFG, table, forward=True, backward=True)
    f = load_frame(tmp_path / "one")
    expected_u = -f["K"][0, 0] * step / depth
    np.testing.assert_allclose(f["flow_forward"][..., 0], expected_u, rtol=1e-4)
    np.testing.assert_allclose(f["flow_backward"][..., 0], -expected_u, rtol=1e-4)
    np.testing.assert_allclose(f["flow_forward"][..., 1], 0.0, atol=1e-4)
    assert not scene.view_layers[0].use_pass_vector  # rigid: by reprojection, no Vector pass


def test_object_moving_up_has_negative_v(bpy, tmp_path):
    scene = gt_scenes.empty_scene()
    gt_scenes.add_camera(scene, (0.0, -6.0, 1.0), rotation_deg=(90.0, 0.0, 0.0))  # looks along +y
    cube = gt_scenes.add_cube("mover", size=1.0, location=(0, 0, 1.0), static=False)
    gt_scenes.keyframe_linear(cube, [(1, (0, 0, 1.0)), (2, (0, 0, 1.2))])
    (f,) = render(scene, tmp_path, frames=(1, 2))[:1]
    mover = f["instance"] == _instance_id(tmp_path, "mover")
    assert mover.sum() > 20
    v = f["flow_forward"][..., 1][mover]
    assert (v < 0).all()
    # Front face at 5.5 m: 0.2 m up is fy * 0.2 / 5.5 pixels up.
    front = np.isclose(f["depth"], 5.5, atol=1e-3) & mover
    np.testing.assert_allclose(f["flow_forward"][..., 1][front], -f["K"][1, 1] * 0.2 / 5.5, rtol=1e-3)
    np.testing.assert_allclose(f["flow_forward"][..., 0][front], 0.0, atol=1e-3)


def test_reprojected_depth_reproduces_forward_flow(bpy, tmp_path):
    scene = gt_scenes.empty_scene()
    cam = gt_scenes.add_camera(scene, (5.0, -5.0, 3.0), rotation_deg=(65.0, 0.0, 45.0))
    gt_scenes.add_plane("ground")
    gt_scenes.add_sphere("ball", radius=1.0, location=(0, 0, 1))
    gt_scenes.add_cube("box", size=1.0, location=(1.5, 1.0, 0.5))
    cam.keyframe_insert("location", frame=1)
    cam.keyframe_insert("rotation_euler", frame=1)
    cam.location = (5.3, -4.6, 3.1)
    cam.rotation_euler[2] += 0.05
    cam.keyframe_insert("location", frame=2)
    cam.keyframe_insert("rotation_euler", frame=2)
    f0, f1 = render(scene, tmp_path, frames=(1, 2))
    hit = np.isfinite(f0["depth"])
    rays = pixel_rays(f0["K"], W, H)
    pts_cam = rays * f0["depth"][..., None]
    pts_world = pts_cam[hit] @ f0["world_from_camera"][:3, :3].T + f0["world_from_camera"][:3, 3]
    cam1_from_world = np.linalg.inv(f1["world_from_camera"])
    p1 = pts_world @ cam1_from_world[:3, :3].T + cam1_from_world[:3, 3]
    uv1 = (p1 @ f1["K"].T)[:, :2] / p1[:, 2:3]
    v, u = np.nonzero(hit)
    predicted = uv1 - np.stack([u + 0.5, v + 0.5], axis=-1)
    err = np.linalg.norm(predicted - f0["flow_forward"][hit], axis=-1)
    assert np.abs(f0["flow_forward"][hit]).max() > 1.0  # the camera really moved
    assert np.median(err) < 0.05, np.median(err)


def test_normals_ids_and_background_agree(bpy, tmp_path):
    scene = gt_scenes.empty_scene()
    gt_scenes.add_camera(scene, (0.0, -7.0, 2.0), rotation_deg=(80.0, 0.0, 0.0))
    gt_scenes.add_plane("ground", size=6.0)
    gt_scenes.add_sphere("ball", radius=1.0, location=(0.5, 0, 1))
    gt_scenes.add_cube("box", size=1.0, location=(-1.5, 0.5, 0.5), category="object")
    (f,) = render(scene, tmp_path)
    info = json.loads((tmp_path / "scene" / "scene.json").read_text())
    ids = {o["name"]: o for o in info["objects"]}
    assert {o["instance_id"] for o in info["objects"]} == {1, 2, 3}
    assert info["categories"] == labels.CATEGORIES
    for name in ("ground", "ball", "box"):
        assert (f["instance"] == ids[name]["instance_id"]).any(), name
        mask = f["instance"] == ids[name]["instance_id"]
        assert (f["semantic"][mask] == info["categories"][ids[name]["category"]]).all()
    assert ids["box"]["category"] == "object" and ids["ball"]["category"] == "rock"
    np.testing.assert_allclose(ids["box"]["aabb"], [[-2, 0, 0], [-1, 1, 1]], atol=1e-5)
    bg = f["instance"] == 0
    assert bg.any() and (~bg).any()
    assert np.array_equal(~np.isfinite(f["depth"]), bg)
    assert (f["semantic"][bg] == 0).all()
    n = np.linalg.norm(f["normal"], axis=-1)
    np.testing.assert_allclose(n[~bg], 1.0, atol=1e-5)
    assert (n[bg] == 0).all()
    facing = np.einsum("hwc,hwc->hw", f["normal"], pixel_rays(f["K"], W, H))
    assert (facing[~bg] < 0).all()


def test_frame_layout_and_loader_types(bpy, tmp_path):
    scene = gt_scenes.empty_scene()
    gt_scenes.add_camera(scene, (0.0, 0.0, 3.0))
    gt_scenes.add_plane("ground", size=2.0)
    frames = render(scene, tmp_path, frames=(1, 2))
    first = tmp_path / "scene" / "frame_0001"
    assert sorted(p.name for p in first.iterdir()) == [
        "camera.json", "depth.npy", "flow_forward.npy", "instance.npy", "instances.json", "normal.npy",
        "preview.png", "rgb.png", "semantic.npy"]
    assert not [p for p in (tmp_path / "scene").iterdir() if p.name.startswith(".")]
    assert sorted(p.name for p in (tmp_path / "scene").iterdir()) == [
        "frame_0001", "frame_0002", "instances.npz", "scene.json"]
    f = frames[0]
    assert f["rgb"].shape == (H, W, 3) and f["rgb"].dtype == np.uint8
    assert f["instance"].dtype == np.uint32 and f["semantic"].dtype == np.uint16
    assert f["flow_forward"].shape == (H, W, 2) and f["flow_forward"].dtype == np.float32
    assert f["normal"].dtype == np.float32
    cam = json.loads((first / "camera.json").read_text())
    assert (cam["width"], cam["height"], cam["frame"]) == (W, H, 1)
    assert cam["K"][0][2] == W / 2 and cam["K"][1][2] == H / 2


def test_intrinsics_follow_sensor_fit_shift_and_pixel_aspect(bpy):
    from procdream.render_gt.camera import intrinsics

    scene = gt_scenes.empty_scene()
    cam = gt_scenes.add_camera(scene, (0, 0, 1), lens=50.0)
    scene.render.resolution_x, scene.render.resolution_y = 200, 100
    K = intrinsics(scene, cam)
    np.testing.assert_allclose(K, [[50 / 36 * 200, 0, 100], [0, 50 / 36 * 200, 50], [0, 0, 1]])
    cam.data.shift_x, cam.data.shift_y = 0.1, -0.05
    K = intrinsics(scene, cam)
    np.testing.assert_allclose(K[:2, 2], [100 - 0.1 * 200, 50 - 0.05 * 200])
    cam.data.shift_x = cam.data.shift_y = 0.0
    cam.data.sensor_fit, cam.data.sensor_height = "VERTICAL", 24.0
    np.testing.assert_allclose(intrinsics(scene, cam)[1, 1], 50 / 24 * 100)
    scene.render.pixel_aspect_y = 2.0  # tall pixels: half as many rows per metre of sensor
    cam.data.sensor_fit = "HORIZONTAL"
    K = intrinsics(scene, cam)
    np.testing.assert_allclose([K[0, 0], K[1, 1]], [50 / 36 * 200, 50 / 36 * 100])


@pytest.mark.parametrize("case", ["zero_resolution", "no_camera", "unwritable", "orthographic"])
def test_bad_input_fails_before_rendering(bpy, tmp_path, case):
    scene = gt_scenes.empty_scene()
    cam = gt_scenes.add_camera(scene, (0, 0, 3))
    gt_scenes.add_plane("ground")
    cfg, out = CFG, tmp_path / "out"
    if case == "zero_resolution":
        cfg, match = RenderConfig(width=0, height=48), "resolution must be positive"
    elif case == "no_camera":
        scene.camera, match = None, "has no camera"
    elif case == "orthographic":
        cam.data.type, match = "ORTHO", "only perspective"
    else:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        out, match = blocker / "sub", "is not writable"
    with pytest.raises(RenderSetupError, match=match):
        render_sequence(scene, [1], out, cfg)
    assert not list(tmp_path.rglob("*.npy")) and not list(tmp_path.rglob("*.exr"))


def test_unknown_category_is_named(bpy):
    scene = gt_scenes.empty_scene()
    obj = gt_scenes.add_plane("ground")
    with pytest.raises(labels.LabelError, match="object 'ground' has unknown category 'lava'; known: terrain, rock"):
        labels.set_label(obj, "lava")
    obj[labels.CATEGORY_PROP] = "lava"
    with pytest.raises(labels.LabelError, match="object 'ground' has unknown category 'lava'"):
        instances.assign_instances(scene)


def _instance_id(tmp_path, name):
    info = json.loads((tmp_path / "scene" / "scene.json").read_text())
    return next(o["instance_id"] for o in info["objects"] if o["name"] == name)


def test_geometry_nodes_instances_get_their_own_ids(bpy, tmp_path):
    scene = gt_scenes.empty_scene()
    gt_scenes.add_camera(scene, (0.0, 0.0, 6.0))
    gt_scenes.add_plane("ground", size=8.0)
    blade = gt_scenes.add_cube("blade", size=0.4, location=(0, 0, 0.5), category="grass")
    blade.data.materials.append(bpy.data.materials.new("blade_mat"))
    blade.hide_render = True  # only its instances render
    gt_scenes.add_scatter("meadow", blade, subdivisions=3, category="grass")  # 4x4 vertices = 16 instances
    (f,) = render(scene, tmp_path)
    info = json.loads((tmp_path / "scene" / "scene.json").read_text())
    rec = {o["name"]: o for o in info["objects"]}
    assert set(rec) == {"ground", "meadow"}
    meadow = rec["meadow"]
    assert meadow["instances"] == 16
    assert meadow["instance_ids"] == [meadow["instance_id"] + 1, meadow["instance_id"] + 16]
    ids = set(np.unique(f["instance"]).tolist())
    instance_ids = set(range(meadow["instance_ids"][0], meadow["instance_ids"][1] + 1))
    assert ids == {rec["ground"]["instance_id"]} | instance_ids  # every instance visible, told apart
    for i in instance_ids:
        mask = f["instance"] == i
        assert (f["semantic"][mask] == labels.CATEGORIES["grass"]).all()
        # Each id is one compact blob (one cube seen from above), not scattered pixels.
        rows, cols = np.nonzero(mask)
        assert rows.ptp() < 10 and cols.ptp() < 10, i
    # Object Info (original space) instances the 0.4 m cube centred on each vertex: tops at 5.8 m.
    tops = np.isin(f["instance"], list(instance_ids))
    np.testing.assert_allclose(np.median(f["depth"][tops]), 5.8, atol=1e-3)
    # Re-rendering does not stack a second tag modifier or AOV node.
    render(scene, tmp_path)
    assert [m.name for m in bpy.data.objects["meadow"].modifiers] == ["scatter", instances.TAG_MODIFIER]
    assert sum(n.bl_idname == "ShaderNodeOutputAOV" for n in bpy.data.materials["blade_mat"].node_tree.nodes) == 1


def test_failure_mid_frame_leaves_no_partial_frame(bpy, tmp_path, monkeypatch):
    from procdream.render_gt import writer

    scene = gt_scenes.empty_scene()
    gt_scenes.add_camera(scene, (0.0, 0.0, 3.0))
    gt_scenes.add_plane("ground")
    render(scene, tmp_path, frames=(1,))
    before = (tmp_path / "scene" / "frame_0001" / "depth.npy").read_bytes()
    real_save = writer.save_npy
    calls = []

    def failing_save(path, array):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_save(path, array)

    monkeypatch.setattr(writer, "save_npy", failing_save)
    scene.objects["ground"].location.z = -1.0  # the re-render would change depth
    with pytest.raises(OSError, match="disk full"):
        render(scene, tmp_path, frames=(1,))
    # The earlier, complete frame is untouched; the half-written one exists only as staging.
    assert (tmp_path / "scene" / "frame_0001" / "depth.npy").read_bytes() == before
    monkeypatch.setattr(writer, "save_npy", real_save)
    (f,) = render(scene, tmp_path, frames=(1,))
    np.testing.assert_allclose(f["depth"], 4.0, rtol=1e-5)
    assert not [p for p in (tmp_path / "scene").iterdir() if p.name.startswith(".")]


def test_collection_instances_get_their_instancers_ids(bpy, tmp_path):
    import numpy as np

    from procdream.procgen.generators import ground_cover, terrain
    from procdream.procgen.params import replace_checked

    scene = gt_scenes.empty_scene()
    gt_scenes.add_camera(scene, (0.0, -4.0, 1.5), rotation_deg=(70.0, 0.0, 0.0))
    ter, _ = terrain.build(replace_checked(terrain.TerrainParams(), height_m=0.0, resolution=8, extent_m=10.0))
    params = ground_cover.sample_params(np.random.default_rng(0))
    hosts = ground_cover.build(params, ter, {"grass": bpy.data.materials.new("g")})
    (f,) = render(scene, tmp_path)
    info = json.loads((tmp_path / "scene" / "scene.json").read_text())
    grass = next(o for o in info["objects"] if o["name"] == "grass_cover")
    ids = np.unique(f["instance"])
    in_grass = ids[(ids > grass["instance_id"]) & (ids <= grass["instance_ids"][1])]
    assert len(in_grass) > 10  # many individual clumps told apart
    assert (f["semantic"][np.isin(f["instance"], in_grass)] == labels.CATEGORIES["grass"]).all()
    # Nothing rendered is left as background: the view is filled by terrain and cover.
    assert (f["instance"] != 0).mean() > 0.5 and np.array_equal(f["instance"] == 0, ~np.isfinite(f["depth"]))
    assert hosts[0].name == "grass_cover"


def test_a_part_shares_its_wholes_instance_and_box(bpy, tmp_path):
    # Two planes side by side, the second declared part of the first (as the terrain's far field
    # is of its near grid): every pixel of either carries one id, and scene.json has one row.
    scene = gt_scenes.empty_scene()
    gt_scenes.add_camera(scene, (0.0, -6.0, 4.0), rotation_deg=(55.0, 0.0, 0.0))
    near = gt_scenes.add_plane("near", size=2.0, location=(-1.0, 0.0, 0.0))
    far = gt_scenes.add_plane("far", size=2.0, location=(1.0, 0.0, 0.0))
    labels.set_part_of(far, near)
    gt_scenes.add_sphere("ball", radius=0.3, location=(0.0, 0.0, 0.3))
    (f,) = render(scene, tmp_path)
    info = json.loads((tmp_path / "scene" / "scene.json").read_text())
    rows = {o["name"]: o for o in info["objects"]}
    assert set(rows) == {"near", "ball"}
    ground = rows["near"]["instance_id"]
    np.testing.assert_allclose(rows["near"]["aabb"], [[-2, -1, 0], [2, 1, 0]], atol=1e-5)
    # Pixels on either plane (told apart by where they unproject) carry the one ground id.
    hit = f["instance"] == ground
    pts = (pixel_rays(f["K"], W, H)[hit] * f["depth"][hit, None]) @ f["world_from_camera"][:3, :3].T \
        + f["world_from_camera"][:3, 3]
    assert (pts[:, 0] < -0.05).sum() > 20 and (pts[:, 0] > 0.05).sum() > 20
    assert np.abs(pts[:, 2]).max() < 1e-3  # both on z = 0: no other surface got the id
    assert set(np.unique(f["instance"])) == {0, ground, rows["ball"]["instance_id"]}
    # A part with instances of its own cannot share one id: named.
    mod = far.modifiers.new("scatter", "NODES")
    from procdream.procgen.nodes import NodeWrangler

    tree = bpy.data.node_groups.new("one_instance", "GeometryNodeTree")
    nw = NodeWrangler(tree)
    cube = nw.new_node("GeometryNodeMeshCube")
    inst = nw.new_node("GeometryNodeInstanceOnPoints", input_kwargs={"Points": cube, "Instance": cube})
    out = nw.new_node("NodeGroupOutput")
    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    nw.connect(inst, out.inputs[0])
    mod.node_group = tree
    with pytest.raises(labels.LabelError, match="'far' is part of 'near' but has geometry-nodes instances"):
        instances.assign_instances(scene)
