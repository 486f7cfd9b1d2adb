"""UV unwrapping with xatlas, and conversion between per-vertex and per-corner UVs.

UV convention (Blender): u right, v up, (0, 0) = bottom-left of the image; texel (col, row) of a
W x H image (row 0 on top) is centred at u = (col + 0.5) / W, v = 1 - (row + 0.5) / H.

xatlas lays charts out in texel coordinates (x, y) whose y axis runs *down* the image: its own
debug image (``PackOptions.create_image``) paints texel ``image[y, x]``, i.e. row y. So
u = x / R and v = 1 - y / R, which makes our texture array identical to xatlas's atlas image and
keeps xatlas's texel grid aligned with ours (tests/test_gen3d_export.py checks this against
``Atlas.chart_image``). xatlas's "chart rotation" can transpose a chart, so some charts are
mirrored (clockwise in UV space); colour textures do not care, tangent-space normal maps need the
per-vertex handedness that glTF's TANGENT.w carries.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .validate import check_faces, check_mesh, check_uv_faces, check_uvs

#: A packed atlas smaller than this fraction of the requested resolution wastes texels; the texel
#: density is raised and the charts repacked (up to the attempt limit).
_MIN_FILL = 0.9
#: The atlas side aimed for, as a fraction of the resolution: inside [_MIN_FILL, 1] with margin for
#: the packing's randomness.
_AIM = 0.96
_MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Unwrapped:
    """A UV-split copy of a mesh: vertices are duplicated along chart seams.

    ``vmapping`` (V',) int64: the original vertex index of each new vertex (new positions are
    ``positions[vmapping]``). ``faces`` (F, 3) int64: the same triangles, same order, indexing the new
    vertices. ``uvs`` (V', 2) float64 in [0, 1], Blender convention, laid out for a
    ``resolution`` x ``resolution`` texture. ``chart_count``: number of UV islands.
    """

    vmapping: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    resolution: int
    chart_count: int

    @property
    def uv_faces(self) -> np.ndarray:
        """Per-corner UVs (F, 3, 2)."""
        return self.uvs[self.faces]

    def positions(self, positions: np.ndarray) -> np.ndarray:
        """The split mesh's vertex positions (V', 3), taken from the original ``positions``."""
        return np.asarray(positions)[self.vmapping]


def _generate(positions: np.ndarray, faces: np.ndarray, resolution: int, padding: int, texels_per_unit: float):
    import xatlas

    atlas = xatlas.Atlas()
    atlas.add_mesh(positions.astype(np.float32), faces.astype(np.uint32))
    # xatlas's default chart options (one chart-growing iteration, its cost weights) give few,
    # compact charts on organic meshes; more iterations cost time for little gain here.
    chart = xatlas.ChartOptions()
    pack = xatlas.PackOptions()
    pack.padding = int(padding)
    # Keep a texel of room per chart edge for bilinear filtering, independent of ``padding``.
    pack.bilinear = True
    pack.rotate_charts = True
    # The first attempt lets xatlas estimate the texel density for ``resolution``; later attempts
    # fix the density and leave the atlas size free (resolution 0) so it comes out as one atlas.
    pack.resolution = 0 if texels_per_unit > 0 else int(resolution)
    pack.texels_per_unit = float(texels_per_unit)
    atlas.generate(chart, pack)
    vmapping, indices, uvs = atlas.get_mesh(0)
    return (np.asarray(vmapping, dtype=np.int64), np.asarray(indices, dtype=np.int64).reshape(-1, 3),
            np.asarray(uvs, dtype=np.float64), int(atlas.width), int(atlas.height),
            float(atlas.texels_per_unit), int(atlas.atlas_count), int(atlas.chart_count))


def _unwrap_arrays(positions: np.ndarray, faces: np.ndarray, resolution: int, padding: int):
    # xatlas's density estimate often overshoots (a 358 x 313 atlas for resolution 256), and a
    # fixed density with a fixed size can spill into several atlases. So: pack at a density, look
    # at the atlas size, pick a new density, repack; keep the largest atlas that fits. The atlas
    # side is roughly a * density + b, b being what the padding around every chart costs; a secant
    # step through the last two attempts follows that, and b > resolution means it cannot fit.
    target = _AIM * resolution
    best = None
    history = []
    tpu = 0.0
    n_charts = 0
    for _ in range(_MAX_ATTEMPTS):
        vmap, tri, uv, w, h, tpu_used, n_atlas, n_charts = _generate(positions, faces, resolution, padding, tpu)
        side = max(w, h)
        if n_atlas == 1 and side <= resolution:
            if best is None or side > best[0]:
                best = (side, vmap, tri, uv, w, h, n_charts)
            if side >= _MIN_FILL * resolution:
                break
        history.append((tpu_used, side))
        tpu = tpu_used * target / side
        if len(history) >= 2:
            (t1, s1), (t2, s2) = history[-2:]
            slope = (s2 - s1) / (t2 - t1) if t2 != t1 else 0.0
            if slope > 0:
                intercept = s2 - slope * t2
                if intercept >= resolution:
                    break
                tpu = (target - intercept) / slope
                if tpu <= 0:  # packing noise; just shrink
                    tpu = 0.5 * tpu_used
        if not math.isfinite(tpu) or tpu <= 0:
            break
    if best is None:
        raise RuntimeError(f"xatlas could not pack its {n_charts} charts into one {resolution} x {resolution} "
                           f"atlas with {padding} px padding; use a larger resolution, less padding, or a "
                           f"smoother mesh (fewer charts)")
    _, vmap, tri, uv, w, h, n_charts = best
    return vmap, tri, from_xatlas_uvs(uv, w, h, resolution), n_charts


def from_xatlas_uvs(uvs, atlas_width: int, atlas_height: int, resolution: int) -> np.ndarray:
    """Convert xatlas-python UVs (V, 2) to ours, for a ``resolution`` x ``resolution`` texture.

    xatlas-python divides its texel coordinates (x right, y down; texel (x, y) covers
    [x, x + 1] x [y, y + 1]) by its atlas size ``atlas_width`` x ``atlas_height``. Undo that and
    place the atlas in the top-left corner of our texture: u = x / resolution,
    v = 1 - y / resolution. Texel grids coincide, so our texel (col, row) is xatlas's texel (col, row).
    """
    uv = np.asarray(uvs, dtype=np.float64)
    x = uv[:, 0] * atlas_width
    y = uv[:, 1] * atlas_height
    return np.stack([x / resolution, 1.0 - y / resolution], axis=1)


def unwrap(positions, faces, *, resolution: int = 1024, padding_px: int = 4, isolate: bool = False) -> Unwrapped:
    """Cut a triangle mesh into charts and pack them into a square ``resolution`` atlas with xatlas.

    ``positions`` (V, 3) float (any units; only relative sizes matter), ``faces`` (F, 3) int.
    ``padding_px`` is xatlas's padding around each chart, in texels of the final texture: charts end
    up with at least ``2 * padding_px`` empty texels between them (texel centres ``2 * padding_px + 1``
    apart), which is the room :func:`.uv_padding.dilate` fills and what keeps mip levels seam-free
    (level k reads blocks of 2**k texels). There is no padding at the atlas border (charts may reach
    the outermost texel centres): sample with clamp-to-edge, as :func:`.gltf.write_glb` declares.
    The texel density is adjusted and the charts repacked until the atlas fills 90-100 % of
    ``resolution`` along its longer side (usually 2-3 xatlas runs, each re-charting the mesh).

    xatlas is deterministic (no RNG needed), multi-threaded, and superlinear in the face count: one
    run takes ~0.4 s for 5k faces, ~4 s for 20k, ~2 min for 125k on a 2-core machine; simplify
    first. It has crashed the process (segfault) on a large, very regular mesh (an 82k-face
    icosphere); ``isolate=True`` runs it in a child interpreter so a crash becomes a
    ``RuntimeError`` (costs ~0.5 s to start the child).

    Returns an :class:`Unwrapped` with UVs in the Blender convention (see module docstring).
    Raises ``RuntimeError`` when the charts cannot fit (too many charts for the padding).
    """
    pos, tri = check_mesh(positions, faces)
    resolution = int(resolution)
    padding_px = int(padding_px)
    if resolution < 8:
        raise ValueError(f"resolution must be at least 8 texels, got {resolution}")
    if padding_px < 0 or 4 * padding_px >= resolution:
        raise ValueError(f"padding_px must be in [0, resolution / 4), got {padding_px}")
    if isolate:
        vmap, new_faces, uvs, n_charts = _run_isolated(pos, tri, resolution, padding_px)
    else:
        vmap, new_faces, uvs, n_charts = _unwrap_arrays(pos, tri, resolution, padding_px)
    if new_faces.shape != tri.shape or not np.array_equal(vmap[new_faces], tri):
        raise RuntimeError("xatlas returned faces that do not match the input triangles")
    return Unwrapped(vmapping=vmap, faces=new_faces, uvs=uvs, resolution=resolution, chart_count=n_charts)


def _run_isolated(pos, tri, resolution, padding):
    # A plain child interpreter running this module (``python -m``), not multiprocessing: spawn
    # re-imports the caller's __main__, which breaks scripts without a main guard, and fork copies
    # the parent's threads (torch, servers) in whatever state they are in.
    with tempfile.TemporaryDirectory(prefix="procdream-xatlas-") as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, positions=pos, faces=tri, resolution=resolution, padding=padding)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        proc = subprocess.run([sys.executable, "-m", __spec__.name, str(src), str(dst)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
            raise RuntimeError(f"xatlas failed in its child process ({how}); simplify or clean the mesh "
                               f"and try again. Child stderr: {proc.stderr[-2000:]}")
        with np.load(dst) as out:
            return out["vmapping"], out["faces"], out["uvs"], int(out["chart_count"])


def _child_main(argv: list[str]) -> None:
    with np.load(argv[0]) as inp:
        vmap, tri, uvs, n_charts = _unwrap_arrays(inp["positions"], inp["faces"], int(inp["resolution"]),
                                                  int(inp["padding"]))
    np.savez(argv[1], vmapping=vmap, faces=tri, uvs=uvs, chart_count=n_charts)


def corner_uvs_from_split(faces, uvs) -> np.ndarray:
    """Per-corner UVs (F, 3, 2) from a UV-split mesh's faces (F, 3) and per-vertex uvs (V', 2)."""
    uv = np.asarray(uvs)
    if uv.ndim != 2 or uv.shape[1] != 2:
        raise ValueError(f"uvs must have shape (V, 2), got {uv.shape}")
    tri = check_faces(faces, uv.shape[0])
    return check_uvs(uv, uv.shape[0])[tri]


def split_by_corner_uvs(positions, faces, uv_faces) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn per-corner UVs into a UV-split mesh, as glTF and other per-vertex formats need.

    ``positions`` (V, 3), ``faces`` (F, 3), ``uv_faces`` (F, 3, 2). Corners that share both the
    vertex index and exactly the same UV (equal values; no tolerance) become one new
    vertex; a vertex on a seam becomes one vertex per distinct UV. Returns
    ``(positions' (V', 3) float64, faces' (F, 3) int64, uvs' (V', 2) float64)``, new vertices numbered
    in order of first use by the corners (face-major), triangles in the original order.
    Vertices used by no face are dropped.
    """
    pos, tri = check_mesh(positions, faces)
    uvf = check_uv_faces(uv_faces, tri.shape[0])
    # Vertex indices are exact in float64 (< 2**53), so one float key row per corner works.
    keys = np.concatenate([tri.reshape(-1, 1).astype(np.float64), uvf.reshape(-1, 2)], axis=1)
    keys[keys == 0.0] = 0.0  # -0.0 and 0.0 are the same UV
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    corner_of_new = first[order]
    new_faces = rank[inverse].reshape(-1, 3).astype(np.int64)
    new_pos = pos[tri.reshape(-1)[corner_of_new]]
    new_uvs = uvf.reshape(-1, 2)[corner_of_new]
    return new_pos, new_faces, new_uvs


if __name__ == "__main__":
    _child_main(sys.argv[1:])
