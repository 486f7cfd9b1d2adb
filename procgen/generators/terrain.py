"""Terrain: a detailed near heightfield where assets stand, inside a far field that reaches the horizon.

World units are metres, z up. The near terrain is a square grid centred on the origin spanning
[-extent/2, extent/2] in x and y: layered noise with optional thermal erosion and terraces.
Around it, the far field continues the same height function out to ``far_extent_m`` on square
rings whose spacing grows geometrically (log-spaced), so a cell keeps roughly the same angular
size seen from the centre; distant relief (hills, dunes, ranges at 100 m - 5 km wavelengths)
rises with distance. Near grid and far rings are one mesh sharing the seam's vertices, so there
is no crack, step or shading seam. :class:`WorldSampler` answers height and normal anywhere
without Blender, for scattering and camera placement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..params import ParamError, check, param
from .noise import GradientNoise2D, fbm

#: Face attribute on the terrain mesh: 1 on the near grid, 0 on the far field. Scatter reads it,
#: so ground cover is only ever distributed where the detailed terrain is.
NEAR_ATTRIBUTE = "procdream_near"


@dataclass
class TerrainParams:
    extent_m: float = param(60.0, 4.0, 2000.0, "m", "side length of the square near terrain")
    resolution: int = param(96, 8, 1024, "vertices", "vertices per side of the near terrain")
    height_m: float = param(4.0, 0.0, 500.0, "m", "peak-to-valley amplitude of the near noise")
    base_wavelength_m: float = param(30.0, 1.0, 5000.0, "m", "wavelength of the coarsest octave")
    octaves: int = param(5, 1, 10, "", "noise octaves")
    roughness: float = param(0.5, 0.1, 0.9, "", "amplitude gain per octave (higher = rougher)")
    ridged: float = param(0.0, 0.0, 1.0, "", "blend of ridged noise (mountain crests)")
    terrace_steps: int = param(0, 0, 64, "", "number of terraces (0 = none)")
    terrace_sharpness: float = param(0.6, 0.0, 1.0, "", "how flat each terrace is")
    erosion_iterations: int = param(0, 0, 200, "", "thermal erosion passes")
    talus_deg: float = param(35.0, 5.0, 85.0, "deg", "slope above which erosion moves material")
    noise_seed: int = param(0, 0, 2**31 - 1, "", "seed of the noise lattice")
    far_extent_m: float = param(4000.0, 0.0, 50000.0, "m",
                                "half-size of the whole world square (0 = no far field)")
    far_rings: int = param(56, 2, 512, "", "log-spaced rings between the near terrain and the world's edge")
    far_subdivide: int = param(2, 1, 8, "", "far rings have this many times the seam's vertices around")
    relief_height_m: float = param(0.0, 0.0, 3000.0, "m", "amplitude of the distant relief")
    relief_wavelength_m: float = param(600.0, 50.0, 20000.0, "m", "wavelength of the relief's coarsest octave")
    relief_ridged: float = param(0.3, 0.0, 1.0, "", "blend of ridged noise in the relief (ranges, dune crests)")
    relief_start_m: float = param(60.0, 0.0, 50000.0, "m", "distance from the centre where relief begins")
    relief_full_m: float = param(800.0, 0.0, 50000.0, "m", "distance where relief reaches full height")
    water_level: float = param(0.25, 0.0, 1.0, "", "water surface as a fraction of the near noise's height range")
    channel_depth_m: float = param(0.0, 0.0, 50.0, "m", "river bed below the water surface (0 = no river)")
    channel_width_m: float = param(8.0, 1.0, 200.0, "m", "river width at the water surface")
    channel_bank_slope: float = param(0.25, 0.02, 3.0, "", "rise of the banks per metre beyond the water's edge")
    channel_angle_deg: float = param(0.0, 0.0, 180.0, "deg", "river direction, counter-clockwise from +x")
    channel_offset_m: float = param(12.0, -500.0, 500.0, "m", "river centreline's distance from the origin")
    channel_wander_m: float = param(6.0, 0.0, 500.0, "m", "amplitude of the river's meanders")
    channel_wavelength_m: float = param(80.0, 5.0, 5000.0, "m", "wavelength of the meanders")
    coast_drop_m: float = param(0.0, 0.0, 200.0, "m", "how far the land falls into the sea (0 = no coast)")
    coast_angle_deg: float = param(0.0, 0.0, 360.0, "deg", "direction towards the sea, counter-clockwise from +x")
    coast_offset_m: float = param(15.0, -500.0, 500.0, "m", "shore's distance from the origin towards the sea")
    coast_width_m: float = param(40.0, 1.0, 2000.0, "m", "width of the slope from land to sea floor")
    lake_depth_m: float = param(0.0, 0.0, 50.0, "m", "lake's deepest point below the water surface (0 = no lake)")
    lake_radius_m: float = param(12.0, 1.0, 1000.0, "m", "mean radius of the lake's shoreline")
    lake_distance_m: float = param(16.0, 0.0, 1000.0, "m", "lake centre's distance from the origin")
    lake_angle_deg: float = param(0.0, 0.0, 360.0, "deg", "direction of the lake centre, counter-clockwise from +x")
    lake_wobble: float = param(0.2, 0.0, 0.6, "", "shoreline radius varies by up to this fraction (coves, points)")
    lake_bank_slope: float = param(0.2, 0.02, 3.0, "", "rise of the banks per metre beyond the water's edge")


#: Per scene type these ranges are narrowed by the terrain stage (``terrain.relief_height_range`` ...).
RELIEF_DEFAULTS = {"height": (20.0, 80.0), "wavelength": (300.0, 900.0), "ridged": (0.0, 0.4)}


def sample_params(rng: np.random.Generator, relief_height=None, relief_wavelength=None,
                  relief_ridged=None) -> TerrainParams:
    """Random near terrain plus distant relief drawn from the given (lo, hi) ranges (metres)."""
    near = dict(
        height_m=float(rng.uniform(1.5, 8.0)),
        base_wavelength_m=float(rng.uniform(18.0, 60.0)),
        roughness=float(rng.uniform(0.35, 0.6)),
        ridged=float(rng.uniform(0.0, 0.3)),
        erosion_iterations=int(rng.integers(0, 20)),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
    )
    rh = relief_height or RELIEF_DEFAULTS["height"]
    rw = relief_wavelength or RELIEF_DEFAULTS["wavelength"]
    rr = relief_ridged or RELIEF_DEFAULTS["ridged"]
    relief = dict(relief_height_m=float(rng.uniform(*rh)), relief_wavelength_m=float(rng.uniform(*rw)),
                  relief_ridged=float(rng.uniform(*rr)))
    # Drawn last so every earlier draw (and so every lake-less scene) is unchanged. A lake only
    # exists where a scene type binds lake_depth_m; its shore then passes 2-6 m from the origin,
    # which the cameras circle.
    radius = float(rng.uniform(9.0, 16.0))
    lake = dict(lake_radius_m=radius, lake_distance_m=radius + float(rng.uniform(2.0, 6.0)),
                lake_angle_deg=float(rng.uniform(0.0, 360.0)), lake_wobble=float(rng.uniform(0.1, 0.3)))
    return TerrainParams(**near, **relief, **lake)


def validate(params: TerrainParams) -> None:
    """Ranges, then the settings that only make sense together; names the parameter."""
    check(params)
    half = params.extent_m / 2
    if 0 < params.far_extent_m <= half:
        raise ParamError(f"TerrainParams.far_extent_m = {params.far_extent_m} must be 0 (no far field) or larger "
                         f"than half the near terrain (extent_m / 2 = {half}): the far field surrounds it")
    if params.relief_start_m > params.relief_full_m:
        raise ParamError(f"TerrainParams.relief_start_m = {params.relief_start_m} is above relief_full_m = "
                         f"{params.relief_full_m}: relief must begin before it reaches full height")


def _smoothstep(e0: float, e1: float, x):
    t = np.clip((np.asarray(x, float) - e0) / max(e1 - e0, 1e-9), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


class WorldHeight:
    """The terrain height function of a :class:`TerrainParams`, in metres, anywhere in the world.

    Near noise is normalised once on the near grid (to [0, height_m]) and the same affine map is
    used everywhere, so the far field continues it without a step. Erosion runs on the near grid
    only; its change fades to zero over the last tenth of the grid towards the edge, so the seam
    sees the uneroded function on both sides.
    """

    def __init__(self, params: TerrainParams):
        validate(params)
        self.params = params
        self._noise = GradientNoise2D(params.noise_seed)
        # A separate lattice for the relief, derived from the same seed parameter.
        self._relief_noise = GradientNoise2D((params.noise_seed * 7919 + 104729) % (2**31 - 1))
        n = params.resolution
        self.coords = np.linspace(-params.extent_m / 2, params.extent_m / 2, n)
        x, y = np.meshgrid(self.coords, self.coords)
        raw = self._raw(x, y)
        self._lo = float(raw.min())
        self._scale = params.height_m / max(float(np.ptp(raw)), 1e-12)
        local = (raw - self._lo) * self._scale
        if params.erosion_iterations:
            eroded = thermal_erosion(local, spacing=self.coords[1] - self.coords[0],
                                     iterations=params.erosion_iterations, talus_deg=params.talus_deg)
            edge = np.minimum(params.extent_m / 2 - np.abs(x), params.extent_m / 2 - np.abs(y))
            local = local + _smoothstep(0.0, 0.1 * params.extent_m, edge) * (eroded - local)
        base = self._shape(local) + self.relief(x, y)
        #: Absolute height (m) of the water surface, from the near terrain before rivers and coasts.
        self.water_level_m = float(base.min() + params.water_level * np.ptp(base))
        self.grid = self._water_features(x, y, base)

    def _water_features(self, x, y, h):
        """Carve the river channel, drop the land into the sea and dig the lake (all analytic, so
        the near grid and the far field agree)."""
        p = self.params
        if p.channel_depth_m > 0:
            a = math.radians(p.channel_angle_deg)
            along = x * math.cos(a) + y * math.sin(a)
            across = -x * math.sin(a) + y * math.cos(a)
            meander = p.channel_wander_m * np.sin(2 * np.pi * along / p.channel_wavelength_m)
            d = np.abs(across - p.channel_offset_m - meander)
            bed = self.water_level_m - p.channel_depth_m
            # A rounded bed under the water, then banks rising at a constant slope.
            half = p.channel_width_m / 2
            inside = bed + p.channel_depth_m * (np.minimum(d, half) / half) ** 2
            profile = np.where(d <= half, inside, self.water_level_m + p.channel_bank_slope * (d - half))
            h = np.minimum(h, profile)
        if p.coast_drop_m > 0:
            a = math.radians(p.coast_angle_deg)
            seaward = x * math.cos(a) + y * math.sin(a) - p.coast_offset_m
            # At the shore line the land is at the water level; it falls by coast_drop_m over the width.
            t = _smoothstep(-p.coast_width_m / 2, p.coast_width_m / 2, seaward)
            h = h * (1 - t) + (self.water_level_m - p.coast_drop_m) * t
        if p.lake_depth_m > 0:
            h = np.minimum(h, self._lake_profile(x, y))
        return h

    def _lake_profile(self, x, y):
        """A bowl under the water inside a wobbly shoreline, then banks rising at a constant slope.

        The shoreline radius is R(theta) = R (1 + wobble * n(theta)) with n the noise lattice read
        on a circle (so it closes on itself); the bed is parabolic in the normalised radius, so
        the lake is deepest at its centre and meets the bank at the water level without a step.
        """
        p = self.params
        a = math.radians(p.lake_angle_deg)
        dx, dy = x - p.lake_distance_m * math.cos(a), y - p.lake_distance_m * math.sin(a)
        d = np.hypot(dx, dy)
        theta = np.arctan2(dy, dx)
        # fbm on a circle of radius 1.5 lattice cells: a few coves and points around the shore.
        wobble = fbm(self._noise, 1.5 * np.cos(theta) + 101.0, 1.5 * np.sin(theta) + 57.0, 3, 0.5)
        shore = p.lake_radius_m * (1.0 + p.lake_wobble * np.clip(wobble / 0.3, -1.0, 1.0))
        r = d / shore
        bed = self.water_level_m - p.lake_depth_m * (1.0 - np.minimum(r, 1.0) ** 2)
        return np.where(r <= 1.0, bed, self.water_level_m + p.lake_bank_slope * (d - shore))

    def _raw(self, x, y):
        p = self.params
        return fbm(self._noise, x / p.base_wavelength_m, y / p.base_wavelength_m, p.octaves, p.roughness,
                   ridged=p.ridged)

    def _shape(self, local):
        p = self.params
        if p.terrace_steps:
            local = terrace(local, p.terrace_steps, p.terrace_sharpness, p.height_m)
        return local

    def relief(self, x, y) -> np.ndarray:
        """Distant relief (m): zero inside ``relief_start_m``, full height beyond ``relief_full_m``."""
        p = self.params
        x, y = np.asarray(x, float), np.asarray(y, float)
        if p.relief_height_m == 0.0:
            return np.zeros(np.broadcast(x, y).shape)
        envelope = _smoothstep(p.relief_start_m, p.relief_full_m, np.hypot(x, y))
        n = fbm(self._relief_noise, x / p.relief_wavelength_m, y / p.relief_wavelength_m, 6, 0.5,
                ridged=p.relief_ridged)
        # fbm's spread is about +-0.3: stretch it so ranges use the full height, valleys reach 0.
        return p.relief_height_m * envelope * np.clip(0.5 * (n / 0.6 + 1.0), 0.0, 1.0) ** 1.5

    def analytic(self, x, y) -> np.ndarray:
        """The un-eroded height function (what the far field samples)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        local = (self._raw(x, y) - self._lo) * self._scale
        return self._water_features(x, y, self._shape(local) + self.relief(x, y))


def heightfield(params: TerrainParams) -> np.ndarray:
    """Near heights (m) on a resolution x resolution grid; row i is y, column j is x, both increasing."""
    return WorldHeight(params).grid


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
    """Height and normal of the near terrain surface at world (x, y), bilinear in the grid."""

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

    def _grid_height(self, x, y) -> np.ndarray:
        i, j, fx, fy = self._cell(x, y)
        h = self.h
        top = h[i, j] * (1 - fx) + h[i, j + 1] * fx
        bottom = h[i + 1, j] * (1 - fx) + h[i + 1, j + 1] * fx
        return top * (1 - fy) + bottom * fy

    def height(self, x, y) -> np.ndarray:
        """Height in metres at (x, y) (arrays broadcast); clamped to the terrain's edge."""
        return self._grid_height(x, y)

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

    def surface(self, x, y) -> np.ndarray:
        """Height (m) of what one stands on: the ground (or water, where there is any)."""
        return self.height(x, y)


class WorldSampler(HeightSampler):
    """:class:`HeightSampler` for the whole world: the near grid inside its square, the far
    field's height function outside it (up to ``far_extent_m``; clamped beyond).

    ``coarse_height`` answers from cached rasters (4 m cells to 512 m, then about 16 m cells) for
    the many lookups of camera ray casting; ``height`` is exact.
    """

    def __init__(self, world: WorldHeight):
        super().__init__(world.grid, world.params.extent_m)
        self.world = world
        self.far = max(world.params.far_extent_m, self.extent / 2)
        self._rasters = None
        #: Height (m) of a water plane that covers the world, or None: rays stop on it too.
        self.water_m = None

    def height(self, x, y) -> np.ndarray:
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        out = self._grid_height(x, y)
        outside = ~self.inside(x, y)
        if outside.any():
            cx, cy = np.clip(x[outside], -self.far, self.far), np.clip(y[outside], -self.far, self.far)
            out = np.array(out, float)
            out[outside] = self.world.analytic(cx, cy)
        return out

    def surface(self, x, y) -> np.ndarray:
        h = self.height(x, y)
        return h if self.water_m is None else np.maximum(h, self.water_m)

    def normal(self, x, y) -> np.ndarray:
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        out = super().normal(x, y)
        outside = ~self.inside(x, y)
        if outside.any():
            e = 0.5
            px, py = x[outside], y[outside]
            gx = (self.height(px + e, py) - self.height(px - e, py)) / (2 * e)
            gy = (self.height(px, py + e) - self.height(px, py - e)) / (2 * e)
            n = np.stack([-gx, -gy, np.ones_like(gx)], axis=-1)
            out = np.array(out, float)
            out[outside] = n / np.linalg.norm(n, axis=-1, keepdims=True)
        return out

    def _build_rasters(self):
        rasters = []
        for half, cell in ((min(512.0, self.far), 4.0), (self.far, max(16.0, self.far / 256))):
            n = int(math.ceil(2 * half / cell)) + 1
            c = np.linspace(-half, half, n)
            x, y = np.meshgrid(c, c)
            rasters.append((half, HeightSampler(self.world.analytic(x, y), 2 * half)))
        return rasters

    def coarse_height(self, x, y, water: bool = True) -> np.ndarray:
        """Approximate height (m): exact grid inside the near square, raster lookups outside; with
        ``water``, the water surface where it is higher than the ground."""
        if self._rasters is None:
            self._rasters = self._build_rasters()
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        out = self._grid_height(x, y)
        todo = ~self.inside(x, y)
        for half, raster in self._rasters:
            sel = todo & (np.abs(x) <= half) & (np.abs(y) <= half)
            if half >= self.far:
                sel = todo
            out = np.where(sel, raster.height(x, y), out)
            todo &= ~sel
        return out if self.water_m is None or not water else np.maximum(out, self.water_m)


def world_sampler(params: TerrainParams) -> WorldSampler:
    return WorldSampler(WorldHeight(params))


def _boundary_loop(n: int) -> np.ndarray:
    """Indices of the n x n grid's border, counter-clockwise seen from above, starting at (0, 0)."""
    idx = np.arange(n * n).reshape(n, n)  # idx[i, j]: row i is y, column j is x
    return np.concatenate([idx[0, :-1], idx[:-1, -1], idx[-1, :0:-1], idx[:0:-1, 0]])


def far_field(params: TerrainParams, world: WorldHeight, grid_xy: np.ndarray):
    """Vertices (k, 3) and faces (lists of indices) of the far rings, indexed after the near grid.

    Ring 0 is the near grid's border itself, so the seam shares vertices. Ring k (1..K) is the
    border loop refined ``far_subdivide`` times and scaled by s_k / s_0, with s_k log-spaced from
    extent/2 to far_extent_m: spacing grows in proportion to distance.
    """
    n = params.resolution
    loop = _boundary_loop(n)
    m, f = len(loop), params.far_subdivide
    border = grid_xy[loop]
    nxt = np.roll(border, -1, axis=0)
    refined = (border[:, None, :] + (nxt - border)[:, None, :] * (np.arange(f) / f)[None, :, None]).reshape(-1, 2)
    s0 = params.extent_m / 2
    scales = np.geomspace(s0, params.far_extent_m, params.far_rings + 1)[1:] / s0
    xy = (scales[:, None, None] * refined[None]).reshape(-1, 2)
    z = world.analytic(xy[:, 0], xy[:, 1])
    verts = np.column_stack([xy, z])
    base = n * n
    mf = m * f

    def ring(k, i):  # vertex index of point i on far ring k (k >= 1)
        return base + (k - 1) * mf + (i % mf)

    faces = []
    # Seam strip: each border edge (a, b) faces f outer segments, counter-clockwise from above.
    for i in range(m):
        a, b = int(loop[i]), int(loop[(i + 1) % m])
        if f == 1:
            faces.append((ring(1, i), ring(1, i + 1), b, a))
            continue
        mid = f // 2
        for j in range(f):
            faces.append((ring(1, f * i + j), ring(1, f * i + j + 1), a if j < mid else b))
        faces.append((ring(1, f * i + mid), b, a))
    for k in range(1, params.far_rings):
        for i in range(mf):
            faces.append((ring(k + 1, i), ring(k + 1, i + 1), ring(k, i + 1), ring(k, i)))
    return verts, faces


def build(params: TerrainParams, name: str = "terrain", collection=None):
    """The terrain objects and the :class:`WorldSampler`: returns (near, sampler).

    ``near`` is the detailed grid; the far field (when ``far_extent_m`` > 0) is its child object
    ``<name>_far``, built on copies of the grid's border vertices so the two meet exactly. They are
    two objects so render-time subdivision (:func:`procgen.compat.adaptive_subdivision`) can dice
    the near grid alone: dicing the far field's huge faces tripled render time for nothing. Along
    the seam, and on the whole far field, the point attribute
    :data:`procgen.materials.shading.UNDISPLACED_ATTRIBUTE` is 1, so material displacement fades
    to zero there and opens no crack.
    """

    from ...render_gt.labels import set_label, set_part_of
    from ..materials.shading import UNDISPLACED_ATTRIBUTE

    world = WorldHeight(params)
    h = world.grid
    n = params.resolution
    x, y = np.meshgrid(world.coords, world.coords)
    grid_xy = np.stack([x, y], axis=-1).reshape(-1, 2)
    verts = np.column_stack([grid_xy, h.reshape(-1)])
    idx = np.arange(n * n).reshape(n, n)
    # Counter-clockwise seen from above, so face normals point up.
    quads = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], axis=-1).reshape(-1, 4)
    # Displacement held back: 1 on the border, fading to 0 two cells in.
    edge_cells = np.minimum.reduce([idx % n, n - 1 - idx % n, idx // n, n - 1 - idx // n]).reshape(-1)
    held = np.clip(1.0 - edge_cells / 2.0, 0.0, 1.0)
    near = _mesh_object(name, verts, [tuple(q) for q in quads.tolist()], collection)
    near.data.attributes.new(NEAR_ATTRIBUTE, "FLOAT", "FACE").data.foreach_set(
        "value", np.ones(len(quads), np.float32))
    near.data.attributes.new(UNDISPLACED_ATTRIBUTE, "FLOAT", "POINT").data.foreach_set(
        "value", held.astype(np.float32))
    set_label(near, "terrain")
    if params.far_extent_m > 0:
        far_verts, far_faces = far_field(params, world, grid_xy)
        # Re-index: the seam's grid vertices first (copied), then the rings.
        loop = _boundary_loop(n)
        remap = np.full(n * n, -1)
        remap[loop] = np.arange(len(loop))
        seam = len(loop)
        faces = [tuple(int(remap[v]) if v < n * n else seam + v - n * n for v in f) for f in far_faces]
        far = _mesh_object(f"{name}_far", np.concatenate([verts[loop], far_verts]), faces, collection)
        far.data.attributes.new(NEAR_ATTRIBUTE, "FLOAT", "FACE")  # 0: no ground cover out there
        far.data.attributes.new(UNDISPLACED_ATTRIBUTE, "FLOAT", "POINT").data.foreach_set(
            "value", np.ones(len(far.data.vertices), np.float32))
        far.parent = near
        set_part_of(far, near)  # one terrain instance in the ground truth
    return near, WorldSampler(world)


def far_object(near):
    """The far-field child of a terrain built by :func:`build`, or None."""
    return next((c for c in near.children if c.name.startswith(f"{near.name}_far")), None)


def _mesh_object(name: str, verts: np.ndarray, faces: list, collection):
    import bpy

    mesh = bpy.data.meshes.new(name)
    sizes = np.fromiter((len(f) for f in faces), np.int32, len(faces))
    loops = np.fromiter((v for f in faces for v in f), np.int32, int(sizes.sum()))
    mesh.vertices.add(len(verts))
    mesh.vertices.foreach_set("co", np.asarray(verts, np.float32).ravel())
    mesh.loops.add(len(loops))
    mesh.loops.foreach_set("vertex_index", loops)
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32))
    mesh.polygons.foreach_set("loop_total", sizes)
    mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), bool))
    mesh.update(calc_edges=True)
    mesh.validate()
    obj = bpy.data.objects.new(name, mesh)
    (collection or bpy.context.scene.collection).objects.link(obj)
    return obj


def near_face_centres(obj, params: TerrainParams) -> np.ndarray:
    """World-space centres (m) of the near grid's faces, in face order."""
    n_near = (params.resolution - 1) ** 2
    centres = np.empty(len(obj.data.polygons) * 3, np.float32)
    obj.data.polygons.foreach_get("center", centres)
    return centres.reshape(-1, 3)[:n_near].astype(np.float64) + np.asarray(obj.location, float)


def set_face_mask(obj, name: str, near_values: np.ndarray) -> None:
    """Face attribute ``name``: ``near_values`` (0/1) on the near grid's faces (and 0 on any face
    after them)."""
    values = np.zeros(len(obj.data.polygons), np.float32)
    values[: len(near_values)] = near_values
    attr = obj.data.attributes.get(name) or obj.data.attributes.new(name, "FLOAT", "FACE")
    attr.data.foreach_set("value", values)
