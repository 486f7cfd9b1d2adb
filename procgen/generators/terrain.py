"""Terrain: a heightfield mesh from layered noise, with optional thermal erosion and terraces.

World units are metres, z up; the terrain is centred on the origin and spans
[-extent/2, extent/2] in x and y. :class:`HeightSampler` answers height and normal at any
(x, y) without Blender, for scattering and camera placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import check, param
from .noise import GradientNoise2D, fbm


@dataclass
class TerrainParams:
    extent_m: float = param(60.0, 4.0, 2000.0, "m", "side length of the square terrain")
    resolution: int = param(96, 8, 1024, "vertices", "vertices per side")
    height_m: float = param(4.0, 0.0, 500.0, "m", "peak-to-valley amplitude of the noise")
    base_wavelength_m: float = param(30.0, 1.0, 5000.0, "m", "wavelength of the coarsest octave")
    octaves: int = param(5, 1, 10, "", "noise octaves")
    roughness: float = param(0.5, 0.1, 0.9, "", "amplitude gain per octave (higher = rougher)")
    ridged: float = param(0.0, 0.0, 1.0, "", "blend of ridged noise (mountain crests)")
    terrace_steps: int = param(0, 0, 64, "", "number of terraces (0 = none)")
    terrace_sharpness: float = param(0.6, 0.0, 1.0, "", "how flat each terrace is")
    erosion_iterations: int = param(0, 0, 200, "", "thermal erosion passes")
    talus_deg: float = param(35.0, 5.0, 85.0, "deg", "slope above which erosion moves material")
    noise_seed: int = param(0, 0, 2**31 - 1, "", "seed of the noise lattice")


def sample_params(rng: np.random.Generator) -> TerrainParams:
    return TerrainParams(
        height_m=float(rng.uniform(1.5, 8.0)),
        base_wavelength_m=float(rng.uniform(18.0, 60.0)),
        roughness=float(rng.uniform(0.35, 0.6)),
        ridged=float(rng.uniform(0.0, 0.3)),
        erosion_iterations=int(rng.integers(0, 20)),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
    )


def heightfield(params: TerrainParams) -> np.ndarray:
    """Heights (m) on a resolution x resolution grid; row i is y, column j is x, both increasing."""
    check(params)
    n = params.resolution
    coords = np.linspace(-params.extent_m / 2, params.extent_m / 2, n)
    x, y = np.meshgrid(coords, coords)
    noise = GradientNoise2D(params.noise_seed)
    h = fbm(noise, x / params.base_wavelength_m, y / params.base_wavelength_m, params.octaves,
            params.roughness, ridged=params.ridged)
    h = (h - h.min()) / max(np.ptp(h), 1e-12) * params.height_m
    if params.erosion_iterations:
        h = thermal_erosion(h, spacing=coords[1] - coords[0], iterations=params.erosion_iterations,
                            talus_deg=params.talus_deg)
    if params.terrace_steps:
        h = terrace(h, params.terrace_steps, params.terrace_sharpness, params.height_m)
    return h


def thermal_erosion(h: np.ndarray, spacing: float, iterations: int, talus_deg: float,
                    rate: float = 0.25) -> np.ndarray:
    """Move material downhill wherever the slope to a 4-neighbour exceeds the talus angle."""
    h = h.copy()
    talus = np.tan(np.radians(talus_deg)) * spacing
    for _ in range(iterations):
        moved = np.zeros_like(h)
        for axis, shift in ((0, 1), (0, -1), (1, 1), (1, -1)):
            diff = h - np.roll(h, shift, axis=axis)
            # No wrap-around at the borders.
            edge = [slice(None)] * 2
            edge[axis] = slice(0, 1) if shift == 1 else slice(-1, None)
            diff[tuple(edge)] = 0.0
            excess = np.where(diff > talus, (diff - talus) * rate / 4, 0.0)
            moved -= excess
            moved += np.roll(excess, -shift, axis=axis)
        h += moved
    return h


def terrace(h: np.ndarray, steps: int, sharpness: float, height: float) -> np.ndarray:
    """Quantise heights into ``steps`` shelves, blended by ``sharpness``."""
    step = max(height, 1e-9) / steps
    k = h / step
    flat = np.floor(k) + np.clip((k - np.floor(k) - sharpness) / max(1 - sharpness, 1e-6), 0, 1)
    return (1 - sharpness) * h + sharpness * flat * step


class HeightSampler:
    """Height and normal of the terrain surface at world (x, y), bilinear in the grid."""

    def __init__(self, heights: np.ndarray, extent_m: float):
        self.h = heights
        self.extent = extent_m
        self.n = heights.shape[0]
        self.spacing = extent_m / (self.n - 1)

    def _cell(self, x, y):
        gx = np.clip((np.asarray(x, float) + self.extent / 2) / self.spacing, 0, self.n - 1 - 1e-9)
        gy = np.clip((np.asarray(y, float) + self.extent / 2) / self.spacing, 0, self.n - 1 - 1e-9)
        i, j = np.floor(gy).astype(int), np.floor(gx).astype(int)
        return i, j, gx - j, gy - i

    def height(self, x, y) -> np.ndarray:
        """Height in metres at (x, y) (arrays broadcast); clamped to the terrain's edge."""
        i, j, fx, fy = self._cell(x, y)
        h = self.h
        top = h[i, j] * (1 - fx) + h[i, j + 1] * fx
        bottom = h[i + 1, j] * (1 - fx) + h[i + 1, j + 1] * fx
        return top * (1 - fy) + bottom * fy

    def normal(self, x, y) -> np.ndarray:
        """Unit surface normal (..., 3) at (x, y), z component positive."""
        i, j, fx, fy = self._cell(x, y)
        h = self.h
        dhdx = ((h[i, j + 1] - h[i, j]) * (1 - fy) + (h[i + 1, j + 1] - h[i + 1, j]) * fy) / self.spacing
        dhdy = ((h[i + 1, j] - h[i, j]) * (1 - fx) + (h[i + 1, j + 1] - h[i, j + 1]) * fx) / self.spacing
        n = np.stack([-dhdx, -dhdy, np.ones_like(dhdx)], axis=-1)
        return n / np.linalg.norm(n, axis=-1, keepdims=True)

    def inside(self, x, y, margin: float = 0.0) -> np.ndarray:
        half = self.extent / 2 - margin
        return (np.abs(x) <= half) & (np.abs(y) <= half)


def build(params: TerrainParams, name: str = "terrain", collection=None):
    """The terrain mesh object and its :class:`HeightSampler`."""
    import bpy

    from ...render_gt.labels import set_label

    h = heightfield(params)
    n = params.resolution
    coords = np.linspace(-params.extent_m / 2, params.extent_m / 2, n)
    x, y = np.meshgrid(coords, coords)
    verts = np.stack([x, y, h], axis=-1).reshape(-1, 3).astype(np.float32)
    idx = np.arange(n * n).reshape(n, n)
    # Counter-clockwise seen from above, so face normals point up.
    quads = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], axis=-1).reshape(-1)
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(verts))
    mesh.vertices.foreach_set("co", verts.ravel())
    mesh.loops.add(len(quads))
    mesh.loops.foreach_set("vertex_index", quads.astype(np.int32))
    n_faces = len(quads) // 4
    mesh.polygons.add(n_faces)
    mesh.polygons.foreach_set("loop_start", np.arange(0, len(quads), 4, dtype=np.int32))
    mesh.polygons.foreach_set("loop_total", np.full(n_faces, 4, np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(n_faces, bool))
    mesh.update(calc_edges=True)
    mesh.validate()
    obj = bpy.data.objects.new(name, mesh)
    (collection or bpy.context.scene.collection).objects.link(obj)
    set_label(obj, "terrain")
    return obj, HeightSampler(h, params.extent_m)
