"""bpy-free parts of render_gt: pass conversion, atomic writers, PNG, loader."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from procdream.render_gt import FrameDataset, convert, load_frame, preview, writer

pytestmark = pytest.mark.compat  # also on the Blender LTS releases (tests/test_versions.py)


def test_instance_ids_combine_ordinal_and_aov():
    ordinal = np.array([[0, 1, 2, 2], [2, 3, 3, 1]], dtype=np.float32)
    aov = np.array([[0, 0, 1, 3], [0, 0, 2, 5]], dtype=np.float32)
    base = np.array([0, 1, 2, 6], dtype=np.uint32)  # object 2 owns ids 2 (itself) and 3..5 (3 instances)
    counts = np.array([0, 0, 3, 0])
    ids = convert.instance_ids(ordinal, aov, base, counts)
    # Object 3 has no instances, so its AOV value 2 is ignored; object 1's AOV 5 likewise.
    np.testing.assert_array_equal(ids, [[0, 1, 3, 5], [2, 6, 6, 1]])
    assert ids.dtype == np.uint32
    with pytest.raises(ValueError, match="holds 4 but only 3 objects"):
        convert.instance_ids(np.full((1, 1), 4.0), None, base, counts)


def test_vector_pass_signs():
    # Cycles: RG = prev - cur, BA = cur - next, raster y up. A point moving +2 px right and
    # 3 px down (raster y: -3) between frames has B = -2, A = +3, and came from 1 px left.
    vector = np.zeros((1, 2, 4), np.float32)
    vector[0, 0] = [-1.0, 0.5, -2.0, 3.0]
    fwd, bwd = convert.flows_from_vector(vector, np.array([[False, True]]))
    np.testing.assert_array_equal(fwd[0, 0], [2.0, 3.0])
    np.testing.assert_array_equal(bwd[0, 0], [-1.0, -0.5])
    assert (fwd[0, 1] == 0).all() and (bwd[0, 1] == 0).all()


def test_depth_is_inf_exactly_on_background():
    z = np.array([[2.0, 1e10], [3.0, 4.0]], np.float32)
    inst = np.array([[1, 0], [2, 0]], np.uint32)
    d = convert.depth_from_pass(z, inst)
    assert d.dtype == np.float32
    np.testing.assert_array_equal(d, [[2.0, np.inf], [3.0, np.inf]])


def test_png_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    for shape in ((5, 7), (5, 7, 3), (5, 7, 4)):
        img = rng.integers(0, 256, size=shape, dtype=np.uint8)
        writer.save_png(tmp_path / "a.png", img)
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), img)
    with pytest.raises(TypeError, match="uint8"):
        writer.encode_png(np.zeros((2, 2), np.float32))


def test_commit_dir_replaces_atomically_and_stale_staging_is_cleaned(tmp_path):
    final = tmp_path / "frame_0001"
    for value in (1, 2):
        staged = writer.staging_dir(final)
        writer.save_json(staged / "v.json", {"v": value})
        assert not final.exists() or json.loads((final / "v.json").read_text())["v"] == value - 1
        writer.commit_dir(staged, final)
        assert json.loads((final / "v.json").read_text()) == {"v": value}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame_0001"]
    # A run killed mid-frame leaves only hidden staging folders, which the next run removes.
    leftover = writer.staging_dir(tmp_path / "frame_0002")
    (leftover / "depth.npy").write_bytes(b"partial")
    assert writer.clean_stale(tmp_path) == [leftover]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame_0001"]


def _fake_frame(path, h=4, w=6, flows=("flow_forward",)):
    path.mkdir(parents=True)
    writer.save_png(path / "rgb.png", np.full((h, w, 3), 100, np.uint8))
    writer.save_npy(path / "depth.npy", np.full((h, w), 2.0, np.float32))
    writer.save_npy(path / "normal.npy", np.tile(np.float32([0, 0, -1]), (h, w, 1)))
    writer.save_npy(path / "instance.npy", np.ones((h, w), np.uint32))
    writer.save_npy(path / "semantic.npy", np.ones((h, w), np.uint16))
    for name in flows:
        writer.save_npy(path / f"{name}.npy", np.zeros((h, w, 2), np.float32))
    K = [[5.0, 0, w / 2], [0, 5.0, h / 2], [0, 0, 1]]
    writer.save_json(path / "camera.json", {"K": K, "world_from_camera": np.eye(4).tolist(),
                                            "width": w, "height": h, "frame": 1})


def test_loader_and_dataset_skip_unfinished_scenes(tmp_path):
    _fake_frame(tmp_path / "scene_000000" / "frame_0001")
    _fake_frame(tmp_path / "scene_000000" / "frame_0002", flows=("flow_backward",))
    _fake_frame(tmp_path / "scene_000001" / "frame_0001")
    writer.save_json(tmp_path / "dataset.json", {"format": "procdream-dataset", "scenes": [
        {"name": "scene_000000", "status": "done"}, {"name": "scene_000001", "status": "failed"}]})
    ds = FrameDataset(tmp_path)
    assert len(ds) == 2
    f = ds[1]
    assert "flow_backward" in f and "flow_forward" not in f
    assert f["rgb"].shape == (4, 6, 3) and f["K"].shape == (3, 3)
    with pytest.raises(FileNotFoundError, match="not a ProcDream frame folder"):
        load_frame(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FrameDataset(tmp_path / "nope")


def test_preview_tiles_every_channel():
    h, w = 4, 6
    frame = {"rgb": np.zeros((h, w, 3), np.uint8), "depth": np.full((h, w), 2.0, np.float32),
             "flow_forward": np.ones((h, w, 2), np.float32), "instance": np.ones((h, w), np.uint32),
             "normal": np.tile(np.float32([0, 0, -1]), (h, w, 1)), "semantic": np.ones((h, w), np.uint16)}
    frame["depth"][0, 0] = np.inf
    frame["instance"][0, 0] = 0
    img = preview.compose(frame)
    assert img.shape == (2 * h, 3 * w, 3) and img.dtype == np.uint8
    assert (img[0, w] == 0).all()  # no surface: black depth
    assert img[1, w + 1].any() and img[h + 1, 1].any()


def test_find_pass_accepts_older_pass_names():
    from procdream.render_gt import compat

    passes = {"gt.IndexOB": np.ones((1, 1, 1)), "gt.Depth": np.zeros((1, 1, 1))}
    assert compat.find_pass(passes, "gt", "Object Index") is passes["gt.IndexOB"]
    assert compat.find_pass(passes, "gt", "Depth") is passes["gt.Depth"]
    with pytest.raises(KeyError, match="no 'Vector' pass on view layer 'gt'"):
        compat.find_pass(passes, "gt", "Vector")


def test_zero_normals_on_surface_pixels_fall_back_to_the_depth_map():
    from procdream.render_gt.camera import pixel_rays

    h, w = 24, 32
    K = np.array([[30.0, 0, w / 2], [0, 30.0, h / 2], [0, 0, 1]])
    plane_n = np.array([0.3, -0.4, -1.0]) / np.linalg.norm([0.3, -0.4, -1.0])  # faces the camera
    rays = pixel_rays(K, w, h)
    depth = (-4.0 / (rays @ plane_n)).astype(np.float32)  # plane n.X = -4 in the camera frame
    background = np.zeros((h, w), bool)
    normal_pass = np.tile(plane_n, (h, w, 1))  # identity pose: world = OpenCV camera frame
    normal_pass[3, 5] = normal_pass[0, 0] = normal_pass[h - 1, 17] = 0.0
    n = convert.normals_to_camera(normal_pass, np.eye(4), K, background, depth)
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-5)
    for r, c in ((3, 5), (0, 0), (h - 1, 17)):
        np.testing.assert_allclose(n[r, c], plane_n, atol=1e-4)
    assert (convert.normals_to_camera(normal_pass, np.eye(4), K, background)[3, 5] == 0).all()


def test_flow_from_depth_matches_a_known_camera_move_and_a_rigid_object_move():
    # A fronto-parallel plane 4 m away; the camera moves 0.5 m right: every pixel flows
    # -f * 0.5 / 4 px in u. An object moving 0.2 m down (world -y is image down... here OpenCV
    # y down = world +y with an identity pose) shifts by +f * 0.2 / 4 px in v.
    w, h, f = 32, 24, 30.0
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    depth = np.full((h, w), 4.0, np.float32)
    depth[:2] = np.inf  # background rows
    pose = np.eye(4)
    moved = np.eye(4)
    moved[0, 3] = 0.5
    flow = convert.flow_from_depth(depth, K, pose, K, moved)
    np.testing.assert_allclose(flow[2:, :, 0], -f * 0.5 / 4.0, atol=1e-4)
    np.testing.assert_allclose(flow[2:, :, 1], 0.0, atol=1e-4)
    assert (flow[:2] == 0).all()
    instance = np.ones((h, w), np.uint32)
    instance[:, w // 2:] = 2
    motion = np.broadcast_to(np.eye(4), (3, 4, 4)).copy()
    motion[2, 1, 3] = 0.2
    flow = convert.flow_from_depth(depth, K, pose, K, pose, instance, motion)
    np.testing.assert_allclose(flow[2:, : w // 2], 0.0, atol=1e-5)
    np.testing.assert_allclose(flow[2:, w // 2:, 1], f * 0.2 / 4.0, atol=1e-4)
    # A point behind the other camera has no flow: NaN, not a wrapped-around projection.
    behind = np.eye(4)
    behind[2, 3] = 5.0
    assert np.isnan(convert.flow_from_depth(depth, K, pose, K, behind)[5, 5]).all()


def test_visible_instances_lists_ids_boxes_and_pixel_counts():
    inst = np.zeros((5, 6), np.uint32)
    inst[1:3, 2:5] = 7
    inst[4, 0] = 3
    lut = np.zeros(8, np.uint16)
    lut[7], lut[3] = 2, 5
    assert convert.visible_instances(inst, lut) == [
        {"id": 3, "semantic_id": 5, "pixels": 1, "bbox": [0, 4, 1, 5]},
        {"id": 7, "semantic_id": 2, "pixels": 6, "bbox": [2, 1, 5, 3]}]
    assert convert.visible_instances(np.zeros((2, 2), np.uint32), lut) == []
