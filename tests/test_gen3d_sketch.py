"""gen3d.nerf.sketch / winding: Sketch-Shape occupancy, distance, ray depth, loss and input checks.

References here are independent of the code under test: analytic inside tests for boxes and convex
polyhedra, a numpy point-triangle distance by plane projection + edge distances, analytic slab
intersections for ray depths, and plain sums over all triangles for the hierarchical winding number.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from procdream.gen3d.nerf import winding
from procdream.gen3d.nerf.sketch import (
    SketchConfig,
    SketchError,
    SketchField,
    SketchFrame,
    SketchWarning,
    g3dr_gradient_scale,
    grid_nodes,
    load_sketch,
    scale_gradient,
    sketch_shape_loss,
)

# ---------------------------------------------------------------------------------------------
# meshes and independent references


def _box(center=(0.0, 0.0, 0.0), extents=(1.0, 1.0, 1.0), flip=False):
    m = trimesh.creation.box(extents=extents)
    pos = np.asarray(m.vertices, np.float64) + np.asarray(center)
    faces = np.asarray(m.faces, np.int64)
    return pos, (faces[:, ::-1].copy() if flip else faces)


def _icosphere(center=(0.0, 0.0, 0.0), radius=1.0, subdivisions=2, flip=False):
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    pos = np.asarray(m.vertices, np.float64) + np.asarray(center)
    faces = np.asarray(m.faces, np.int64)
    return pos, (faces[:, ::-1].copy() if flip else faces)


def _concat(*meshes):
    pos, faces, off = [], [], 0
    for p, f in meshes:
        pos.append(p)
        faces.append(f + off)
        off += len(p)
    return np.vstack(pos), np.vstack(faces)


def _inside_box(p, center, extents, margin=0.0):
    """(inside, clear): inside the box, and more than ``margin`` away from its surface."""
    g = np.abs(p - np.asarray(center)) - 0.5 * np.asarray(extents)
    inside = (g < 0).all(axis=1)
    # Inside, the distance is the smallest gap; outside, the largest gap is a lower bound of it.
    return inside, np.where(inside, (-g).min(axis=1), g.max(axis=1)) > margin


def _inside_convex(p, pos, faces, margin=0.0):
    """(inside, clear) for a convex polyhedron with outward faces: behind every face plane."""
    tri = pos[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    s = np.einsum("pfk,fk->pf", p[:, None, :] - tri[None, :, 0], n)
    # Inside, -max(s) is the distance to the surface; outside, max(s) is a lower bound of it.
    return (s < 0).all(axis=1), np.abs(s.max(axis=1)) > margin


def _seg_dist(p, a, b):
    ab = b - a
    t = np.einsum("...k,...k->...", p - a, ab) / np.maximum(np.einsum("...k,...k->...", ab, ab), 1e-300)
    t = np.clip(t, 0.0, 1.0)
    return np.linalg.norm(a + t[..., None] * ab - p, axis=-1)


def _dist_reference(pos, faces, pts):
    """Point-to-soup distance (P,) by plane projection + barycentric test, else nearest edge."""
    tri = pos[faces][None]  # (1, F, 3, 3)
    p = pts[:, None, :]  # (P, 1, 3)
    a, b, c = tri[..., 0, :], tri[..., 1, :], tri[..., 2, :]
    edge = np.minimum(np.minimum(_seg_dist(p, a, b), _seg_dist(p, b, c)), _seg_dist(p, c, a))
    n = np.cross(b - a, c - a)
    nn = np.einsum("...k,...k->...", n, n)
    ok = nn > 1e-30
    h = np.einsum("...k,...k->...", p - a, n) / np.where(ok, nn, 1.0)
    proj = p - h[..., None] * n
    # Barycentrics of the projection from sub-triangle areas (signed along n).
    u = np.einsum("...k,...k->...", np.cross(c - b, proj - b), n) / np.where(ok, nn, 1.0)
    v = np.einsum("...k,...k->...", np.cross(a - c, proj - c), n) / np.where(ok, nn, 1.0)
    inside = ok & (u >= 0) & (v >= 0) & (u + v <= 1)
    plane = np.abs(h) * np.sqrt(nn)
    return np.where(inside, np.minimum(plane, edge), edge).min(axis=1)


def _slab_hit(o, d, lo, hi):
    """First t > 0 of rays with the surface of box [lo, hi] (analytic), inf on a miss."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (lo - o) / d
        t2 = (hi - o) / d
    tn = np.minimum(t1, t2).max(axis=1)
    tf = np.maximum(t1, t2).min(axis=1)
    hit = tn <= tf
    t = np.where(tn > 0, tn, tf)
    return np.where(hit & (t > 0), t, np.inf)


def _rng(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# winding number and occupancy


def _cases():
    box_c, box_e = (0.0, 0.0, 0.0), (1.0, 0.6, 0.8)
    sph_c = (0.45, 0.15, 0.05)
    sph = _icosphere(sph_c, 0.45)
    box = _box(box_c, box_e)

    def box_inside(p, m):
        return _inside_box(p, box_c, box_e, m)

    def sph_inside(p, m):
        return _inside_convex(p, *sph, m)

    def union(p, m):
        (a, ca), (b, cb) = box_inside(p, m), sph_inside(p, m)
        return a | b, ca & cb

    return {
        "box": (box, box_inside, {0, 1}),
        "icosphere": (sph, sph_inside, {0, 1}),
        "box_and_sphere_overlap": (_concat(box, sph), union, {0, 1, 2}),
        "flipped_box": (_box(box_c, box_e, flip=True), box_inside, {0, -1}),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_winding_occupancy_matches_analytic_inside(name):
    (pos, faces), inside_fn, values = _cases()[name]
    bvh = winding.TriangleBVH(pos, faces)
    pts = _rng(1).uniform(-1.0, 1.0, (4000, 3))
    inside, clear = inside_fn(pts, 1e-3)
    w = bvh.winding_number(pts)
    assert np.array_equal((np.abs(w) > 0.5)[clear], inside[clear])
    assert set(np.round(w[clear]).astype(int)) <= values
    assert np.abs(w[clear] - np.round(w[clear])).max() < 1e-9
    assert bvh.boundary_edges == 0


def _open_and_soup_meshes():
    box_pos, box_faces = _box((0.1, 0.0, -0.1), (1.0, 0.7, 0.5))
    rng = _rng(2)
    soup_pos = rng.uniform(-0.8, 0.8, (150, 3))
    soup_faces = rng.integers(0, 150, (50, 3))
    soup_faces[:3, 1] = soup_faces[:3, 0]  # zero-area triangles
    half_faces = box_faces[:, ::-1].copy()
    half_faces[:4] = half_faces[:4, ::-1]  # faces flipped within one primitive
    return {
        "box_missing_face": (box_pos, box_faces[2:]),
        "random_soup": (soup_pos, soup_faces),
        "partly_flipped_box": (box_pos, half_faces),
        "sphere_cap": _icosphere(radius=0.6, subdivisions=3),
    }


@pytest.mark.parametrize("name", list(_open_and_soup_meshes()))
def test_hierarchical_winding_is_exact_on_open_and_soup_meshes(name):
    pos, faces = _open_and_soup_meshes()[name]
    if name == "sphere_cap":  # an open cap: the faces above a plane
        faces = faces[pos[faces].mean(axis=1)[:, 1] > -0.2]
    bvh = winding.TriangleBVH(pos, faces)
    pts = _rng(3).uniform(-1.0, 1.0, (3000, 3))
    np.testing.assert_allclose(bvh.winding_number(pts), winding.winding_number_bruteforce(pos, faces, pts),
                               rtol=0, atol=1e-10)
    assert bvh.boundary_edges > 0 or name == "random_soup"


def test_unwelded_primitives_get_short_caps_and_zero_boundary():
    pos, faces = _box(extents=(1.0, 2.0, 0.5))
    split = pos[faces].reshape(-1, 3)  # every face has its own three vertices
    sfaces = np.arange(len(split)).reshape(-1, 3)
    bvh = winding.TriangleBVH(split, sfaces)
    assert bvh.boundary_edges == 0
    pts = _rng(4).uniform(-1.5, 1.5, (500, 3))
    np.testing.assert_allclose(bvh.winding_number(pts), winding.winding_number_bruteforce(split, sfaces, pts),
                               atol=1e-10)


# ---------------------------------------------------------------------------------------------
# distance and ray depth


def test_distance_matches_bruteforce_reference():
    rng = _rng(5)
    pos, faces = _concat(_box((0.0, 0.1, 0.0), (0.9, 0.5, 0.7)), _icosphere((0.3, 0.2, 0.1), 0.4, 1))
    soup_pos = rng.uniform(-0.7, 0.7, (60, 3))
    soup_faces = rng.integers(0, 60, (20, 3))
    soup_faces[0] = (1, 1, 1)  # a point triangle
    soup_faces[1] = (2, 3, 2)  # a segment
    pos, faces = _concat((pos, faces), (soup_pos, soup_faces))
    pts = np.vstack([rng.uniform(-1.2, 1.2, (1500, 3)),
                     pos[faces].mean(axis=1) + rng.normal(0, 1e-3, (len(faces), 3))])  # near the surface
    bvh = winding.TriangleBVH(pos, faces)
    ref = _dist_reference(pos, faces, pts)
    np.testing.assert_allclose(bvh.distance(pts), ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(winding.distance_bruteforce(pos, faces, pts), ref, rtol=0, atol=1e-6)


def test_surface_depth_matches_analytic_box_hits():
    lo, hi = np.array([-0.3, -0.2, -0.25]), np.array([0.3, 0.2, 0.25])
    pos, faces = _box(0.5 * (lo + hi), hi - lo)
    field = SketchField(pos, faces, SketchConfig(grid_resolution=8))
    rng = _rng(6)
    origins = rng.normal(size=(800, 3))
    origins = 1.3 * origins / np.linalg.norm(origins, axis=1, keepdims=True)
    aim = rng.uniform(-0.35, 0.35, (800, 3))  # some rays miss, most hit
    dirs = aim - origins
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    inner = rng.uniform(-0.1, 0.1, (100, 3))  # rays from inside hit the far wall
    inner_dirs = rng.normal(size=(100, 3))
    inner_dirs /= np.linalg.norm(inner_dirs, axis=1, keepdims=True)
    o = np.vstack([origins, inner, [[-1.0, 0.0, 0.0], [-1.0, 0.5, 0.0]]])
    d = np.vstack([dirs, inner_dirs, [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])  # axis-parallel hit / miss
    ref = _slab_hit(o, d, lo, hi)
    got = field.surface_depth(torch.from_numpy(o), torch.from_numpy(d)).numpy()
    assert got.dtype == np.float32 and got.shape == (len(o),)
    assert np.array_equal(np.isinf(got), np.isinf(ref))
    assert np.isinf(ref).sum() > 20 and (~np.isinf(ref)).sum() > 500
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[-2], 0.7, atol=1e-6)
    assert np.array_equal(winding.raycast_bruteforce(pos, faces, o, d) < np.inf, fin)


# ---------------------------------------------------------------------------------------------
# the precomputed field


@pytest.fixture(scope="module")
def union_field():
    pos, faces = _concat(_box((-0.1, 0.0, 0.0), (0.8, 0.5, 0.6)), _icosphere((0.25, 0.1, 0.05), 0.35, 2))
    return SketchField(pos, faces, SketchConfig(grid_resolution=24))


def test_field_at_grid_nodes_equals_precomputed_values(union_field):
    f = union_field
    g = grid_nodes(f.resolution, f.bound)
    idx = _rng(7).integers(0, f.resolution, (2000, 3))
    pts = torch.from_numpy(g[idx])
    q, d = f.sample(pts)
    np.testing.assert_allclose(q.numpy(), f.occupancy_grid[tuple(idx.T)], atol=1e-5)
    np.testing.assert_allclose(d.numpy(), f.distance_grid[tuple(idx.T)], atol=1e-5)
    exact_q = f.exact_occupancy(g[idx])
    np.testing.assert_array_equal(f.occupancy_grid[tuple(idx.T)], exact_q)
    np.testing.assert_allclose(f.distance_grid[tuple(idx.T)], f.exact_distance(g[idx]), atol=1e-6)
    assert 0.0 < f.inside_fraction < 0.2 and f.boundary_edges == 0


def test_field_between_nodes_is_within_interpolation_error(union_field):
    f = union_field
    pts = _rng(8).uniform(-f.bound, f.bound, (5000, 3))
    q, d = (t.double().numpy() for t in f.sample(torch.from_numpy(pts).float()))
    exact_d = f.exact_distance(pts)
    exact_q = f.exact_occupancy(pts)
    reach = np.sqrt(3.0) * f.spacing  # farthest corner of the point's cell
    # d is 1-Lipschitz, so each corner value is within |corner - p| <= reach of d(p).
    assert np.abs(d - exact_d).max() <= reach + 1e-5
    # A cell whose corners all lie within d(p) of p contains no surface: q is exact there.
    far = exact_d > reach
    assert far.mean() > 0.5
    np.testing.assert_allclose(q[far], exact_q[far], atol=1e-6)  # float32 weights
    assert np.all((q >= 0) & (q <= 1))


def test_field_outside_the_grid_cube(union_field):
    pts = np.array([[1.5, 0.0, 0.0], [0.0, -2.0, 0.3], [3.0, 3.0, 3.0]])
    q, d = union_field.sample(torch.from_numpy(pts))
    assert torch.all(q == 0)
    exact = union_field.exact_distance(pts)
    assert np.all(d.numpy() >= exact - 1e-6) and np.all(d.numpy() <= 1.1 * exact)


def test_sample_keeps_leading_shape_and_device(union_field):
    pts = torch.zeros(4, 5, 3)
    q, d = union_field.sample(pts)
    assert q.shape == (4, 5) and d.shape == (4, 5) and q.dtype == torch.float32


# ---------------------------------------------------------------------------------------------
# normalisation


def test_frame_round_trip_and_target_radius():
    pos, faces = _concat(_box((3.0, -2.0, 7.0), (4.0, 1.0, 2.0)), _icosphere((5.0, -1.0, 7.5), 1.2, 1))
    frame = SketchFrame.fit(pos, 0.7)
    n = frame.to_normalized(pos)
    assert np.isclose(np.linalg.norm(n, axis=1).max(), 0.7)
    np.testing.assert_allclose(frame.center, 0.5 * (pos.min(0) + pos.max(0)))
    np.testing.assert_allclose(frame.to_world(n), pos, atol=1e-12)
    t = torch.from_numpy(pos).float()
    back = frame.to_world(frame.to_normalized(t))
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32
    np.testing.assert_allclose(back.numpy(), pos, rtol=1e-6, atol=1e-5)
    assert np.isclose(frame.length_to_world(0.7), np.linalg.norm(pos - frame.center, axis=1).max())


def test_millimetres_and_metres_give_the_same_normalised_field():
    pos, faces = _concat(_box((0.2, 0.0, 0.1), (1.0, 0.4, 0.6)), _icosphere((0.5, 0.2, 0.0), 0.3, 2))
    cfg = SketchConfig(grid_resolution=20)
    f_m, frame_m = load_sketch(pos, faces, cfg)
    f_mm, frame_mm = load_sketch(pos * 1000.0 + np.array([12.0, -40.0, 3.0]), faces, cfg)
    np.testing.assert_allclose(f_mm.positions, f_m.positions, atol=1e-12)
    np.testing.assert_array_equal(f_mm.occupancy_grid, f_m.occupancy_grid)
    np.testing.assert_allclose(f_mm.distance_grid, f_m.distance_grid, atol=1e-6)
    assert np.isclose(frame_mm.scale * 1000.0, frame_m.scale)
    # The result lands where the sketch was: the normalised origin maps to the sketch's box centre.
    np.testing.assert_allclose(frame_mm.to_world(np.zeros(3)), frame_m.to_world(np.zeros(3)) * 1000.0
                               + np.array([12.0, -40.0, 3.0]), atol=1e-9)


# ---------------------------------------------------------------------------------------------
# loss and G3DR


@pytest.fixture(scope="module")
def grid_box_field():
    # Faces on grid planes (nodes every 0.1) so the interpolated distance vanishes on the surface.
    pos, faces = _box(extents=(0.8, 0.8, 0.8))
    return SketchField(pos, faces, SketchConfig(grid_resolution=21))


def _grad(points, sigma, field, cfg):
    s = torch.tensor(sigma, dtype=torch.float64, requires_grad=True)
    loss = sketch_shape_loss(torch.tensor(points, dtype=torch.float64), s, field, cfg)
    loss.backward()
    return loss, s.grad


@pytest.mark.parametrize("form", ["latent_nerf", "bce"])
def test_loss_gradient_signs_and_surface_freedom(grid_box_field, form):
    cfg = SketchConfig(cross_entropy=form)
    inside = [[0.0, 0.0, 0.0], [0.05, -0.1, 0.0]]
    outside = [[0.95, 0.9, -0.9], [-0.9, 0.0, 0.95]]
    surface = [[0.4, 0.13, -0.27], [-0.21, 0.4, 0.33], [0.1, 0.2, -0.4]]
    pts = inside + outside + surface
    _, g = _grad(pts, [1.0] * len(pts), grid_box_field, cfg)
    assert torch.all(g[:2] < 0), "inside: raising sigma (alpha -> 1) must lower the loss"
    assert torch.all(g[2:4] > 0), "outside: lowering sigma (alpha -> 0) must lower the loss"
    assert torch.all(g[4:].abs() < 1e-9 * g[:4].abs().min()), "on the surface w = 0: no pull"


def test_latent_nerf_form_keeps_pulling_underflowed_alpha(grid_box_field):
    _, g = _grad([[0.0, 0.0, 0.0]], [1e-12], grid_box_field, SketchConfig(cross_entropy="latent_nerf"))
    assert g[0] < -0.1


def test_loss_value_is_weighted_mean(grid_box_field):
    cfg = SketchConfig(lambda_shape=2.0)
    rng = _rng(9)
    pts = torch.from_numpy(rng.uniform(-1, 1, (300, 3)))
    sigma = torch.from_numpy(rng.uniform(0, 20, 300))
    q, d = grid_box_field.sample(pts)
    q = q.double().clamp(0.01, 0.99)
    w = 1 - torch.exp(-d.double() ** 2 / (2 * 0.3 ** 2))
    a = 1 - torch.exp(-0.2 * sigma)
    ref = 2.0 * (w * -(a * torch.log(q) + (1 - a) * torch.log(1 - q))).mean()
    loss = sketch_shape_loss(pts, sigma, grid_box_field, cfg)
    assert torch.isclose(loss, ref, rtol=1e-6)
    # A mean: repeating the batch leaves the value unchanged.
    again = sketch_shape_loss(pts.repeat(3, 1).view(3, 300, 3), sigma.repeat(3).view(3, 300), grid_box_field, cfg)
    assert torch.isclose(again, loss, rtol=1e-6)
    assert sketch_shape_loss(pts[:0], sigma[:0], grid_box_field, cfg) == 0


def test_g3dr_scale_values():
    cfg = SketchConfig(g3dr=True)
    x = torch.tensor([1.0, 1.5, float("inf")])
    t = torch.tensor([[1.0, 1.05, 1.1, 3.0], [1.5, 0.2, 1.6, 1.45], [1.0, 1.05, 1.1, 3.0]])
    k = g3dr_gradient_scale(t, x, cfg)
    assert k.shape == t.shape
    assert k[0, 0] == 1.0 and k[1, 0] == 1.0  # at the surface: 1.25 clamped to 1
    assert k[0, 3] == 0.05 and k[1, 1] == 0.05  # far from it: the lower clamp
    assert torch.isclose(k[0, 2], torch.tensor(1.25 * np.exp(-0.01 / 0.03), dtype=torch.float32))
    assert torch.all(k[2] == 1.0)  # a ray that misses the sketch is left alone
    assert torch.all((k >= 0.05) & (k <= 1.0))


def test_scale_gradient_keeps_forward_and_scales_backward():
    v = torch.tensor([[0.2, 0.7], [1.3, -0.4]], requires_grad=True)
    k = torch.tensor([[1.0, 0.05], [0.5, 1.0]])
    out = scale_gradient(v, k)
    assert torch.equal(out, v.detach())
    out.sum().backward()
    assert torch.equal(v.grad, k)
    c = torch.ones(2, 2, 4, requires_grad=True)
    scale_gradient(c, k).sum().backward()
    assert torch.equal(c.grad, k[..., None].expand(2, 2, 4))


# ---------------------------------------------------------------------------------------------
# bad input


SMALL = SketchConfig(grid_resolution=16)


def test_open_plane_is_rejected():
    pos = np.array([[-1.0, 0.0, -1.0], [1.0, 0.0, -1.0], [1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]])
    with pytest.raises(SketchError, match="encloses no volume.*Solidify"):
        load_sketch(pos, np.array([[0, 2, 1], [0, 3, 2]]), SMALL)


def test_thin_closed_box_is_told_apart_from_a_plane():
    with pytest.raises(SketchError, match="thinner than one grid cell"):
        load_sketch(*_box(extents=(1.0, 1.0, 1e-3)), SMALL)
    field, _ = load_sketch(*_box(extents=(1.0, 1.0, 0.2)), SMALL)  # flat but resolvable: fine
    assert field.inside_fraction > 0


def test_too_many_faces():
    pos, faces = _icosphere(subdivisions=3)
    with pytest.raises(SketchError, match="decimate"):
        load_sketch(pos, faces, SketchConfig(grid_resolution=16, max_faces=1000))


@pytest.mark.parametrize("pos", [np.zeros((8, 3)), np.full((8, 3), 1e6) + _rng(10).normal(0, 1e-6, (8, 3))])
def test_degenerate_scale(pos):
    with pytest.raises(SketchError, match="no size"):
        load_sketch(pos, _box()[1], SMALL)


def test_zero_area_sketch():
    pos = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [3.0, 1.0, 1.0]])
    with pytest.raises(SketchError, match="zero area"):
        load_sketch(pos, np.array([[0, 1, 2], [0, 2, 1], [3, 3, 0]]), SMALL)


def test_malformed_input():
    pos, faces = _box()
    bad = pos.copy()
    bad[3, 1] = np.nan
    with pytest.raises(SketchError, match="NaN"):
        load_sketch(bad, faces, SMALL)
    with pytest.raises(SketchError, match="empty"):
        load_sketch(pos, np.zeros((0, 3), np.int64), SMALL)
    with pytest.raises(SketchError, match="out of range"):
        load_sketch(pos, faces + 1, SMALL)
    with pytest.raises(SketchError, match="shape"):
        load_sketch(pos[:, :2], faces, SMALL)


def test_inside_out_primitive_is_repaired_and_partial_flips_warn():
    box = _box((-0.2, 0.0, 0.0), (0.8, 0.6, 0.6))
    flipped_sphere = _icosphere((0.3, 0.0, 0.0), 0.4, 2, flip=True)
    good = _concat(box, _icosphere((0.3, 0.0, 0.0), 0.4, 2))
    f_good, _ = load_sketch(*good, SMALL)
    f_flip, frame = load_sketch(*_concat(box, flipped_sphere), SMALL)
    assert f_flip.flipped_pieces == 1 and f_good.flipped_pieces == 0
    # Without the flip the overlap would read 1 + (-1) = 0, a hole in the union.
    np.testing.assert_array_equal(f_flip.occupancy_grid, f_good.occupancy_grid)
    overlap = frame.to_normalized(np.array([[0.1, 0.0, 0.0]]))  # inside both box and sphere
    assert f_flip.exact_occupancy(overlap)[0] == 1.0
    pos, faces = box
    faces = faces.copy()
    faces[0] = faces[0, ::-1]
    with pytest.warns(SketchWarning, match="inconsistently oriented"):
        load_sketch(pos, faces, SMALL)


def test_cavity_stays_hollow():
    # Outer wall outward, inner wall inward (what Solidify gives for a closed sphere): a hollow ball.
    shell = _concat(_icosphere(radius=0.7, subdivisions=2), _icosphere(radius=0.35, subdivisions=2, flip=True))
    field = SketchField(*shell, SketchConfig(grid_resolution=16))
    assert field.flipped_pieces == 0
    occ = field.exact_occupancy(np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, -0.5, 0.1]]))
    np.testing.assert_array_equal(occ, [0.0, 1.0, 1.0])


def test_unused_vertices_do_not_move_the_frame():
    pos, faces = _box((1.0, 2.0, 3.0), (1.0, 1.0, 1.0))
    _, frame = load_sketch(np.vstack([pos, [[100.0, 100.0, 100.0]]]), faces, SMALL)
    np.testing.assert_allclose(frame.center, [1.0, 2.0, 3.0])


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        SketchConfig(target_radius=1.2)
    with pytest.raises(ValueError):
        SketchConfig(q_clamp=(0.0, 1.0))
    with pytest.raises(ValueError):
        SketchConfig(cross_entropy="mse")
