"""Rasterize UV triangles into texture space (CPU, numba): coverage masks and texel-to-surface lookup.

Conventions (shared by all of ``gen3d.export``):

* UVs are Blender-style: u to the right, v **up**, (0, 0) is the bottom-left corner of the image.
* Images are numpy arrays with rows top-down: row 0 is the v = 1 edge.
* Texel (col, row) of a W x H image has its centre at u = (col + 0.5) / W, v = 1 - (row + 0.5) / H.
* "Pixel space" below means x = u * W (right), y = (1 - v) * H (down), so texel (col, row) covers
  the square [col, col + 1] x [row, row + 1] and its centre is (col + 0.5, row + 0.5).

Triangles may be wound either way (xatlas mirrors some charts); zero-area triangles (see
:data:`DEGENERATE`) cover nothing.
"""

from __future__ import annotations

import numba
import numpy as np

from .validate import check_mesh, check_size, check_uv_faces

#: Barycentric tolerance: a texel centre counts as inside when every barycentric is >= -EPS. Without
#: it, a centre lying exactly on an edge shared by two triangles can round to "outside" for both
#: and leave a one-texel crack inside a chart.
EPS = 1e-7

#: A triangle whose doubled area is at most this fraction of the sum of its squared edge lengths
#: is treated as a segment and covers nothing; exactly collinear UVs rarely give an exactly zero
#: area after the float arithmetic, and the sliver would otherwise claim the texels on its line.
DEGENERATE = 1e-10


def uv_to_pixel(uv, width: int, height: int) -> np.ndarray:
    """Map UVs (..., 2) to continuous pixel coordinates (..., 2) = (x right, y down), in texels."""
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack([uv[..., 0] * width, (1.0 - uv[..., 1]) * height], axis=-1)


def pixel_to_uv(xy, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`uv_to_pixel`."""
    xy = np.asarray(xy, dtype=np.float64)
    return np.stack([xy[..., 0] / width, 1.0 - xy[..., 1] / height], axis=-1)


@numba.njit(cache=True)
def _degenerate(x0, y0, x1, y1, x2, y2, area, degenerate):
    scale = (x1 - x0) ** 2 + (y1 - y0) ** 2 + (x2 - x1) ** 2 + (y2 - y1) ** 2 + (x0 - x2) ** 2 + (y0 - y2) ** 2
    return abs(area) <= degenerate * scale


@numba.njit(cache=True)
def _centres_kernel(px, width, height, eps, degenerate, tri_id, bary, count):
    # Sequential over triangles with "first writer wins": the lowest triangle id owns a texel,
    # deterministically. ``count`` counts triangles whose interior strictly contains the centre
    # (all barycentrics > eps), so shared edges inside a chart never count twice.
    for f in range(px.shape[0]):
        x0, y0 = px[f, 0, 0], px[f, 0, 1]
        x1, y1 = px[f, 1, 0], px[f, 1, 1]
        x2, y2 = px[f, 2, 0], px[f, 2, 1]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if _degenerate(x0, y0, x1, y1, x2, y2, area, degenerate):
            continue
        inv = 1.0 / area
        # One texel of slack so the eps-tolerant test sees every candidate centre.
        c_lo = max(0, int(np.floor(min(x0, x1, x2) - 0.5)) - 1)
        c_hi = min(width - 1, int(np.floor(max(x0, x1, x2) - 0.5)) + 1)
        r_lo = max(0, int(np.floor(min(y0, y1, y2) - 0.5)) - 1)
        r_hi = min(height - 1, int(np.floor(max(y0, y1, y2) - 0.5)) + 1)
        for r in range(r_lo, r_hi + 1):
            py = r + 0.5
            for c in range(c_lo, c_hi + 1):
                qx = c + 0.5
                b0 = ((x1 - qx) * (y2 - py) - (x2 - qx) * (y1 - py)) * inv
                b1 = ((x2 - qx) * (y0 - py) - (x0 - qx) * (y2 - py)) * inv
                b2 = ((x0 - qx) * (y1 - py) - (x1 - qx) * (y0 - py)) * inv
                if b0 > eps and b1 > eps and b2 > eps:
                    count[r, c] += 1
                if tri_id[r, c] < 0 and b0 >= -eps and b1 >= -eps and b2 >= -eps:
                    tri_id[r, c] = f
                    bary[r, c, 0] = b0
                    bary[r, c, 1] = b1
                    bary[r, c, 2] = b2


@numba.njit(cache=True)
def _conservative_kernel(px, width, height, degenerate, tri_id, bary):
    # Second pass for texels whose centre is outside every triangle: a texel is taken when its
    # square [c, c+1] x [r, r+1] touches a triangle (separating-axis test: bounding boxes, then
    # each edge's half-plane pushed out by the square's support 0.5 * (|dx| + |dy|)). Among the
    # triangles touching it, the one closest to the texel centre wins (ties: lowest id); the
    # barycentrics are those of the closest point on that triangle, so they lie in [0, 1].
    best = np.full((height, width), np.inf)
    free = tri_id < 0
    for f in range(px.shape[0]):
        x0, y0 = px[f, 0, 0], px[f, 0, 1]
        x1, y1 = px[f, 1, 0], px[f, 1, 1]
        x2, y2 = px[f, 2, 0], px[f, 2, 1]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if _degenerate(x0, y0, x1, y1, x2, y2, area, degenerate):
            continue
        s = 1.0 if area > 0.0 else -1.0
        xmin, xmax = min(x0, x1, x2), max(x0, x1, x2)
        ymin, ymax = min(y0, y1, y2), max(y0, y1, y2)
        c_lo = max(0, int(np.floor(xmin)) - 1)
        c_hi = min(width - 1, int(np.floor(xmax)) + 1)
        r_lo = max(0, int(np.floor(ymin)) - 1)
        r_hi = min(height - 1, int(np.floor(ymax)) + 1)
        for r in range(r_lo, r_hi + 1):
            if ymax < r or ymin > r + 1:
                continue
            py = r + 0.5
            for c in range(c_lo, c_hi + 1):
                if not free[r, c] or xmax < c or xmin > c + 1:
                    continue
                qx = c + 0.5
                inside = True
                for k in range(3):
                    ax, ay = px[f, k, 0], px[f, k, 1]
                    bx, by = px[f, (k + 1) % 3, 0], px[f, (k + 1) % 3, 1]
                    dx, dy = bx - ax, by - ay
                    e = s * (dx * (py - ay) - dy * (qx - ax))
                    if e + 0.5 * (abs(dx) + abs(dy)) < 0.0:
                        inside = False
                        break
                if not inside:
                    continue
                # Closest point on the triangle's boundary (the centre is outside the triangle,
                # else the first pass would have taken the texel).
                d_best = np.inf
                t_best = 0.0
                k_best = 0
                for k in range(3):
                    ax, ay = px[f, k, 0], px[f, k, 1]
                    bx, by = px[f, (k + 1) % 3, 0], px[f, (k + 1) % 3, 1]
                    dx, dy = bx - ax, by - ay
                    ll = dx * dx + dy * dy
                    t = 0.0
                    if ll > 0.0:
                        t = min(1.0, max(0.0, ((qx - ax) * dx + (py - ay) * dy) / ll))
                    ex, ey = ax + t * dx - qx, ay + t * dy - py
                    d = ex * ex + ey * ey
                    if d < d_best:
                        d_best, t_best, k_best = d, t, k
                if d_best < best[r, c]:
                    best[r, c] = d_best
                    tri_id[r, c] = f
                    bary[r, c, 0] = 0.0
                    bary[r, c, 1] = 0.0
                    bary[r, c, 2] = 0.0
                    bary[r, c, k_best] = 1.0 - t_best
                    bary[r, c, (k_best + 1) % 3] = t_best


def _rasterize(uv_faces, width, height):
    uvf = check_uv_faces(uv_faces)
    w, h = check_size(width, height)
    px = np.ascontiguousarray(uv_to_pixel(uvf, w, h))
    tri_id = np.full((h, w), -1, dtype=np.int32)
    bary = np.zeros((h, w, 3), dtype=np.float32)
    count = np.zeros((h, w), dtype=np.int32)
    _centres_kernel(px, w, h, EPS, DEGENERATE, tri_id, bary, count)
    return px, tri_id, bary, count


def rasterize_uv(uv_faces, width: int, height: int, *,
                 conservative: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rasterize per-corner UV triangles (F, 3, 2) into a ``height`` x ``width`` texture.

    Returns ``(tri_id, bary)``: ``tri_id`` (H, W) int32 is the triangle index owning each texel
    (-1 = uncovered) and ``bary`` (H, W, 3) float32 the barycentric weights of the texel's point
    with respect to that triangle's corners 0, 1, 2 (zeros where uncovered).

    A texel is sampled at its centre; a centre on a triangle's edge counts as inside (tolerance
    :data:`EPS`). Where triangles overlap, the lowest triangle id wins, so the result is
    deterministic. With ``conservative=True`` texels whose centre lies outside every triangle but
    whose square touches one are also taken: by the triangle nearest to the centre, with the
    barycentrics of the nearest point on it (the point a bake should evaluate for that texel).
    """
    px, tri_id, bary, _ = _rasterize(uv_faces, width, height)
    if conservative:
        _conservative_kernel(px, tri_id.shape[1], tri_id.shape[0], DEGENERATE, tri_id, bary)
    return tri_id, bary


def overlap_count(uv_faces, width: int, height: int) -> np.ndarray:
    """(H, W) int32: how many triangles strictly contain each texel centre.

    Texel centres on an edge or corner are not counted, so a chart made of triangles sharing edges
    gives at most 1 everywhere; any 2 means two triangles (or charts) overlap in UV space.
    """
    return _rasterize(uv_faces, width, height)[3]


def texel_points(positions, faces, uv_faces, width: int, height: int, *,
                 conservative: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surface points behind the texels, for baking a 3D function into the texture.

    ``positions`` (V, 3) and ``faces`` (F, 3) are the mesh, ``uv_faces`` (F, 3, 2) its per-corner
    UVs. Returns ``(points (N, 3) float64, rows (N,), cols (N,))`` for every covered texel in
    row-major order, with ``points = sum_k bary_k * positions[faces[tri, k]]`` in the mesh's units.
    Write results with ``image[rows, cols] = values``. ``conservative`` as in :func:`rasterize_uv`.
    """
    pos, tri = check_mesh(positions, faces)
    uvf = check_uv_faces(uv_faces, tri.shape[0])
    tri_id, bary = rasterize_uv(uvf, width, height, conservative=conservative)
    rows, cols = np.nonzero(tri_id >= 0)
    ids = tri_id[rows, cols]
    corners = pos[tri[ids]]  # (N, 3 corners, 3 xyz)
    points = np.einsum("nk,nkd->nd", bary[rows, cols].astype(np.float64), corners)
    return points, rows, cols
