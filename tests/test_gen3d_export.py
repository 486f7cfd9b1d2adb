"""gen3d.export: xatlas unwrapping, UV rasterization, island padding, glTF writing, mesh cleanup.

UV convention under test: Blender (v up); images rows top-down; texel (col, row) centred at
u = (col + 0.5) / W, v = 1 - (row + 0.5) / H.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from procdream.gen3d.export import atomic, cleanup, gltf, normals, unwrap, uv_padding, uv_raster

RES = 256
PAD = 4


# ---------------------------------------------------------------------------------------------
# fixtures and independent reference helpers


def _icosphere(subdivisions: int = 3, radius: float = 1.0, center=(0.0, 0.0, 0.0)):
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(m.vertices, dtype=np.float64) + np.asarray(center), np.asarray(m.faces, dtype=np.int64)


@pytest.fixture(scope="module")
def sphere():
    return _icosphere(3)


@pytest.fixture(scope="module")
def unwrapped(sphere):
    pos, faces = sphere
    return unwrap.unwrap(pos, faces, resolution=RES, padding_px=PAD)


def _bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup with clamp-to-edge, in our texel-centre convention (independent of the package)."""
    h, w = image.shape[:2]
    x = uv[:, 0] * w - 0.5
    y = (1.0 - uv[:, 1]) * h - 0.5
    x0 = np.floor(x).astype(int)
    y0 = np.floor(y).astype(int)
    fx = (x - x0)[:, None]
    fy = (y - y0)[:, None]
    xa, xb = np.clip(x0, 0, w - 1), np.clip(x0 + 1, 0, w - 1)
    ya, yb = np.clip(y0, 0, h - 1), np.clip(y0 + 1, 0, h - 1)
    img = image.astype(np.float64)
    top = img[ya, xa] * (1 - fx) + img[ya, xb] * fx
    bottom = img[yb, xa] * (1 - fx) + img[yb, xb] * fx
    return top * (1 - fy) + bottom * fy


def _mip(image: np.ndarray) -> np.ndarray:
    h, w, c = image.shape
    return image.reshape(h // 2, 2, w // 2, 2, c).mean(axis=(1, 3))


def _parse_glb(data: bytes):
    """(json tree, binary chunk) of a .glb, decoded by hand so the test does not trust trimesh."""
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert magic == 0x46546C67 and version == 2 and length == len(data)
    json_len, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A
    tree = json.loads(data[20:20 + json_len])
    bin_len, bin_type = struct.unpack_from("<II", data, 20 + json_len)
    assert bin_type == 0x004E4942
    return tree, data[28 + json_len:28 + json_len + bin_len]


def _accessor(tree, blob, index, dtype, width):
    acc = tree["accessors"][index]
    view = tree["bufferViews"][acc["bufferView"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.frombuffer(blob, dtype=dtype, count=acc["count"] * width, offset=start).reshape(acc["count"], width)


# ---------------------------------------------------------------------------------------------
# uv_raster


def _brute_force_raster(uv_faces, width, height):
    """Texel-centre point-in-triangle test, first (lowest-id) triangle wins, tolerance as documented."""
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    qx, qy = cols + 0.5, rows + 0.5
    tri_id = np.full((height, width), -1, dtype=np.int32)
    bary = np.zeros((height, width, 3))
    px = np.stack([uv_faces[..., 0] * width, (1 - uv_faces[..., 1]) * height], axis=-1)
    for f, ((x0, y0), (x1, y1), (x2, y2)) in enumerate(px):
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        scale = (x1 - x0) ** 2 + (y1 - y0) ** 2 + (x2 - x1) ** 2 + (y2 - y1) ** 2 + (x0 - x2) ** 2 + (y0 - y2) ** 2
        if abs(area) <= uv_raster.DEGENERATE * scale:
            continue
        b0 = ((x1 - qx) * (y2 - qy) - (x2 - qx) * (y1 - qy)) / area
        b1 = ((x2 - qx) * (y0 - qy) - (x0 - qx) * (y2 - qy)) / area
        b2 = ((x0 - qx) * (y1 - qy) - (x1 - qx) * (y0 - qy)) / area
        hit = (b0 >= -uv_raster.EPS) & (b1 >= -uv_raster.EPS) & (b2 >= -uv_raster.EPS) & (tri_id < 0)
        tri_id[hit] = f
        bary[hit] = np.stack([b0, b1, b2], axis=-1)[hit]
    return tri_id, bary


def test_rasterize_uv_matches_brute_force():
    rng = np.random.default_rng(7)
    centres = rng.uniform(-0.1, 1.1, size=(60, 1, 2))
    sizes = rng.uniform(0.01, 0.4, size=(60, 1, 1))
    uv_faces = centres + sizes * rng.normal(size=(60, 3, 2))
    uv_faces[5] = [[0.2, 0.2], [0.4, 0.4], [0.6, 0.6]]  # zero area: covers nothing
    for width, height in [(37, 29), (64, 64)]:
        tri_id, bary = uv_raster.rasterize_uv(uv_faces, width, height)
        ref_id, ref_bary = _brute_force_raster(uv_faces, width, height)
        assert tri_id.dtype == np.int32 and bary.dtype == np.float32
        np.testing.assert_array_equal(tri_id, ref_id)
        np.testing.assert_allclose(bary, ref_bary, atol=1e-5)
        assert (tri_id >= 0).any() and (tri_id < 0).any() and not (tri_id == 5).any()


def test_rasterize_uv_tiles_a_grid_without_cracks_or_double_counts():
    # Vertices on texel centres and edges through texel centres: the cases where rounding bites.
    n = 8
    g = (np.arange(n + 1) * 4 + 0.5) / 33.0
    uv_faces = []
    for i in range(n):
        for j in range(n):
            a, b, c, d = (g[i], g[j]), (g[i + 1], g[j]), (g[i + 1], g[j + 1]), (g[i], g[j + 1])
            uv_faces += [[a, b, c], [a, c, d]] if (i + j) % 2 else [[a, b, d], [b, c, d]]
    uv_faces = np.array(uv_faces)
    # The grid spans texel centres 0.5 .. 32.5 in both axes: every texel of the 33 x 33 image.
    tri_id, _ = uv_raster.rasterize_uv(uv_faces, 33, 33)
    assert (tri_id >= 0).all()
    assert uv_raster.overlap_count(uv_faces, 33, 33).max() == 1


def test_conservative_raster_covers_every_touched_texel():
    rng = np.random.default_rng(3)
    uv_faces = rng.uniform(0.05, 0.95, size=(1, 1, 2)) + 0.15 * rng.normal(size=(25, 3, 2))
    w, h = 40, 30
    centre_id, _ = uv_raster.rasterize_uv(uv_faces, w, h)
    tri_id, bary = uv_raster.rasterize_uv(uv_faces, w, h, conservative=True)
    # Texels taken by their centre keep the centre-sampled owner.
    np.testing.assert_array_equal(tri_id[centre_id >= 0], centre_id[centre_id >= 0])
    # Supersample each texel square (boundary included): any hit must be conservatively covered.
    sub = (np.arange(9) / 8.0)
    sx, sy = np.meshgrid(sub, sub)
    touched = np.zeros((h, w), dtype=bool)
    for ox, oy in zip(sx.ravel(), sy.ravel(), strict=True):
        shifted = uv_faces.copy()
        # Moving the triangles by (0.5 - o) texels samples the point (col + o, row + o) of each square.
        shifted[..., 0] += (0.5 - ox) / w
        shifted[..., 1] -= (0.5 - oy) / h
        touched |= uv_raster.rasterize_uv(shifted, w, h)[0] >= 0
    assert (tri_id[touched] >= 0).all()
    # Conservative-only texels: the nearest point on their triangle lies within half a diagonal.
    extra = (tri_id >= 0) & (centre_id < 0)
    assert extra.any()
    rows, cols = np.nonzero(extra)
    b = bary[rows, cols].astype(np.float64)
    assert (b >= 0).all() and np.allclose(b.sum(axis=1), 1, atol=1e-6)
    px = uv_raster.uv_to_pixel(uv_faces[tri_id[rows, cols]], w, h)
    point = np.einsum("nk,nkd->nd", b, px)
    dist = np.linalg.norm(point - np.stack([cols + 0.5, rows + 0.5], axis=1), axis=1)
    assert dist.max() <= np.sqrt(0.5) + 1e-6


def test_texel_points_lie_on_the_surface(sphere, unwrapped):
    pos = unwrapped.positions(sphere[0])
    points, rows, cols = uv_raster.texel_points(pos, unwrapped.faces, unwrapped.uv_faces, RES, RES)
    tri_id, bary = uv_raster.rasterize_uv(unwrapped.uv_faces, RES, RES)
    assert len(points) == (tri_id >= 0).sum()
    # The first texel's point by hand.
    f, b = tri_id[rows[0], cols[0]], bary[rows[0], cols[0]]
    np.testing.assert_allclose(points[0], b @ pos[unwrapped.faces[f]], atol=1e-6)
    # On a unit icosphere (subdivision 3) flat triangles stay within 0.5 % of the sphere.
    radius = np.linalg.norm(points, axis=1)
    assert 0.99 < radius.min() and radius.max() <= 1 + 1e-9


# ---------------------------------------------------------------------------------------------
# unwrap


def test_unwrap_gives_non_overlapping_charts_in_the_unit_square(sphere, unwrapped):
    pos, faces = sphere
    u = unwrapped
    assert u.faces.shape == faces.shape and u.uvs.shape == (u.vmapping.size, 2)
    assert u.uv_faces.shape == (faces.shape[0], 3, 2)
    assert (u.uvs >= 0).all() and (u.uvs <= 1).all()
    # Same triangles, same order, and the new vertices sit where their originals were.
    np.testing.assert_array_equal(u.vmapping[u.faces], faces)
    np.testing.assert_array_equal(u.positions(pos)[u.faces], pos[faces])
    # Every face has a proper UV triangle; no texel centre lies strictly inside two of them.
    t = u.uv_faces
    area = 0.5 * np.abs((t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1])
                        - (t[:, 2, 0] - t[:, 0, 0]) * (t[:, 1, 1] - t[:, 0, 1]))
    assert (area > 0).all()
    for size in (RES, 4 * RES):
        assert uv_raster.overlap_count(t, size, size).max() == 1
    # The atlas fills the requested resolution along its longer side.
    px = u.uvs * RES
    assert max(px[:, 0].max(), RES - px[:, 1].min()) > 0.9 * RES
    # xatlas is deterministic.
    again = unwrap.unwrap(pos, faces, resolution=RES, padding_px=PAD)
    np.testing.assert_array_equal(again.uvs, u.uvs)


def test_unwrap_charts_are_separated_by_twice_the_padding(unwrapped):
    covered = uv_padding.coverage(unwrapped.uv_faces, RES, RES, conservative=True)
    labels, n = ndimage.label(covered)
    assert n == unwrapped.chart_count
    for i in range(1, n + 1):
        dist = ndimage.distance_transform_edt(labels != i)
        # Centre distance 2 * PAD + 1 means 2 * PAD empty texels in between.
        assert dist[(labels > 0) & (labels != i)].min() >= 2 * PAD + 1


def test_xatlas_v_axis_points_down_and_is_converted():
    """Our conservative raster of the converted UVs reproduces xatlas's own chart image texel for texel.

    xatlas paints chart texels into ``chart_image[y, x]``; with v = 1 - y / R our texture row equals
    xatlas's y. The un-flipped conversion (v = y / R) must not match.
    """
    import xatlas

    pos, faces = _icosphere(3)
    atlas = xatlas.Atlas()
    atlas.add_mesh(pos.astype(np.float32), faces.astype(np.uint32))
    pack = xatlas.PackOptions()
    pack.resolution, pack.padding, pack.create_image = 128, 2, True
    atlas.generate(xatlas.ChartOptions(), pack)
    vmap, tri, uv = atlas.get_mesh(0)
    w, h = atlas.width, atlas.height
    image = atlas.chart_image
    assert image.shape[:2] == (h, w)
    # xatlas draws the padding ring blue and chart borders green; chart interiors in other colours.
    charts = image.any(axis=-1) & ~np.all(image == (0, 0, 255), axis=-1) & ~np.all(image == (0, 255, 0), axis=-1)
    side = max(w, h)
    ours = unwrap.from_xatlas_uvs(uv, w, h, side)
    mask = uv_padding.coverage(ours[tri.astype(np.int64)], side, side)[:h, :w]
    assert (mask != charts).sum() <= 0.001 * charts.sum()
    # The same atlas without the flip, mirrored inside the (h, w) crop: v = 1 - (h - y) / side.
    flipped = np.stack([ours[:, 0], 1.0 - (h - uv[:, 1].astype(np.float64) * h) / side], axis=1)
    wrong = uv_padding.coverage(flipped[tri.astype(np.int64)], side, side)[:h, :w]
    assert (wrong & charts).sum() / (wrong | charts).sum() < 0.7


def test_unwrap_rejects_bad_input(sphere):
    pos, faces = sphere
    with pytest.raises(ValueError, match="empty"):
        unwrap.unwrap(pos, np.zeros((0, 3), dtype=int))
    with pytest.raises(ValueError, match="empty"):
        unwrap.unwrap(np.zeros((0, 3)), faces)
    bad = pos.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        unwrap.unwrap(bad, faces)
    with pytest.raises(ValueError, match="out of range"):
        unwrap.unwrap(pos, faces + 1000)
    with pytest.raises(ValueError, match=r"shape \(V, 3\)"):
        unwrap.unwrap(pos[:, :2], faces)
    with pytest.raises(ValueError, match=r"shape \(F, 3\)"):
        unwrap.unwrap(pos, faces[:, :2])
    with pytest.raises(ValueError, match="padding_px"):
        unwrap.unwrap(pos, faces, resolution=16, padding_px=4)


def test_split_by_corner_uvs_inverts_corner_uvs(sphere, unwrapped):
    pos, faces = sphere
    new_pos, new_faces, new_uvs = unwrap.split_by_corner_uvs(pos, faces, unwrapped.uv_faces)
    np.testing.assert_array_equal(unwrap.corner_uvs_from_split(new_faces, new_uvs), unwrapped.uv_faces)
    np.testing.assert_array_equal(new_pos[new_faces], pos[faces])
    assert len(new_pos) == len(unwrapped.uvs)  # xatlas made exactly one vertex per (vertex, uv) pair
    # Hand-made case: vertex 1 has one UV in both faces (merged), vertex 2 two UVs (split);
    # vertex 4 is unused (dropped).
    p = np.eye(3).tolist() + [[1.0, 1.0, 0.0], [5.0, 5.0, 5.0]]
    f = np.array([[0, 1, 2], [2, 1, 3]])
    uvf = np.array([[[0, 0], [1, 0], [0, 1]], [[0.5, 0.5], [1, 0], [1, 1]]], dtype=float)
    sp, sf, suv = unwrap.split_by_corner_uvs(p, f, uvf)
    assert len(sp) == 5
    np.testing.assert_array_equal(sf, [[0, 1, 2], [3, 1, 4]])
    np.testing.assert_array_equal(suv[sf], uvf)
    with pytest.raises(ValueError, match="2 faces"):
        unwrap.split_by_corner_uvs(p, f, uvf[:1])


def test_unwrap_isolated_in_a_child_process():
    pos, faces = _icosphere(1)
    u = unwrap.unwrap(pos, faces, resolution=64, padding_px=2, isolate=True)
    np.testing.assert_array_equal(u.vmapping[u.faces], faces)
    assert u.uvs.min() >= 0 and u.uvs.max() <= 1
    # A failure in the child comes back as a RuntimeError (validation is bypassed on purpose here).
    with pytest.raises(RuntimeError, match="child process"):
        unwrap._run_isolated(pos, faces + len(pos), 64, 2)


# ---------------------------------------------------------------------------------------------
# uv_padding


def test_dilate_fills_within_n_pixels_with_the_nearest_island_colour(unwrapped):
    covered = uv_padding.coverage(unwrapped.uv_faces, RES, RES)
    labels, n = ndimage.label(covered)
    palette = np.random.default_rng(0).uniform(0.1, 0.9, size=(n + 1, 3))
    image = np.full((RES, RES, 3), np.nan)
    image[covered] = palette[labels[covered]]
    rows, cols = np.nonzero(covered)
    tree = cKDTree(np.stack([rows, cols], axis=1))
    free_r, free_c = np.nonzero(~covered)
    dist, _ = tree.query(np.stack([free_r, free_c], axis=1))
    mean = image[covered].mean(axis=0)
    for pixels in (2, PAD, None):
        out = uv_padding.dilate(image, covered, pixels)
        np.testing.assert_array_equal(out[covered], image[covered])
        near = dist <= (np.inf if pixels is None else pixels)
        assert not np.isnan(out).any()
        assert near.sum() > 0
        # Each filled texel holds the colour of an island at exactly the nearest distance (ties allowed).
        for r, c, d in zip(free_r[near][::7], free_c[near][::7], dist[near][::7], strict=True):
            candidates = tree.query_ball_point([r, c], d + 1e-9)
            assert any(np.array_equal(out[r, c], image[rows[k], cols[k]]) for k in candidates)
        np.testing.assert_allclose(out[free_r[~near], free_c[~near]], np.broadcast_to(mean, ((~near).sum(), 3)))
    with pytest.raises(ValueError, match="shape"):
        uv_padding.dilate(image, covered[:-1])
    with pytest.raises(ValueError, match="no texels"):
        uv_padding.dilate(image, np.zeros_like(covered))


def test_dilate_keeps_uint8_and_grey_images():
    covered = np.zeros((6, 8), dtype=bool)
    covered[2, 3] = covered[2, 4] = True
    img = np.zeros((6, 8, 4), dtype=np.uint8)
    img[2, 3] = (10, 20, 30, 255)
    img[2, 4] = (11, 21, 31, 255)
    out = uv_padding.dilate(img, covered, 1)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[1, 3], img[2, 3])
    np.testing.assert_array_equal(out[0, 0], (10, 20, 30, 255))  # mean (10.5, ...) rounds to even
    grey = uv_padding.dilate(img[..., 0].astype(np.float32), covered)
    assert grey.shape == (6, 8) and grey[5, 7] == 11


def _baked_sphere_texture(sphere, unwrapped, colour, *, padded: bool):
    pos = unwrapped.positions(sphere[0])
    uvf = unwrapped.uv_faces
    points, rows, cols = uv_raster.texel_points(pos, unwrapped.faces, uvf, RES, RES, conservative=True)
    image = np.zeros((RES, RES, 3))
    image[rows, cols] = colour(points)
    if padded:
        image = uv_padding.dilate(image, uv_padding.coverage(uvf, RES, RES), PAD)
    return image


def test_padding_removes_seams_under_bilinear_and_mip_sampling(sphere, unwrapped):
    def colour(p):  # smooth, in [0.4, 1.0], so a black texel in the mix is an obvious error
        return 0.7 + 0.3 * np.sin(np.stack([1.3 * p[:, 0] + 0.2, 1.1 * p[:, 1] - 0.4, 0.9 * p[:, 2] + 1.0], 1))

    rng = np.random.default_rng(11)
    pos = unwrapped.positions(sphere[0])
    n = 20000
    face = rng.integers(0, len(unwrapped.faces), n)
    b = rng.dirichlet((1.0, 1.0, 1.0), n)
    # Half the samples hug an edge of their triangle (one barycentric below 1 %).
    edge = rng.random(n) < 0.5
    k = rng.integers(0, 3, n)
    b[edge, k[edge]] *= 0.01
    b /= b.sum(axis=1, keepdims=True)
    uv = np.einsum("nk,nkd->nd", b, unwrapped.uv_faces[face])
    truth = colour(np.einsum("nk,nkd->nd", b, pos[unwrapped.faces[face]]))

    padded = _baked_sphere_texture(sphere, unwrapped, colour, padded=True)
    raw = _baked_sphere_texture(sphere, unwrapped, colour, padded=False)
    err = {}
    for name, image in (("padded", padded), ("raw", raw)):
        for level in range(3):
            err[name, level] = np.abs(_bilinear(image, uv) - truth).max(axis=1)
            image = _mip(image)
    # With padding: small everywhere, at level 0 and at the first two mip levels (PAD = 4 texels
    # of padding is what level 2, with 4 x 4 texel blocks, needs).
    assert err["padded", 0].max() < 0.01
    assert err["padded", 1].max() < 0.015
    assert err["padded", 2].max() < 0.05
    # Without padding the island borders read black: large errors, concentrated near the edges.
    assert err["raw", 0].max() > 0.3 and err["raw", 1].max() > 0.3 and err["raw", 2].max() > 0.3
    assert np.percentile(err["raw", 1][edge], 95) > 20 * np.percentile(err["padded", 1][edge], 95)


# ---------------------------------------------------------------------------------------------
# glTF


def _quadrant_texture(size: int = 64) -> np.ndarray:
    """Top-left red, top-right green, bottom-left blue, bottom-right white, with a checker overlay."""
    img = np.zeros((size, size, 3), dtype=np.uint8)
    half = size // 2
    img[:half, :half] = (255, 0, 0)
    img[:half, half:] = (0, 255, 0)
    img[half:, :half] = (0, 0, 255)
    img[half:, half:] = (255, 255, 255)
    checker = ((np.arange(size)[:, None] // 8 + np.arange(size)[None, :] // 8) % 2).astype(bool)
    img[checker] //= 2
    return img


def test_write_glb_round_trip_keeps_texture_orientation(tmp_path, sphere, unwrapped):
    import trimesh
    from PIL import Image

    pos, faces, uvs = unwrap.split_by_corner_uvs(sphere[0], sphere[1], unwrapped.uv_faces)
    tex = _quadrant_texture()
    nrm = normals.vertex_normals(pos, faces)
    path = gltf.write_glb(tmp_path / "out" / "mesh.glb", pos, faces, uvs, tex, normals=nrm, name="ball")
    assert path.is_file() and sorted(p.name for p in path.parent.iterdir()) == ["mesh.glb"]

    # trimesh reads back what was written.
    mesh = trimesh.load(path, force="mesh", process=False)
    np.testing.assert_allclose(mesh.vertices, pos, atol=1e-6)
    np.testing.assert_array_equal(mesh.faces, faces)
    np.testing.assert_allclose(mesh.visual.uv, uvs, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(mesh.visual.material.baseColorTexture.convert("RGB")), tex)
    data = gltf.read_mesh(path)
    np.testing.assert_allclose(data.uv_faces, uvs[faces], atol=1e-6)

    # The file itself, decoded by hand: glTF's v points down, the image is stored top row first.
    tree, blob = _parse_glb(path.read_bytes())
    prim = tree["meshes"][0]["primitives"][0]
    assert tree["nodes"][0]["name"] == "ball" and "NORMAL" in prim["attributes"]
    gl_uv = _accessor(tree, blob, prim["attributes"]["TEXCOORD_0"], "<f4", 2)
    np.testing.assert_allclose(gl_uv, np.stack([uvs[:, 0], 1 - uvs[:, 1]], 1), atol=1e-6)
    material = tree["materials"][prim["material"]]
    pbr = material["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0.0
    texture = tree["textures"][pbr["baseColorTexture"]["index"]]
    assert tree["samplers"][texture["sampler"]]["wrapS"] == 33071
    view = tree["bufferViews"][tree["images"][texture["source"]]["bufferView"]]
    png = blob[view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]]
    stored = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    np.testing.assert_array_equal(stored, tex)
    # Our uv (0.1, 0.9) is near the top-left of the image: red. A glTF viewer samples the stored image
    # at x = s * W, y = t * H from the top, with (s, t) the TEXCOORD_0 it reads.
    for (u, v), quadrant in [((0.1, 0.9), (1, 0, 0)), ((0.9, 0.9), (0, 1, 0)),
                             ((0.1, 0.1), (0, 0, 1)), ((0.9, 0.1), (1, 1, 1))]:
        s, t = u, 1 - v
        got = stored[int(t * 64), int(s * 64)]
        np.testing.assert_array_equal(got, tex[int((1 - v) * 64), int(u * 64)])
        np.testing.assert_array_equal(got > 0, np.array(quadrant, dtype=bool))


def test_write_glb_variants_and_errors(tmp_path):
    pos, faces = _icosphere(1)
    uvs = np.random.default_rng(0).random((len(pos), 2))
    rgba = np.full((8, 8, 4), 200, dtype=np.uint8)
    rgba[..., 3] = 255
    tree, _ = _parse_glb(gltf.write_glb(tmp_path / "a.glb", pos, faces, uvs, rgba).read_bytes())
    assert "alphaMode" not in tree["materials"][0]  # opaque RGBA stored as RGB
    rgba[0, 0, 3] = 10
    tree, _ = _parse_glb(gltf.write_glb(tmp_path / "b.glb", pos, faces, uvs, rgba).read_bytes())
    assert tree["materials"][0]["alphaMode"] == "BLEND"
    tree, _ = _parse_glb(gltf.write_glb(tmp_path / "c.glb", pos, faces).read_bytes())
    assert "TEXCOORD_0" not in tree["meshes"][0]["primitives"][0]["attributes"]
    with pytest.raises(ValueError, match="needs uvs"):
        gltf.write_glb(tmp_path / "d.glb", pos, faces, None, rgba)
    with pytest.raises(ValueError, match="uint8"):
        gltf.write_glb(tmp_path / "d.glb", pos, faces, uvs, rgba.astype(np.float32))
    with pytest.raises(ValueError, match="uvs has"):
        gltf.write_glb(tmp_path / "d.glb", pos, faces, uvs[:-1], rgba)
    assert not (tmp_path / "d.glb").exists()


def test_read_mesh_obj_and_npz(tmp_path):
    obj = tmp_path / "quad.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"
                   "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
                   "f 1/1 2/2 3/3\nf 1/1 3/3 4/4\n")
    data = gltf.read_mesh(obj)
    corners = data.positions[data.faces]
    np.testing.assert_allclose(corners[:, :, :2], data.uv_faces)  # this quad's UV equals its xy (v up)
    np.testing.assert_allclose(np.sort(corners.reshape(-1, 3), axis=0),
                               np.sort(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 1, 0],
                                                 [0, 1, 0]], dtype=float), axis=0))

    pos, faces = _icosphere(1)
    uvf = np.random.default_rng(1).random((len(faces), 3, 2))
    np.savez(tmp_path / "m.npz", positions=pos, faces=faces, uv_faces=uvf)
    data = gltf.read_mesh(tmp_path / "m.npz")
    np.testing.assert_array_equal(data.positions, pos)
    np.testing.assert_array_equal(data.faces, faces)
    np.testing.assert_array_equal(data.uv_faces, uvf)
    np.savez(tmp_path / "plain.npz", positions=pos, faces=faces)
    assert gltf.read_mesh(tmp_path / "plain.npz").uv_faces is None


def test_read_mesh_flattens_scenes_with_their_transforms(tmp_path):
    import trimesh

    pos, faces = _icosphere(1)
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.Trimesh(pos, faces, process=False), node_name="a")
    shift = np.eye(4)
    shift[:3, 3] = (5.0, 0.0, 0.0)
    scene.add_geometry(trimesh.Trimesh(pos, faces, process=False), node_name="b", transform=shift)
    scene.export(tmp_path / "scene.glb")
    data = gltf.read_mesh(tmp_path / "scene.glb")
    assert data.faces.shape == (2 * len(faces), 3)
    np.testing.assert_allclose(np.sort(data.positions[:, 0])[-len(pos):].mean(), 5.0 + pos[:, 0].mean(), atol=0.3)
    assert data.positions[:, 0].max() == pytest.approx(6.0, abs=1e-6)


def test_read_mesh_errors(tmp_path):
    pos, faces = _icosphere(1)
    with pytest.raises(FileNotFoundError, match="not found"):
        gltf.read_mesh(tmp_path / "missing.obj")
    (tmp_path / "m.xyz").write_text("0 0 0\n")
    with pytest.raises(ValueError, match="unsupported mesh format"):
        gltf.read_mesh(tmp_path / "m.xyz")
    np.savez(tmp_path / "nofaces.npz", positions=pos)
    with pytest.raises(ValueError, match="missing array"):
        gltf.read_mesh(tmp_path / "nofaces.npz")
    bad = pos.copy()
    bad[0] = np.inf
    np.savez(tmp_path / "inf.npz", positions=bad, faces=faces)
    with pytest.raises(ValueError, match="infinite"):
        gltf.read_mesh(tmp_path / "inf.npz")
    np.savez(tmp_path / "range.npz", positions=pos, faces=faces + len(pos))
    with pytest.raises(ValueError, match="out of range"):
        gltf.read_mesh(tmp_path / "range.npz")
    np.savez(tmp_path / "uv.npz", positions=pos, faces=faces, uv_faces=np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="uv_faces has 3 triangles"):
        gltf.read_mesh(tmp_path / "uv.npz")
    (tmp_path / "points.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    with pytest.raises(ValueError, match="no triangles"):
        gltf.read_mesh(tmp_path / "points.obj")


# ---------------------------------------------------------------------------------------------
# cleanup, normals, atomic writes


def test_remove_small_components_drops_floaters():
    a_pos, a_faces = _icosphere(2)
    b_pos, b_faces = _icosphere(2, radius=0.5, center=(3.0, 0.0, 0.0))
    tiny = np.array([[10.0, 0, 0], [10.01, 0, 0], [10.0, 0.01, 0]])
    pos = np.concatenate([a_pos, tiny, b_pos])  # the floater's vertices sit in the middle
    faces = np.concatenate([a_faces, [[len(a_pos), len(a_pos) + 1, len(a_pos) + 2]],
                            b_faces + len(a_pos) + 3])
    new_pos, new_faces = cleanup.remove_small_components(pos, faces, min_fraction=0.05)
    assert len(new_faces) == len(a_faces) + len(b_faces) and len(new_pos) == len(a_pos) + len(b_pos)
    np.testing.assert_array_equal(new_pos[new_faces], np.concatenate([a_pos[a_faces], b_pos[b_faces]]))
    assert cleanup.face_components(new_faces)[0] == 2
    # A small but finely meshed part survives on its face count alone.
    small_pos, small_faces = _icosphere(2, radius=0.01, center=(5.0, 0.0, 0.0))
    kept = cleanup.remove_small_components(np.concatenate([a_pos, small_pos]),
                                           np.concatenate([a_faces, small_faces + len(a_pos)]))
    assert len(kept[1]) == 2 * len(a_faces)


def test_simplify_hits_the_target_and_is_a_no_op_below_it():
    pos, faces = _icosphere(4)  # 5120 faces
    new_pos, new_faces = cleanup.simplify(pos, faces, 1000)
    assert abs(len(new_faces) - 1000) <= 100
    assert new_faces.max() < len(new_pos) and np.isfinite(new_pos).all()
    assert np.abs(np.linalg.norm(new_pos, axis=1) - 1).max() < 0.05
    same_pos, same_faces = cleanup.simplify(pos, faces, 10000)
    np.testing.assert_array_equal(same_faces, faces)
    np.testing.assert_array_equal(same_pos, pos)
    with pytest.raises(ValueError, match="target_faces"):
        cleanup.simplify(pos, faces, 2)


def test_is_manifold():
    _, faces = _icosphere(2)
    assert cleanup.is_manifold(faces)
    assert not cleanup.is_manifold(faces[1:])  # a hole
    flipped = faces.copy()
    flipped[0] = flipped[0, ::-1]
    assert not cleanup.is_manifold(flipped)  # inconsistent orientation
    assert not cleanup.is_manifold(np.concatenate([faces, faces[:1]]))  # an edge with 3+ faces
    with pytest.raises(ValueError, match="empty"):
        cleanup.is_manifold(np.zeros((0, 3), dtype=int))


def test_vertex_normals_are_smooth_across_uv_seams(sphere, unwrapped):
    pos, faces, _ = unwrap.split_by_corner_uvs(sphere[0], sphere[1], unwrapped.uv_faces)
    n = normals.vertex_normals(pos, faces)
    radial = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    assert np.einsum("nd,nd->n", n, radial).min() > 0.999
    unwelded = normals.vertex_normals(pos, faces, weld=False)
    assert np.einsum("nd,nd->n", unwelded, radial).min() < 0.999  # seam vertices see half a fan


def test_atomic_writes(tmp_path):
    target = tmp_path / "t.png"
    target.write_bytes(b"old")
    img = _quadrant_texture(16)
    atomic.save_png(target, img)
    from PIL import Image

    np.testing.assert_array_equal(np.asarray(Image.open(target)), img)
    atomic.save_npy(tmp_path / "uvs.npy", np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(np.load(tmp_path / "uvs.npy"), np.arange(6.0).reshape(3, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.png", "uvs.npy"]
    with pytest.raises(ValueError, match="uint8"):
        atomic.save_png(tmp_path / "f.png", img.astype(float))
