"""A textured mesh from a density field and a colour field (the NeRF export). numpy + callables.

Steps: density on a grid -> marching cubes (scikit-image) -> drop floating components -> simplify
to a face budget -> xatlas UVs -> bake each texel by querying the colour field at its 3D point ->
dilate UV islands -> map to the caller's frame. The fields are plain callables on (N, 3) float32
points, so this module knows nothing about NeRFs or torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .cleanup import compact, is_manifold, remove_small_components, simplify
from .unwrap import unwrap
from .uv_padding import dilate
from .uv_raster import texel_points

Field = Callable[[np.ndarray], np.ndarray]


class ExtractionError(RuntimeError):
    """The field holds no surface at the chosen level (nothing to export)."""


@dataclass
class FieldMeshConfig:
    """resolution: marching-cubes grid points per axis over [-bound, bound]^3. level: density at
    the surface. min_component_fraction: floaters smaller than this share of the largest part go.
    target_faces: face budget after simplification. texture_size: baked texture edge (pixels).
    chunk: points per field query (memory bound)."""

    resolution: int = 128
    bound: float = 1.0
    level: float = 3.47
    min_component_fraction: float = 0.05
    target_faces: int = 20_000
    texture_size: int = 1024
    unwrap_padding_px: int = 4
    chunk: int = 1 << 16


@dataclass
class FieldMesh:
    """positions (V, 3) in the caller's frame (``to_world`` applied), faces (F, 3), uvs (V, 2)
    (Blender convention, v up), texture (H, W, 3) uint8 rows top-down, manifold flag."""

    positions: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    texture: np.ndarray
    manifold: bool
    faces_before_simplify: int


def query(field: Field, points: np.ndarray, chunk: int) -> np.ndarray:
    """``field`` over ``points`` in chunks; concatenated along the first axis."""
    out = [np.asarray(field(points[i:i + chunk].astype(np.float32))) for i in range(0, len(points), chunk)]
    return np.concatenate(out) if out else np.zeros((0,))


def drop_folded_pairs(positions: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove every face whose vertex set occurs more than once, and the vertices left unused.

    Quadric decimation sometimes collapses a thin region into two coincident faces of opposite
    winding (measured: 5 such pairs out of 2000 faces on a noisy box); they enclose nothing, and
    removing both copies restores an edge-manifold surface.
    """
    key = np.sort(faces, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return compact(positions, faces[counts[inverse.ravel()] == 1])


def surface(grid: np.ndarray, cfg: FieldMeshConfig, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of a (R, R, R) density grid over [-bound, bound]^3 at ``cfg.level``; floaters removed."""
    from skimage.measure import marching_cubes

    # Pad one cell of "outside" so surfaces touching the bound still close.
    padded = np.pad(grid, 1, constant_values=min(float(grid.min()), 0.0))
    step = 2 * cfg.bound / (resolution - 1)
    verts, faces, _, _ = marching_cubes(padded, level=cfg.level, spacing=(step,) * 3,
                                        gradient_direction="descent")
    verts = verts - cfg.bound - step  # undo padding and move the grid origin to -bound
    return remove_small_components(verts, faces, cfg.min_component_fraction)


def density_grid(density: Field, cfg: FieldMeshConfig) -> np.ndarray:
    """(R, R, R) densities at grid points, axis order (x, y, z)."""
    axis = np.linspace(-cfg.bound, cfg.bound, cfg.resolution, dtype=np.float32)
    grid = np.empty((cfg.resolution,) * 3, np.float32)
    yz = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    # One x-slab at a time: a 512^3 grid of points at once would need gigabytes.
    for i, x in enumerate(axis):
        pts = np.concatenate([np.full((len(yz), 1), x, np.float32), yz], axis=1)
        grid[i] = query(density, pts, cfg.chunk).reshape(cfg.resolution, cfg.resolution)
    return grid


def extract(density: Field, color: Field, cfg: FieldMeshConfig | None = None,
            to_world: Callable[[np.ndarray], np.ndarray] | None = None) -> FieldMesh:
    """Run the whole export. ``density``: points -> (N,) densities; ``color``: points -> (N, 3) RGB
    in [0, 1]. Points are in the field's frame; ``to_world`` maps the final vertices to the caller's.
    Raises ExtractionError when no surface crosses ``cfg.level``."""
    cfg = cfg or FieldMeshConfig()
    grid = density_grid(density, cfg)
    if not (grid.max() > cfg.level > grid.min()):
        raise ExtractionError(f"the density never crosses the surface level {cfg.level} (range "
                              f"{grid.min():.3g}..{grid.max():.3g}): the model holds no surface to export")
    verts, faces = surface(grid, cfg, cfg.resolution)
    before = len(faces)
    verts, faces = drop_folded_pairs(*simplify(verts, faces, cfg.target_faces))
    manifold = is_manifold(faces)  # before the UV split, which duplicates seam vertices
    if not manifold and before > cfg.target_faces:
        # Decimation broke the surface: take a coarser marching-cubes grid instead, which stays
        # manifold (faces grow with the square of the resolution).
        coarse = max(16, int(cfg.resolution * (cfg.target_faces / before) ** 0.5))
        coarse_cfg = FieldMeshConfig(**{**cfg.__dict__, "resolution": coarse})
        verts, faces = surface(density_grid(density, coarse_cfg), coarse_cfg, coarse)
        manifold = is_manifold(faces)
    un = unwrap(verts, faces, resolution=cfg.texture_size, padding_px=cfg.unwrap_padding_px, isolate=True)
    split = un.positions(verts)
    points, rows, cols = texel_points(split, un.faces, un.uv_faces, cfg.texture_size, cfg.texture_size,
                                      conservative=True)
    rgb = np.clip(query(color, points, cfg.chunk), 0.0, 1.0)
    image = np.zeros((cfg.texture_size, cfg.texture_size, 3), np.uint8)
    covered = np.zeros((cfg.texture_size, cfg.texture_size), bool)
    image[rows, cols] = (rgb * 255 + 0.5).astype(np.uint8)
    covered[rows, cols] = True
    image = dilate(image, covered, None)
    positions = to_world(split) if to_world else split
    return FieldMesh(np.asarray(positions, np.float64), un.faces, un.uvs, image, manifold, before)
