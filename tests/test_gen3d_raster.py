"""gen3d.raster: the numba rasterizer matches a brute-force reference and analytic answers; torch glue."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from procdream.gen3d import raster
from procdream.gen3d.raster import camera, numba_raster
from procdream.gen3d.raster.bench import noisy_sphere


def reference_rasterize(clip: np.ndarray, faces: np.ndarray, width: int, height: int):
    """Per triangle, every pixel: the rules of numba_raster written plainly, same float64 arithmetic.

    Returns (tri_id int32 (H, W), bary float32 (H, W, 3), depth float32 (H, W)).
    """
    clip = np.asarray(clip, dtype=np.float32).astype(np.float64)
    px = ((2.0 * np.arange(width) + 1.0) / width - 1.0)[None, :]
    py = (1.0 - (2.0 * np.arange(height) + 1.0) / height)[:, None]
    best = np.full((height, width), np.inf)
    tri_id = np.full((height, width), -1, dtype=np.int32)
    bary = np.zeros((height, width, 3))
    for f, (i0, i1, i2) in enumerate(faces):
        (x0, y0, z0, w0), (x1, y1, z1, w1), (x2, y2, z2, w2) = clip[i0], clip[i1], clip[i2]
        corners = ((x0, y0, z0, w0), (x1, y1, z1, w1), (x2, y2, z2, w2))
        # Skip faces with all corners outside one frustum plane (-w <= x, y, z <= w).
        if any(all(v[axis] < -v[3] for v in corners) or all(v[axis] > v[3] for v in corners)
               for axis in range(3)):
            continue
        a0, b0, c0 = y1 * w2 - w1 * y2, w1 * x2 - x1 * w2, x1 * y2 - y1 * x2
        a1, b1, c1 = y2 * w0 - w2 * y0, w2 * x0 - x2 * w0, x2 * y0 - y2 * x0
        a2, b2, c2 = y0 * w1 - w0 * y1, w0 * x1 - x0 * w1, x0 * y1 - y0 * x1
        det = x0 * a0 + y0 * b0 + w0 * c0
        if det == 0.0:
            continue
        sign = 1.0 if det > 0.0 else -1.0
        e0 = (sign * a0) * px + (sign * b0) * py + sign * c0
        e1 = (sign * a1) * px + (sign * b1) * py + sign * c1
        e2 = (sign * a2) * px + (sign * b2) * py + sign * c2
        with np.errstate(divide="ignore", invalid="ignore"):
            s = e0 + e1 + e2
            l0, l1, l2 = e0 / s, e1 / s, e2 / s
            w = l0 * w0 + l1 * w1 + l2 * w2
            d = (l0 * z0 + l1 * z1 + l2 * z2) / w
            covered = (e0 >= 0) & (e1 >= 0) & (e2 >= 0) & (s > 0) & (w > 0) & (d >= -1) & (d <= 1)
        wins = covered & (d < best)  # ascending f and strict <: the lower id wins a tie
        best[wins] = d[wins]
        tri_id[wins] = f
        bary[wins] = np.stack([l0, l1, l2], -1)[wins]
    return tri_id, bary.astype(np.float32), np.where(tri_id >= 0, best, np.inf).astype(np.float32)


def assert_matches_reference(clip, faces, width, height, chunks=None):
    frags = numba_raster.rasterize(clip, faces, width, height, chunks=chunks)
    ref_id, ref_bary, ref_depth = reference_rasterize(clip, faces, width, height)
    np.testing.assert_array_equal(frags.tri_id, ref_id)
    np.testing.assert_allclose(frags.bary, ref_bary, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(frags.depth, ref_depth)
    return frags


def assert_close(actual, expected, atol=1e-6, rtol=1e-6):
    # Not torch.testing.assert_close: its first call imports for seconds.
    np.testing.assert_allclose(torch.as_tensor(actual).detach().cpu().numpy(),
                               torch.as_tensor(expected).detach().cpu().numpy(), atol=atol, rtol=rtol)


def view_proj(eye, fov=60.0, aspect=1.0, near=0.1, far=10.0):
    return camera.perspective(fov, aspect, near, far) @ camera.look_at(eye)


# ---------------------------------------------------------------------------------------------
# Numba rasterizer against the reference


def test_random_triangles_in_front_of_camera_match_reference():
    rng = np.random.default_rng(1)
    n = 150
    centres = np.stack([rng.uniform(-2, 2, n), rng.uniform(-2, 2, n), rng.uniform(-6, -1.5, n)], -1)
    cam_pts = (centres[:, None, :] + rng.normal(0, 0.8, (n, 3, 3))).reshape(-1, 3)
    clip = camera.clip_positions(cam_pts, camera.perspective(70.0, 48 / 40, 0.1, 10.0))
    faces = np.arange(3 * n).reshape(n, 3)
    frags = assert_matches_reference(clip, faces, 48, 40)
    assert 0.2 < frags.mask.mean() < 1.0
    sums = frags.bary.sum(-1)[frags.mask]
    np.testing.assert_allclose(sums, 1.0, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noisy_sphere_from_random_cameras_matches_reference(seed):
    rng = np.random.default_rng(seed)
    vertices, faces = noisy_sphere(1500, rng, noise=0.05)
    eye = camera.spherical_eye(rng.uniform(1.6, 3.5), rng.uniform(0, 180), rng.uniform(0, 360))
    clip = camera.clip_positions(vertices, view_proj(eye))
    frags = assert_matches_reference(clip, faces, 64, 64, chunks=2)
    assert frags.mask.any()


def test_result_does_not_depend_on_chunking():
    rng = np.random.default_rng(5)
    vertices, faces = noisy_sphere(3000, rng, noise=0.1)
    clip = camera.clip_positions(vertices, view_proj(camera.spherical_eye(2.0, 70, 20)))
    one = numba_raster.rasterize(clip, faces, 64, 48, chunks=1)
    for chunks in (2, 3, 7):
        many = numba_raster.rasterize(clip, faces, 64, 48, chunks=chunks)
        np.testing.assert_array_equal(many.tri_id, one.tri_id)
        np.testing.assert_array_equal(many.bary, one.bary)


def test_overlapping_and_coplanar_triangles_tie_to_lower_id():
    rng = np.random.default_rng(3)
    base = rng.uniform(-1, 1, (40, 3, 2))
    cam_pts = np.concatenate([base, rng.uniform(-4, -2, (40, 3, 1))], -1)
    # Faces 40..79 repeat faces 0..39 exactly (bitwise depth ties), 80..119 reverse their winding
    # (same surface, but the depth rounds differently, so they may win by an ulp).
    cam_pts = np.concatenate([cam_pts, cam_pts, cam_pts[:, ::-1]]).reshape(-1, 3)
    clip = camera.clip_positions(cam_pts, camera.perspective(90.0, 1.0, 0.1, 10.0))
    faces = np.arange(len(cam_pts)).reshape(-1, 3)
    frags = assert_matches_reference(clip, faces, 32, 32, chunks=3)
    assert frags.mask.any() and not ((frags.tri_id >= 40) & (frags.tri_id < 80)).any()


def test_triangles_crossing_near_plane_and_eye_plane_match_reference():
    rng = np.random.default_rng(7)
    n = 120
    # Corners scattered around the camera, many behind it (w < 0) or between eye and near plane.
    cam_pts = rng.uniform([-3, -3, -4], [3, 3, 1.5], (3 * n, 3))
    clip = camera.clip_positions(cam_pts, camera.perspective(80.0, 1.0, 0.5, 6.0))
    faces = np.arange(3 * n).reshape(n, 3)
    w = clip[:, 3].reshape(n, 3)
    assert ((w <= 0).any(1) & (w > 0).any(1)).sum() > 20
    frags = assert_matches_reference(clip, faces, 40, 40, chunks=2)
    assert frags.mask.any()
    assert (frags.depth[frags.mask] >= -1).all() and (frags.depth[frags.mask] <= 1).all()


def test_half_plane_through_the_eye_is_clipped_at_near_plane():
    # A floor y = -1 from far in front of the camera to far behind it, in two triangles.
    floor = np.array([[-50, -1, -50], [50, -1, -50], [50, -1, 50], [-50, -1, 50]], dtype=np.float64)
    near = 0.5
    clip = camera.clip_positions(floor, camera.perspective(90.0, 1.0, near, 100.0))
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    frags = assert_matches_reference(clip, faces, 32, 32)
    # The lower half of the image sees the floor; the upper half (looking up) sees nothing.
    assert frags.mask[16:].all() and not frags.mask[:16].any()
    assert (frags.depth[frags.mask] >= -1).all()


# ---------------------------------------------------------------------------------------------
# Analytic checks


def test_full_screen_quad_at_known_depth():
    near, far, z = 0.1, 10.0, -2.0
    quad = np.array([[-9, -9, z], [9, -9, z], [9, 9, z], [-9, 9, z]], dtype=np.float64)
    frags = numba_raster.rasterize(camera.clip_positions(quad, camera.perspective(60.0, 1.5, near, far)),
                                   np.array([[0, 1, 2], [0, 2, 3]]), 24, 16)
    assert frags.mask.all() and set(np.unique(frags.tri_id)) == {0, 1}
    expected = ((far + near) / (near - far) * z + 2 * far * near / (near - far)) / -z
    np.testing.assert_allclose(frags.depth, expected, rtol=1e-6)


def test_top_rows_are_positive_ndc_y():
    clip = np.array([[-1, 0.1, 0, 1], [1, 0.1, 0, 1], [0, 1, 0, 1]], dtype=np.float32)
    frags = numba_raster.rasterize(clip, np.array([[0, 1, 2]]), 16, 16)
    assert frags.mask[:8].any() and not frags.mask[8:].any()


def test_barycentrics_at_vertex_centred_pixels():
    width, height = 16, 8
    # Corners 0 and 1 sit exactly on pixel centres (col 3, row 2) and (col 13, row 6); w varies so
    # the barycentrics are perspective-correct ones, not screen-space ones. Dyadic coordinates keep
    # every product exact, so the inclusive edge test covers the corners themselves.
    ndc = [((2 * 3 + 1) / width - 1, 1 - (2 * 2 + 1) / height),
           ((2 * 13 + 1) / width - 1, 1 - (2 * 6 + 1) / height), (-0.875, -0.9375)]
    ws = [1.0, 2.0, 4.0]
    clip = np.array([[x * w, y * w, 0.25 * w, w] for (x, y), w in zip(ndc, ws, strict=True)], np.float32)
    frags = numba_raster.rasterize(clip, np.array([[0, 1, 2]]), width, height)
    assert frags.tri_id[2, 3] == 0 and frags.tri_id[6, 13] == 0
    np.testing.assert_array_equal(frags.bary[2, 3], [1, 0, 0])
    np.testing.assert_array_equal(frags.bary[6, 13], [0, 1, 0])
    # Halfway between the corners on screen, the nearer corner (w = 1) has twice the weight.
    np.testing.assert_allclose(frags.bary[4, 8], [2 / 3, 1 / 3, 0], atol=1e-6)


def test_perspective_correct_interpolation_on_tilted_plane():
    fov, aspect, width, height = 70.0, 1.25, 40, 32
    # A plane steeply tilted in depth, in camera space.
    corners = np.array([[-3.0, -2.0, -1.5], [3.0, -2.0, -1.5], [0.5, 2.5, -9.0]])
    clip = camera.clip_positions(corners, camera.perspective(fov, aspect, 0.1, 20.0))
    frags = numba_raster.rasterize(clip, np.array([[0, 1, 2]]), width, height)
    rows, cols = np.nonzero(frags.mask)
    assert len(rows) > 200
    points = np.einsum("nk,kc->nc", frags.bary[rows, cols].astype(np.float64), corners)
    # Ray through each pixel centre, intersected with the plane.
    f = 1.0 / math.tan(math.radians(fov) / 2)
    px = (2 * cols + 1) / width - 1
    py = 1 - (2 * rows + 1) / height
    rays = np.stack([px * aspect / f, py / f, -np.ones_like(px)], -1)
    normal = np.cross(corners[1] - corners[0], corners[2] - corners[0])
    t = (corners[0] @ normal) / (rays @ normal)
    np.testing.assert_allclose(points, rays * t[:, None], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Input handling


def test_empty_mesh_gives_empty_fragments():
    frags = numba_raster.rasterize(np.zeros((0, 4), np.float32), np.zeros((0, 3), np.int64), 8, 6)
    assert frags.tri_id.shape == (6, 8) and not frags.mask.any()
    assert (frags.bary == 0).all() and np.isinf(frags.depth).all()
    torch_frags = raster.rasterize(torch.zeros(5, 4), torch.zeros(0, 3, dtype=torch.int64), 8, 6)
    assert not torch_frags.mask.any() and torch_frags.bary.shape == (6, 8, 3)


def test_bad_inputs_raise_value_error():
    clip = np.tile(np.array([[0, 0, 0, 1]], np.float32), (4, 1))
    with pytest.raises(ValueError, match="index out of range"):
        numba_raster.rasterize(clip, np.array([[0, 1, 4]]), 8, 8)
    with pytest.raises(ValueError, match="index out of range"):
        raster.rasterize(torch.from_numpy(clip), torch.tensor([[0, -1, 2]]), 8, 8)
    bad = clip.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        numba_raster.rasterize(bad, np.array([[0, 1, 2]]), 8, 8)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        raster.rasterize(torch.from_numpy(bad), np.array([[0, 1, 2]]), 8, 8)
    with pytest.raises(ValueError, match="overflow"):
        numba_raster.rasterize(clip.astype(np.float64) * 1e300, np.array([[0, 1, 2]]), 8, 8)
    with pytest.raises(ValueError, match="shape"):
        numba_raster.rasterize(clip[:, :3], np.array([[0, 1, 2]]), 8, 8)
    with pytest.raises(ValueError, match="integer"):
        numba_raster.rasterize(clip, np.array([[0.0, 1.0, 2.0]]), 8, 8)
    with pytest.raises(ValueError, match="width"):
        numba_raster.rasterize(clip, np.array([[0, 1, 2]]), 0, 8)
    with pytest.raises(ValueError, match="backend"):
        raster.rasterize(clip, np.array([[0, 1, 2]]), 8, 8, backend="opengl")


def test_degenerate_triangles_are_skipped():
    clip = np.array([[-1, -1, 0, 1], [1, -1, 0, 1], [0, 1, 0, 1], [0, 0, 0, 1]], np.float32)
    # A repeated corner and three collinear corners (zero area), then a real triangle.
    faces = np.array([[0, 0, 2], [0, 3, 2], [0, 1, 2]])
    clip[3] = (clip[0] + clip[2]) / 2
    frags = numba_raster.rasterize(clip, faces, 16, 16)
    assert set(np.unique(frags.tri_id)) == {-1, 2}


def test_half_million_faces_render():
    rng = np.random.default_rng(0)
    vertices, faces = noisy_sphere(500_000, rng)
    assert len(faces) >= 500_000
    clip = camera.clip_positions(vertices, view_proj(camera.spherical_eye(1.5, 60, 30)))
    frags = raster.rasterize(clip, faces.astype(np.int32), 64, 64)
    assert frags.mask.all()
    assert frags.tri_id.min() >= 0 and frags.tri_id.max() < len(faces)
    assert_close(frags.bary.sum(-1), torch.ones(64, 64), atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------------------
# Cameras


def test_spherical_eye_and_look_at_conventions():
    np.testing.assert_allclose(camera.spherical_eye(2, 0, 0), [0, 2, 0], atol=1e-12)
    np.testing.assert_allclose(camera.spherical_eye(2, 90, 0), [0, 0, 2], atol=1e-12)
    np.testing.assert_allclose(camera.spherical_eye(2, 90, 90), [2, 0, 0], atol=1e-12)
    eye = camera.spherical_eye(3, 60, 40)
    view = camera.look_at(eye)
    np.testing.assert_allclose(view @ [*eye, 1], [0, 0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(view @ [0, 0, 0, 1], [0, 0, -3, 1], atol=1e-12)
    assert (view @ [0, 1, 0, 0])[1] > 0  # world up is image up
    # Straight above: finite, orthonormal, and the front (+z) is at the bottom of the image.
    top = camera.look_at(camera.spherical_eye(3, 0, 0))
    np.testing.assert_allclose(top[:3, :3] @ top[:3, :3].T, np.eye(3), atol=1e-12)
    assert (top @ [0, 0, 1, 0])[1] < 0
    proj = camera.perspective(60, 1, 0.5, 8)
    for dist, ndc_z in ((0.5, -1), (8, 1)):
        clip = proj @ [0, 0, -dist, 1]
        assert clip[3] == pytest.approx(dist) and clip[2] / clip[3] == pytest.approx(ndc_z)


def test_clip_positions_numpy_and_torch_agree():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(10, 3))
    mvp = view_proj(camera.spherical_eye(3, 50, 10))
    out = camera.clip_positions(pts, mvp)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (np.c_[pts, np.ones(10)] @ mvp.T), rtol=1e-6, atol=1e-6)
    t = torch.tensor(pts, requires_grad=True)
    t_out = camera.clip_positions(t, mvp)
    t_out.sum().backward()
    np.testing.assert_allclose(t_out.detach().numpy(), out, rtol=1e-6, atol=1e-6)
    assert t.grad is not None


# ---------------------------------------------------------------------------------------------
# Torch glue


def _sphere_frags(seed=0, size=32):
    rng = np.random.default_rng(seed)
    vertices, faces = noisy_sphere(800, rng)
    clip = camera.clip_positions(vertices, view_proj(camera.spherical_eye(2.5, 70, 30)))
    return clip, faces


def test_torch_rasterize_matches_numpy_and_has_torch_dtypes():
    clip, faces = _sphere_frags()
    ref = numba_raster.rasterize(clip, faces, 32, 24)
    frags = raster.rasterize(torch.from_numpy(clip), torch.from_numpy(faces), 32, 24, backend="auto")
    assert frags.tri_id.dtype == torch.int64 and frags.bary.dtype == torch.float32
    assert frags.mask.dtype == torch.bool and frags.tri_id.shape == (24, 32)
    np.testing.assert_array_equal(frags.tri_id.numpy(), ref.tri_id)
    np.testing.assert_array_equal(frags.bary.numpy(), ref.bary)


def test_interpolate_uvs():
    clip, faces = _sphere_frags()
    frags = raster.rasterize(clip, faces, 32, 32)
    rng = np.random.default_rng(1)
    corner_uv = torch.tensor(rng.uniform(size=(len(faces), 3, 2)), dtype=torch.float32, requires_grad=True)
    uv = raster.interpolate(corner_uv, frags)
    assert uv.shape == (32, 32, 2)
    mask = frags.mask
    assert (uv[~mask] == 0).all()
    r, c = [int(i) for i in torch.nonzero(mask)[0]]
    expected = (frags.bary[r, c, :, None] * corner_uv[frags.tri_id[r, c]]).sum(0)
    assert_close(uv[r, c], expected)
    uv.sum().backward()
    assert corner_uv.grad is not None and corner_uv.grad[frags.tri_id[mask]].abs().sum() > 0
    no_faces = raster.Fragments(tri_id=torch.full((3, 4), -1), bary=torch.zeros(3, 4, 3),
                                depth=torch.full((3, 4), math.inf))
    empty = raster.interpolate(torch.zeros(0, 3, 2), no_faces)
    assert empty.shape == (3, 4, 2) and (empty == 0).all()


def test_sample_texture_orientation_and_gradient():
    tex = torch.zeros(3, 4, 5)
    tex[:, 0, 0] = torch.tensor([1.0, 0.0, 0.0])  # top-left texel: red
    tex[:, 3, 4] = torch.tensor([0.0, 1.0, 0.0])  # bottom-right texel: green
    tex.requires_grad_(True)
    eps = 1e-4
    uv = torch.tensor([[[eps, 1 - eps], [1 - eps, eps]]])  # (1, 2, 2): top-left, bottom-right corners
    out = raster.sample_texture(tex, uv)
    assert out.shape == (3, 1, 2)
    assert_close(out[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert_close(out[:, 0, 1], torch.tensor([0.0, 1.0, 0.0]))
    out[:, 0, 0].sum().backward()
    nonzero = torch.nonzero(tex.grad.abs().sum(0))
    assert nonzero.tolist() == [[0, 0]]


def test_sample_texture_hits_texel_centres_and_masks():
    gen = torch.Generator().manual_seed(0)
    # Power-of-two sizes keep the texel-centre UVs exact in float32.
    tex = torch.rand(1, 2, 4, 8, generator=gen, requires_grad=True)
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(8), indexing="ij")
    uv = torch.stack([(cols + 0.5) / 8, 1 - (rows + 0.5) / 4], -1)  # texel centres, (4, 8, 2)
    out = raster.sample_texture(tex, uv)
    assert_close(out, tex[0].detach())
    mask = torch.zeros(4, 8, dtype=torch.bool)
    mask[2, 3] = True
    masked = raster.sample_texture(tex, uv, mask)
    assert (masked[:, ~mask] == 0).all()
    masked.sum().backward()
    grad = tex.grad[0].abs().sum(0)
    assert torch.nonzero(grad).tolist() == [[2, 3]]


def test_nvdiffrast_output_conversion():
    from procdream.gen3d.raster.nvdiffrast_raster import from_nvdiffrast

    clip, faces = _sphere_frags()
    frags = raster.rasterize(clip, faces, 32, 24, backend="numba")
    # What nvdiffrast documents for the same image: (u, v, z/w, id + 1), zeros where empty,
    # u and v weighting corners 1 and 2, rows bottom-up.
    rast = torch.stack([frags.bary[..., 1], frags.bary[..., 2],
                        torch.where(frags.mask, frags.depth, 0.0), (frags.tri_id + 1).float()], -1).flip(0)
    back = from_nvdiffrast(rast)
    assert torch.equal(back.tri_id, frags.tri_id) and torch.equal(back.depth, frags.depth)
    assert_close(back.bary, frags.bary, atol=1e-6)


@pytest.mark.gpu
def test_nvdiffrast_agrees_with_numba():
    pytest.importorskip("nvdiffrast.torch")
    rng = np.random.default_rng(0)
    vertices, faces = noisy_sphere(20_000, rng)
    clip = camera.clip_positions(vertices, view_proj(camera.spherical_eye(1.8, 60, 30)))
    cpu = raster.rasterize(clip, faces, 64, 64, backend="numba")
    clip_cuda, faces_cuda = torch.from_numpy(clip).cuda(), torch.from_numpy(faces).cuda()
    gpu = raster.rasterize(clip_cuda, faces_cuda, 64, 64, backend="auto")
    assert gpu.tri_id.device.type == "cuda"
    gpu = raster.Fragments(gpu.tri_id.cpu(), gpu.bary.cpu(), gpu.depth.cpu())
    assert (gpu.mask == cpu.mask).float().mean() > 0.995
    same = gpu.tri_id == cpu.tri_id
    # Edge pixels may pick a neighbour: the GPU snaps corners to a sub-pixel grid.
    assert same.float().mean() > 0.97
    assert_close(gpu.bary[same], cpu.bary[same], atol=2e-3, rtol=0)
    assert_close(gpu.depth[same], cpu.depth[same], atol=1e-4, rtol=0)
